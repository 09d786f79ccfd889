"""Impact analysis through the API: propagation rules, redundancy, paths, agreements, limits."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from core.access import SYSTEM
from core.ids import record_id
from graphdb.write_path import Store, UnitOfWork
from tests import impact_reference as reference
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
        sla = uow.create("SLA", {"name": "Shop Gold", "state": "active"})["id"]
        old = uow.create("SLA", {"name": "Shop Silver", "state": "retired"})["id"]
        customer = uow.create("Customer", {"name": "Retail", "state": "active"})["id"]
        for agreement in (sla, old):  # a retired SLA is kept, but no longer at risk
            uow.link("SLA", agreement, "COVERS", "CI", record_id(ids["shop"], "CI"))
            uow.link("SLA", agreement, "AGREED_WITH", "Customer", customer)

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
    assert app["reason"] == "depends on db, which failed"
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


def reasons(result: dict[str, Any]) -> dict[str, str]:
    return {a["ci"]["name"]: a["reason"] for a in result["affected"]}


def test_every_reason_is_told_from_the_affected_ci_side(api: Api, shop: dict[str, str]) -> None:
    assert reasons(impact(api, shop["node1"])) == {"cluster": "is made up of node1, which failed"}
    assert reasons(impact(api, shop["replica"])) == {
        "db": "syncs with replica, which failed",
        "app": "depends on db, which failed",
        "shop": "depends on app, which failed",
    }
    assert reasons(impact(api, shop["db"]))["replica"] == "syncs with db, which failed"
    from_host = reasons(impact(api, shop["host1"]))
    assert from_host["vm3"] == "is hosted on host1, which failed"
    assert from_host["db"] == "runs on vm3, which failed"
    from_switch = reasons(impact(api, shop["switch"]))
    assert from_switch["host1"] == "connects to switch, which failed"
    needs = reasons(impact(api, shop["shop"], direction="UPSTREAM"))
    assert needs["app"] == "is needed by shop"
    assert needs["vm3"] == "runs db"
    assert needs["host2"] == "hosts vm2"
    assert needs["switch"] in ("connects host1", "connects host2")
    assert needs["vm1"] == "runs app (redundancy group 'web', 1 needed)"


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


def random_estate(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Applications and databases tangled at random: plain, grouped, both-way and part-of links,
    cycles included, with groups of two or three needing one or two members up."""
    rng = random.Random(seed)
    apps = [f"a{i}" for i in range(48)]
    dbs = [f"d{i}" for i in range(16)]
    items = [{"key": k, "ciClass": "Application", "name": k} for k in apps]
    items += [{"key": k, "ciClass": "Database", "name": k} for k in dbs]
    everyone = apps + dbs
    rels: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _ in range(110):
        s, t = rng.sample(everyone, 2)
        rels[(s, "DEPENDS_ON", t)] = {}
    for n in range(20):
        dependant = rng.choice(everyone)
        members = rng.sample([c for c in everyone if c != dependant], rng.choice([2, 3]))
        min_up = rng.choice([1, 1, 2]) if len(members) == 3 else 1
        for m in members:
            rels[(dependant, "DEPENDS_ON", m)] = {"redundancyGroup": f"g{n}", "minUp": min_up}
    for _ in range(15):
        s, t = rng.sample(everyone, 2)
        rels.setdefault((s, "PART_OF", t), {})
    for _ in range(8):
        s, t = rng.sample(dbs, 2)
        rels.setdefault((s, "SYNCS_WITH", t), {})
    return items, [
        {"sourceKey": s, "type": t, "targetKey": d, "attributes": a}
        for (s, t, d), a in rels.items()
    ]


BARE_IMPACT = """query($id: ID!, $dir: ImpactDirection!, $depth: Int!) {
  impact(ciId: $id, direction: $dir, maxDepth: $depth, maxResults: 1000) {
    affected { depth ci { name } }
    spared { ci { name } reason }
  }
}"""


