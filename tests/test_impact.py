"""Impact analysis through the API: propagation rules, redundancy, paths, agreements, limits."""

from __future__ import annotations

from typing import Any

import pytest

from domain.access import SYSTEM
from graphdb.write_path import Store, UnitOfWork
from tests.conftest import Api
from tests.test_import import run_import

IMPACT = """query($id: ID!, $dir: ImpactDirection!, $depth: Int!, $types: [String!], $max: Int!) {
  impact(ciId: $id, direction: $dir, maxDepth: $depth, relationshipTypes: $types, maxResults: $max) {
    root { name }
    affected { depth reason ci { name } paths { sourceId type targetId } }
    spared { ci { name } reason redundancyGroup members up minUp }
    services { name } slas { name } customers { name }
  }
}"""


@pytest.fixture
def shop(api: Api, store: Store) -> dict[str, str]:
    """A shop whose app runs on a redundant pair of VMs, spread over two hosts on one switch."""
    items = [
        ("shop", "Service"),
        ("app", "Application"),
        ("db", "Database"),
        ("replica", "Database"),
        ("vm1", "VirtualMachine"),
        ("vm2", "VirtualMachine"),
        ("vm3", "VirtualMachine"),
        ("host1", "Server"),
        ("host2", "Server"),
        ("switch", "NetworkDevice"),
        ("runbook", "Document"),
        ("node1", "Container"),
        ("cluster", "Container"),
    ]
    rels = [
        ("shop", "DEPENDS_ON", "app", {}),
        ("app", "RUNS_ON", "vm1", {"redundancyGroup": "web", "minUp": 1}),
        ("app", "RUNS_ON", "vm2", {"redundancyGroup": "web", "minUp": 1}),
        ("app", "DEPENDS_ON", "db", {}),
        ("db", "RUNS_ON", "vm3", {}),
        ("db", "SYNCS_WITH", "replica", {}),
        ("vm1", "HOSTED_ON", "host1", {}),
        ("vm3", "HOSTED_ON", "host1", {}),
        ("vm2", "HOSTED_ON", "host2", {}),
        ("host1", "CONNECTS_TO", "switch", {}),
        ("host2", "CONNECTS_TO", "switch", {}),
        ("app", "DOCUMENTED_BY", "runbook", {}),
        ("node1", "PART_OF", "cluster", {}),
    ]
    result = run_import(
        api,
        "test",
        [{"key": k, "ciClass": c, "name": k} for k, c in items],
        [{"sourceKey": s, "type": t, "targetKey": d, "attributes": a} for s, t, d, a in rels],
    )
    assert result["rejected"] == 0 and all(r["error"] is None for r in result["relationships"])
    ids = {i["key"]: i["ciId"] for i in result["items"]}

    def agreements(uow: UnitOfWork) -> None:
        sla = uow.create("SLA", {"name": "Shop Gold"})["id"]
        customer = uow.create("Customer", {"name": "Retail"})["id"]
        uow.link("SLA", sla, "COVERS", "CI", ids["shop"])
        uow.link("SLA", sla, "AGREED_WITH", "Customer", customer)

    store.write(SYSTEM, agreements)
    return ids


def impact(
    api: Api,
    ci_id: str,
    *,
    direction: str = "DOWNSTREAM",
    depth: int = 6,
    types: list[str] | None = None,
    max_results: int = 5000,
) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(
        IMPACT, {"id": ci_id, "dir": direction, "depth": depth, "types": types, "max": max_results}
    )["impact"]
    return result


def names(result: dict[str, Any]) -> dict[str, int]:
    return {a["ci"]["name"]: a["depth"] for a in result["affected"]}


def test_one_vm_of_a_redundant_pair_spares_the_app_and_says_why(
    api: Api, shop: dict[str, str]
) -> None:
    result = impact(api, shop["vm1"])
    assert names(result) == {}
    assert result["spared"] == [
        {
            "ci": {"name": "app"},
            "redundancyGroup": "web",
            "members": 2,
            "up": 1,
            "minUp": 1,
            "reason": "redundancy group 'web' keeps it up: 1 of 2 members up, 1 needed",
        }
    ]
    assert result["services"] == [] and result["slas"] == []


