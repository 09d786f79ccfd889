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
                        "phrase": "balances",
                        "inverse": "is balanced by",
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
    reason = impact(api, lb)["affected"][0]["reason"]
    assert reason == "is balanced by renamed, which failed"
    wrong = run_import(
        api, "netops", [{"ciClass": "LoadBalancer", "name": "x", "attributes": {"colour": "red"}}]
    )
    assert wrong["items"][0]["error"]["reason"] == "attribute_not_allowed"


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        cmdb.extend_registry({"classes": {"load balancer": {}}})
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        cmdb.extend_registry({"relationshipTypes": {"balances": {}}})


def test_end_user_devices_printers_and_monitors_are_identified_related_and_impacted(
    api: Api,
) -> None:
    first = run_import(
        api,
        "asset-register",
        [
            {
                "key": "pc",
                "ciClass": "Desktop",
                "name": "WS-0042",
                "attributes": {
                    "serialNumber": "CZC1234",
                    "assetTag": "A-0042",
                    "model": "EliteDesk 800 G9",
                    "assignedUser": "j.doe",
                    "location": "Berlin, 3rd floor",
                    "sourceType": "Workstation",
                },
            },
            {
                "key": "screen",
                "ciClass": "Monitor",
                "name": "MON-0042",
                "attributes": {"assetTag": "A-1042", "sizeInches": 27},
            },
            {
                "key": "prn",
                "ciClass": "Printer",
                "name": "PRN-3F",
                "attributes": {"serialNumber": "VNB3K", "ip": "10.3.0.20"},
            },
            {
                "key": "phone",
                "ciClass": "MobilePhone",
                "name": "MOB-7",
                "attributes": {"imei": "35"},
            },
            {"key": "lap", "ciClass": "Laptop", "name": "NB-7", "attributes": {"assetTag": "A-7"}},
            {"key": "tc", "ciClass": "ThinClient", "name": "TC-1"},
            {
                "key": "dock",
                "ciClass": "Hardware",
                "name": "DOCK-7",
                "attributes": {"kind": "dock"},
            },
            {"key": "sw", "ciClass": "NetworkDevice", "name": "access-sw-3f"},
        ],
        [
            {"sourceKey": "screen", "type": "ATTACHED_TO", "targetKey": "pc"},
            {"sourceKey": "dock", "type": "ATTACHED_TO", "targetKey": "lap"},
            {"sourceKey": "prn", "type": "CONNECTS_TO", "targetKey": "sw"},
            {"sourceKey": "pc", "type": "CONNECTS_TO", "targetKey": "sw"},
            {"sourceKey": "tc", "type": "CONNECTS_TO", "targetKey": "sw"},
            {"sourceKey": "screen", "type": "ATTACHED_TO", "targetKey": "prn"},
        ],
    )
    assert first["created"] == 8 and first["rejected"] == 0
    statuses = [r["status"] for r in first["relationships"]]
    assert statuses == ["CREATED"] * 5 + ["REJECTED"]
    assert first["relationships"][5]["error"]["reason"] == "relationship_not_allowed"
    ids = {i["key"]: i["ciId"] for i in first["items"]}

    # Renamed by discovery, found by serial number; the serial itself stays the register's.
    renamed = run_import(
        api,
        "discovery",
        [
            {
                "ciClass": "Desktop",
                "name": "ws-0042.corp.example",
                "attributes": {"serialNumber": "CZC1234", "os": "Windows 11"},
            },
            {"ciClass": "Monitor", "name": "DELL U2723QE", "attributes": {"assetTag": "a-1042 "}},
            {
                "ciClass": "Laptop",
                "name": "NB-7",
                "attributes": {"assetTag": "A-7-WRONG", "sourceType": "Notebook"},
            },
        ],
    )
    assert [i["ciId"] for i in renamed["items"]] == [ids["pc"], ids["screen"], ids["lap"]]
    assert renamed["items"][2]["skippedAttributes"] == ["assetTag"]
    laptop = renamed["items"][2]
    assert laptop["changedAttributes"] == ["sourceType"]
    pc = api.ok("query($id: ID!) { ci(id: $id) { name attributes } }", {"id": ids["pc"]})["ci"]
    assert pc["name"] == "ws-0042.corp.example"
    assert pc["attributes"]["assignedUser"] == "j.doe"
    assert pc["attributes"]["sourceType"] == "Workstation"
    assert pc["attributes"]["os"] == "Windows 11"

    assert names(impact(api, ids["sw"])) == {
        "PRN-3F": 1,
        "ws-0042.corp.example": 1,
        "TC-1": 1,
        "DELL U2723QE": 2,
    }
    assert names(impact(api, ids["lap"])) == {"DOCK-7": 1}
    assert names(impact(api, ids["phone"])) == {}