def test_answers_match_the_one_hop_at_a_time_model_on_random_graphs(api: Api) -> None:
    items, rels = random_estate(seed=7)
    result = run_import(api, "test", items, rels)
    assert result["rejected"] == 0 and all(r["error"] is None for r in result["relationships"])
    ids = {i["key"]: i["ciId"] for i in result["items"]}
    name_of = {v: k for k, v in ids.items()}
    edges = [
        reference.Edge(ids[r["sourceKey"]], r["type"], ids[r["targetKey"]], r["attributes"])
        for r in rels
    ]

    def read_edges(wanted: Sequence[str], types: Sequence[str]) -> list[reference.Edge]:
        return [e for e in edges if e.type in types and (e.source in wanted or e.target in wanted)]

    groups_exhausted = spared_seen = 0
    for key in random.Random(11).sample(sorted(ids), 14):
        for direction, depth in (("DOWNSTREAM", 2), ("DOWNSTREAM", 6), ("UPSTREAM", 4)):
            expected = reference.analyse(
                ids[key],
                read_edges,
                direction=reference.Direction(direction.lower()),
                max_depth=depth,
                relationship_types=None,
                max_results=1000,
            )
            label = f"{direction} from {key} at depth {depth}"
            got = impact(api, ids[key], direction=direction, depth=depth, max_results=1000)
            want_depths = {name_of[r.ci_id]: r.depth for r in expected.reached}
            assert names(got) == want_depths, label
            assert sorted(
                (s["ci"]["name"], s["redundancyGroup"], s["members"], s["up"], s["minUp"])
                for s in got["spared"]
            ) == sorted(
                (name_of[s.ci_id], s.group, s.members, s.up, s.min_up) for s in expected.spared
            ), label
            bare = api.ok(BARE_IMPACT, {"id": ids[key], "dir": direction, "depth": depth})
            assert names(bare["impact"]) == want_depths, label
            assert len(bare["impact"]["spared"]) == len(expected.spared), label

            by_name = {name_of[r.ci_id]: r for r in expected.reached}
            for a in got["affected"]:
                want = by_name[a["ci"]["name"]]
                through_group = direction == "DOWNSTREAM" and want.reason.startswith("redundancy")
                if through_group:
                    assert a["reason"] == want.reason, label
                    groups_exhausted += 1
                else:
                    # Told from the affected CI's side, naming a CI it needs that failed (or,
                    # upstream, a CI that needs it).
                    parents = {name_of[p] for p, _ in want.parents}
                    named = a["reason"].removesuffix(", which failed").split(" (")[0]
                    assert named.rsplit(" ", 1)[-1] in parents, (label, a["reason"])
                    assert a["reason"].endswith(", which failed") == (direction == "DOWNSTREAM")
                assert a["paths"], label
                for path in a["paths"]:
                    # An exhausted group falls with its last member, but a path runs through
                    # one member, which may have failed earlier: then the path is shorter.
                    assert 1 <= len(path) <= a["depth"], label
                    here = ids[key]
                    for step in path:
                        assert here in (step["sourceId"], step["targetId"]), label
                        here = step["targetId"] if step["sourceId"] == here else step["sourceId"]
                    assert name_of[here] == a["ci"]["name"], label
            spared_seen += len(got["spared"])
    # The graph must exercise the redundancy rules, or this test proves little.
    assert groups_exhausted > 0 and spared_seen > 0


def test_the_answer_shows_whatever_ci_fields_are_asked_for(api: Api, shop: dict[str, str]) -> None:
    """Only the properties a query selects are read; a wider selection still gets all of them."""
    api.ok(
        "mutation($id: ID!) { updateCi(input: {id: $id, version: 1, criticality: HIGH, "
        'owner: "dba team", attributes: {engine: "PostgreSQL 16"}}) { ci { version } } }',
        {"id": shop["db"]},
    )
    narrow = api.ok(
        "query($id: ID!) { impact(ciId: $id) { affected { ci { name criticality owner } } } }",
        {"id": shop["vm3"]},
    )["impact"]
    db = next(a["ci"] for a in narrow["affected"] if a["ci"]["name"] == "db")
    assert db == {"name": "db", "criticality": "HIGH", "owner": "dba team"}
    wide = api.ok(
        "query($id: ID!) { impact(ciId: $id) { affected { ci { ...whole } } } }"
        " fragment whole on CI { name attributes version updatedAt }",
        {"id": shop["vm3"]},
    )["impact"]
    db = next(a["ci"] for a in wide["affected"] if a["ci"]["name"] == "db")
    assert db["attributes"] == {"engine": "PostgreSQL 16"}
    assert db["version"] == 2 and db["updatedAt"] is not None