def test_a_host_failure_travels_through_the_database_to_the_service(
    api: Api, shop: dict[str, str]
) -> None:
    result = impact(api, shop["host1"])
    assert names(result) == {
        "vm1": 1,
        "vm3": 1,
        "db": 2,
        "replica": 3,
        "app": 3,
        "shop": 4,
    }
    app = next(a for a in result["affected"] if a["ci"]["name"] == "app")
    assert app["reason"] == "DEPENDS_ON a failed CI"
    assert app["paths"] == [
        [
            {"sourceId": shop["vm3"], "type": "HOSTED_ON", "targetId": shop["host1"]},
            {"sourceId": shop["db"], "type": "RUNS_ON", "targetId": shop["vm3"]},
            {"sourceId": shop["app"], "type": "DEPENDS_ON", "targetId": shop["db"]},
        ]
    ]
    assert result["services"] == [{"name": "shop"}]
    assert result["slas"] == [{"name": "Shop Gold"}]
    assert result["customers"] == [{"name": "Retail"}]
    assert "runbook" not in names(result)  # DOCUMENTED_BY carries no failure


def test_losing_every_member_of_the_group_takes_the_app_down(
    api: Api, shop: dict[str, str]
) -> None:
    result = impact(
        api, shop["switch"], types=["CONNECTS_TO", "HOSTED_ON", "RUNS_ON", "DEPENDS_ON"]
    )
    affected = names(result)
    assert affected["host1"] == 1 and affected["host2"] == 1
    assert affected["vm1"] == 2 and affected["vm2"] == 2
    assert affected["app"] == 3 and affected["shop"] == 4
    app = next(a for a in result["affected"] if a["ci"]["name"] == "app")
    assert app["reason"] == "redundancy group 'web' exhausted: 0 of 2 up, 1 needed"
    assert result["spared"] == []


def test_both_way_and_part_of_propagation(api: Api, shop: dict[str, str]) -> None:
    assert names(impact(api, shop["replica"])) == {"db": 1, "app": 2, "shop": 3}
    assert names(impact(api, shop["node1"])) == {"cluster": 1}
    assert names(impact(api, shop["cluster"])) == {}


def test_depth_and_type_filters(api: Api, shop: dict[str, str]) -> None:
    assert names(impact(api, shop["host1"], depth=1)) == {"vm1": 1, "vm3": 1}
    assert names(impact(api, shop["host1"], types=["HOSTED_ON"])) == {"vm1": 1, "vm3": 1}


def test_dependencies_list_what_a_service_needs(api: Api, shop: dict[str, str]) -> None:
    result = impact(api, shop["shop"], direction="UPSTREAM")
    assert names(result) == {
        "app": 1,
        "vm1": 2,
        "vm2": 2,
        "db": 2,
        "vm3": 3,
        "replica": 3,
        "host1": 3,
        "host2": 3,
        "switch": 4,
    }
    vm1 = next(a for a in result["affected"] if a["ci"]["name"] == "vm1")
    assert "redundancy group 'web'" in vm1["reason"]
    assert vm1["paths"] == [
        [
            {"sourceId": shop["shop"], "type": "DEPENDS_ON", "targetId": shop["app"]},
            {"sourceId": shop["app"], "type": "RUNS_ON", "targetId": shop["vm1"]},
        ]
    ]
    same = api.ok(
        "query($id: ID!) { dependencies(ciId: $id) { affected { ci { name } } } }",
        {"id": shop["shop"]},
    )["dependencies"]
    assert {a["ci"]["name"] for a in same["affected"]} == set(names(result))


def test_limits_are_explicit_errors(api: Api, shop: dict[str, str]) -> None:
    too_deep = api.post(
        IMPACT, {"id": shop["host1"], "dir": "DOWNSTREAM", "depth": 11, "max": 10}
    ).json()
    assert too_deep["errors"][0]["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "field": "maxDepth",
        "limit": 10,
    }
    too_many = api.post(
        IMPACT, {"id": shop["host1"], "dir": "DOWNSTREAM", "depth": 6, "max": 2}
    ).json()
    assert too_many["errors"][0]["extensions"]["field"] == "maxResults"
    assert "lower maxDepth" in too_many["errors"][0]["message"]
    unknown = api.post(IMPACT, {"id": "nope", "dir": "DOWNSTREAM", "depth": 3, "max": 10}).json()
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad_type = api.post(
        IMPACT, {"id": shop["host1"], "dir": "DOWNSTREAM", "depth": 3, "max": 10, "types": ["NOPE"]}
    ).json()
    assert bad_type["errors"][0]["extensions"]["field"] == "relationshipTypes"
