"""CI classes and relationship types can be added by configuration, without code changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain import cmdb
from tests.conftest import Api
from tests.test_impact import impact, names
from tests.test_import import run_import


@pytest.fixture
def extended_registry(tmp_path: Path) -> Iterator[None]:
    classes, types = dict(cmdb.CI_CLASSES), dict(cmdb.RELATIONSHIP_TYPES)
    config = tmp_path / "cmdb.json"
    config.write_text(
        json.dumps(
            {
                "classes": {
                    "LoadBalancer": {
                        "extends": "NetworkDevice",
                        "attributes": ["vip"],
                        "identification": [["vip"], ["name"]],
                    }
                },
                "relationshipTypes": {
                    "BALANCES": {
                        "propagation": "to_target",
                        "sources": ["LoadBalancer"],
                        "targets": ["Application"],
                    }
                },
            }
        )
    )
    cmdb.load_registry_file(str(config))
    try:
        yield
    finally:
        cmdb.CI_CLASSES.clear()
        cmdb.CI_CLASSES.update(classes)
        cmdb.RELATIONSHIP_TYPES.clear()
        cmdb.RELATIONSHIP_TYPES.update(types)


def test_configured_class_and_relationship_type_work_end_to_end(
    api: Api, extended_registry: None
) -> None:
    result = run_import(
        api,
        "netops",
        [
            {
                "key": "lb",
                "ciClass": "LoadBalancer",
                "name": "lb-01",
                "attributes": {"vip": "10.0.0.10", "serialNumber": "LB-1"},
            },
            {"key": "app", "ciClass": "Application", "name": "storefront"},
        ],
        [{"sourceKey": "lb", "type": "BALANCES", "targetKey": "app"}],
    )
    assert result["created"] == 2 and result["relationships"][0]["status"] == "CREATED"
    again = run_import(
        api,
        "netops",
        [{"ciClass": "LoadBalancer", "name": "renamed", "attributes": {"vip": "10.0.0.10"}}],
    )
    assert again["items"][0]["status"] == "UPDATED"  # identified by its VIP
    lb = result["items"][0]["ciId"]
    assert names(impact(api, lb)) == {"storefront": 1}
    wrong = run_import(
        api, "netops", [{"ciClass": "LoadBalancer", "name": "x", "attributes": {"colour": "red"}}]
    )
    assert wrong["items"][0]["error"]["reason"] == "attribute_not_allowed"


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        cmdb.extend_registry({"classes": {"load balancer": {}}})
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        cmdb.extend_registry({"relationshipTypes": {"balances": {}}})