PATH = """query($a: ID!, $b: ID!, $types: [String!], $dir: PathDirection) {
  path(fromId: $a, toId: $b, relationshipTypes: $types, direction: $dir) {
    sourceId type targetId forward
  }
}"""


def path(
    api: Api, a: str, b: str, direction: str | None = None, types: list[str] | None = None
) -> list[dict[str, Any]] | None:
    way = {"dir": direction} if direction else {}  # left out: the default
    found: list[dict[str, Any]] | None = api.ok(PATH, {"a": a, "b": b, "types": types, **way})[
        "path"
    ]
    return found


def test_a_directed_path_follows_the_way_a_failure_travels(api: Api, shop: dict[str, str]) -> None:
    # vm1 and vm3 share host1, but neither failing touches the other.
    between_vms = path(api, shop["vm1"], shop["vm3"], types=["HOSTED_ON"])
    assert between_vms == [
        {"sourceId": shop["vm1"], "type": "HOSTED_ON", "targetId": shop["host1"], "forward": True},
        {"sourceId": shop["vm3"], "type": "HOSTED_ON", "targetId": shop["host1"], "forward": False},
    ]
    assert path(api, shop["vm1"], shop["vm3"], "DOWNSTREAM", ["HOSTED_ON"]) is None
    assert path(api, shop["vm1"], shop["vm3"], "ANY", ["HOSTED_ON"]) == between_vms

    # The database's failure reaches the service against every relationship's direction.
    down = path(api, shop["db"], shop["shop"], "DOWNSTREAM")
    assert down == [
        {"sourceId": shop["app"], "type": "DEPENDS_ON", "targetId": shop["db"], "forward": False},
        {"sourceId": shop["shop"], "type": "DEPENDS_ON", "targetId": shop["app"], "forward": False},
    ]
    assert path(api, shop["shop"], shop["db"], "DOWNSTREAM") is None
    up = path(api, shop["shop"], shop["db"], "UPSTREAM")
    assert up is not None and [s["forward"] for s in up] == [True, True]
    # PART_OF carries a failure from the part to the whole; documentation carries none.
    assert path(api, shop["node1"], shop["cluster"], "DOWNSTREAM") == [
        {"sourceId": shop["node1"], "type": "PART_OF", "targetId": shop["cluster"], "forward": True}
    ]
    assert path(api, shop["cluster"], shop["node1"], "DOWNSTREAM") is None
    assert path(api, shop["runbook"], shop["app"], "DOWNSTREAM") is None
    assert path(api, shop["runbook"], shop["app"]) is not None

    # Impact paths say the same of each step.
    walked = api.ok(
        "query($id: ID!) { impact(ciId: $id) { affected { ci { name } "
        "paths { sourceId type targetId forward } } } }",
        {"id": shop["db"]},
    )["impact"]
    app = next(a for a in walked["affected"] if a["ci"]["name"] == "app")
    assert app["paths"] == [
        [{"sourceId": shop["app"], "type": "DEPENDS_ON", "targetId": shop["db"], "forward": False}]
    ]


SUBGRAPH = """query($id: ID!, $max: Int!) {
  subgraph(ciId: $id, depth: 2, maxNodes: $max) { nodes { name } truncated omittedNodes }
}"""


def test_a_subgraph_cut_by_max_nodes_says_how_much_it_left_out(
    api: Api, shop: dict[str, str]
) -> None:
    # Within two hops of app: shop, vm1, vm2, db, runbook, host1, host2, vm3, replica.
    whole = api.ok(SUBGRAPH, {"id": shop["app"], "max": 100})["subgraph"]
    assert len(whole["nodes"]) == 10
    assert (whole["truncated"], whole["omittedNodes"]) == (False, 0)
    exact = api.ok(SUBGRAPH, {"id": shop["app"], "max": 10})["subgraph"]
    assert (len(exact["nodes"]), exact["truncated"], exact["omittedNodes"]) == (10, False, 0)
    cut = api.ok(SUBGRAPH, {"id": shop["app"], "max": 4})["subgraph"]
    assert (len(cut["nodes"]), cut["truncated"], cut["omittedNodes"]) == (4, True, 6)
    alone = api.ok(SUBGRAPH, {"id": shop["app"], "max": 1})["subgraph"]
    assert alone["nodes"] == [{"name": "app"}]
    assert (alone["truncated"], alone["omittedNodes"]) == (True, 9)
