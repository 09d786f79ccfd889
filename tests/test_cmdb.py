"""CIs and relationships through the API: rules, retirement, search, paging, history, drawing."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ValidationFailed
from domain import cmdb
from graphdb.cypher import ci as ci_cypher
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_import import run_import

REGISTER = """mutation($input: RegisterCIInput!) {
  registerCi(input: $input) { id name ciClass version lifecycle }
}"""
RELATE = """mutation($input: RelateCIsInput!) {
  relateCis(input: $input) { type source { name } target { name } }
}"""


def ci(api: Api, name: str, ci_class: str, **attrs: Any) -> dict[str, Any]:
    created: dict[str, Any] = api.ok(
        REGISTER, {"input": {"ciClass": ci_class, "name": name, "attributes": attrs}}
    )["registerCi"]
    return created


def relate(api: Api, source: str, type_: str, target: str, **attrs: Any) -> dict[str, Any]:
    return api.post(
        RELATE,
        {"input": {"sourceId": source, "type": type_, "targetId": target, "attributes": attrs}},
    ).json()


def error_of(body: dict[str, Any]) -> tuple[str, str, str]:
    ext = body["errors"][0]["extensions"]
    return ext["code"], ext.get("field"), ext.get("reason")


def test_relationship_rules_are_enforced_with_typed_errors(api: Api) -> None:
    app = ci(api, "checkout", "Application")
    db = ci(api, "orders-db", "Database")
    doc = ci(api, "runbook", "Document")

    assert (
        relate(api, app["id"], "DEPENDS_ON", db["id"])["data"]["relateCis"]["type"] == "DEPENDS_ON"
    )
    assert error_of(relate(api, app["id"], "DEPENDS_ON", db["id"])) == (
        "BAD_USER_INPUT",
        "type",
        "duplicate",
    )
    assert error_of(relate(api, app["id"], "DEPENDS_ON", app["id"])) == (
        "BAD_USER_INPUT",
        "targetId",
        "self_loop",
    )
    assert error_of(relate(api, app["id"], "HOSTED_ON", doc["id"])) == (
        "BAD_USER_INPUT",
        "type",
        "relationship_not_allowed",
    )
    assert error_of(relate(api, app["id"], "FLIES_TO", db["id"])) == (
        "BAD_USER_INPUT",
        "type",
        "unknown_relationship_type",
    )
    assert error_of(relate(api, app["id"], "DEPENDS_ON", "missing")) == (
        "NOT_FOUND",
        "targetId",
        None,
    )
    assert error_of(relate(api, app["id"], "DEPENDS_ON", doc["id"], minUp=2)) == (
        "BAD_USER_INPUT",
        "attributes.minUp",
        "needs_group",
    )

    retired = api.ok(
        "mutation($id: ID!) { retireCi(id: $id, version: 1) { lifecycle version } }",
        {"id": doc["id"]},
    )["retireCi"]
    assert retired == {"lifecycle": "retired", "version": 2}
    assert error_of(relate(api, app["id"], "DOCUMENTED_BY", doc["id"])) == (
        "BAD_USER_INPUT",
        "targetId",
        "retired_target",
    )

    removed = api.ok(
        'mutation($s: ID!, $t: ID!) { unrelateCis(sourceId: $s, type: "DEPENDS_ON", targetId: $t) }',
        {"s": app["id"], "t": db["id"]},
    )
    assert removed == {"unrelateCis": True}
    history = api.ok("query($id: ID!) { ci(id: $id) { history { action } } }", {"id": app["id"]})
    assert [h["action"] for h in history["ci"]["history"]] == ["unrelate", "relate", "create"]


def test_identification_rejects_a_second_ci_with_the_same_serial(api: Api) -> None:
    ci(api, "esx-01", "Server", serialNumber="SN-1")
    body = api.post(
        REGISTER,
        {"input": {"ciClass": "Server", "name": "esx-99", "attributes": {"serialNumber": "sn-1 "}}},
    ).json()
    assert error_of(body) == ("BAD_USER_INPUT", "serialNumber", "duplicate")
    assert "esx-01" in body["errors"][0]["message"]


def test_relationships_are_paged_connections_by_type_and_direction(api: Api) -> None:
    app = ci(api, "shop-api", "Application")
    dbs = [ci(api, f"db-{i}", "Database") for i in range(5)]
    vm = ci(api, "vm-1", "VirtualMachine", fqdn="vm-1.example")
    for db in dbs:
        relate(api, app["id"], "DEPENDS_ON", db["id"])
    relate(api, app["id"], "RUNS_ON", vm["id"], redundancyGroup="app", minUp=1)

    query = """query($id: ID!, $after: String) { ci(id: $id) {
      relationships(direction: OUTGOING, types: ["DEPENDS_ON"], first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { type direction source ci { name } } } } } }"""
    names: list[str] = []
    after = None
    while True:
        page = api.ok(query, {"id": app["id"], "after": after})["ci"]["relationships"]
        assert page["totalCount"] == 5
        names += [e["node"]["ci"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == [f"db-{i}" for i in range(5)]

    incoming = api.ok(
        """query($id: ID!) { ci(id: $id) { relationships(direction: INCOMING) {
             edges { node { type direction attributes ci { name } } } } } }""",
        {"id": vm["id"]},
    )["ci"]["relationships"]["edges"]
    assert incoming == [
        {
            "node": {
                "type": "RUNS_ON",
                "direction": "INCOMING",
                "attributes": {"redundancyGroup": "app", "minUp": 1},
                "ci": {"name": "shop-api"},
            }
        }
    ]


def test_search_filters_full_text_sorting_and_cursor_paging(api: Api) -> None:
    for i in range(7):
        ci(
            api,
            f"web-{i:02d}",
            "VirtualMachine",
            fqdn=f"web-{i}.shop",
            os="Debian 12" if i % 2 else "RHEL 9",
        )
    ci(api, "orders-db", "Database")
    query = """query($f: CIFilter, $o: CIOrder, $after: String) {
      cis(filter: $f, orderBy: $o, first: 3, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""

    def all_names(f: dict[str, Any], o: dict[str, Any] | None = None) -> tuple[int, list[str]]:
        names: list[str] = []
        after = None
        while True:
            page = api.ok(query, {"f": f, "o": o, "after": after})["cis"]
            names += [e["node"]["name"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return page["totalCount"], names
            after = page["pageInfo"]["endCursor"]

    assert all_names({"ciClass": "VirtualMachine", "attributes": {"os": "Debian 12"}}) == (
        3,
        ["web-01", "web-03", "web-05"],
    )
    total, names = all_names({"ciClass": "VirtualMachine"}, {"field": "NAME", "direction": "DESC"})
    assert total == 7 and names == [f"web-{i:02d}" for i in reversed(range(7))]
    assert all_names({"search": "orders"}) == (1, ["orders-db"])
    assert all_names({"search": "web"})[0] == 7
    by_creation = all_names({}, {"field": "CREATED_AT", "direction": "ASC"})[1]
    assert by_creation == [f"web-{i:02d}" for i in range(7)] + ["orders-db"]
    bad = api.post(query, {"f": {"lifecycle": "zombie"}}).json()
    assert error_of(bad) == ("BAD_USER_INPUT", "filter.lifecycle", "unknown_lifecycle")


def test_path_and_subgraph_export(api: Api) -> None:
    svc = ci(api, "Online Shop", "Service")
    app = ci(api, "checkout", "Application")
    db = ci(api, "orders-db", "Database")
    relate(api, svc["id"], "DEPENDS_ON", app["id"])
    relate(api, app["id"], "DEPENDS_ON", db["id"])

    path = api.ok(
        "query($a: ID!, $b: ID!) { path(fromId: $a, toId: $b) { sourceId type targetId } }",
        {"a": db["id"], "b": svc["id"]},
    )["path"]
    assert [(p["sourceId"], p["targetId"]) for p in path] == [
        (app["id"], db["id"]),
        (svc["id"], app["id"]),
    ]

    sub = api.ok(
        "query($id: ID!) { subgraph(ciId: $id, depth: 2) { nodes { name } edges { type } json dot mermaid } }",
        {"id": app["id"]},
    )["subgraph"]
    assert sorted(n["name"] for n in sub["nodes"]) == ["Online Shop", "checkout", "orders-db"]
    assert len(sub["json"]["edges"]) == 2
    assert sub["dot"].startswith("digraph cmdb {") and "DEPENDS_ON" in sub["dot"]
    assert sub["dot"].count("->") == 2
    assert sub["mermaid"].startswith("graph LR") and sub["mermaid"].count("-->|DEPENDS_ON|") == 2

    too_deep = api.post(
        "query($id: ID!) { subgraph(ciId: $id, depth: 9) { dot } }", {"id": app["id"]}
    )
    assert error_of(too_deep.json()) == ("LIMIT_EXCEEDED", "depth", None)


def test_history_records_every_change_of_a_ci(api: Api, store: Store) -> None:
    db = ci(api, "orders-db", "Database", engine="PostgreSQL 15")
    api.ok(
        'mutation($id: ID!) { updateCi(input: {id: $id, version: 1, attributes: {engine: "PostgreSQL 16"}}) { version } }',
        {"id": db["id"]},
    )
    history = api.ok(
        "query($id: ID!) { ci(id: $id) { history { action actor before after } } }",
        {"id": db["id"]},
    )["ci"]["history"]
    assert history[0]["before"] == {"attributes.engine": "PostgreSQL 15"}
    assert history[0]["after"] == {"attributes.engine": "PostgreSQL 16"}
    assert history[0]["actor"] == "test agent"


def storage_names(values: Any) -> list[str]:
    """Every key in an audit before/after that is a storage name rather than a user's one."""
    if isinstance(values, dict):
        own = [k for k in values if k.startswith(("attr_", "src_"))]
        return own + [n for v in values.values() for n in storage_names(v)]
    if isinstance(values, list):
        return [n for v in values for n in storage_names(v)]
    return []


def test_history_names_attributes_and_sources_as_users_know_them(api: Api) -> None:
    imported = run_import(
        api,
        "discovery",
        [
            {"key": "h", "ciClass": "Server", "name": "esx-01", "attributes": {"os": "ESXi 8"}},
            {"key": "v", "ciClass": "VirtualMachine", "name": "vm-01"},
        ],
        [{"sourceKey": "v", "type": "HOSTED_ON", "targetKey": "h"}],
    )
    host, vm = (i["ciId"] for i in imported["items"])
    run_import(
        api,
        "discovery",
        [
            {
                "ciClass": "Server",
                "name": "esx-01",
                "description": "ESX host",
                "attributes": {"os": "ESXi 8u3"},
            }
        ],
    )
    db = ci(api, "orders-db", "Database", engine="PostgreSQL 16")
    relate(api, db["id"], "RUNS_ON", host)
    query = "query($id: ID!) { ci(id: $id) { history { action before after } } }"
    entries = [e for i in (host, vm, db["id"]) for e in api.ok(query, {"id": i})["ci"]["history"]]
    assert {e["action"] for e in entries} == {"create", "update", "relate"}
    assert [n for e in entries for n in storage_names([e["before"], e["after"]])] == []

    host_history = api.ok(query, {"id": host})["ci"]["history"]
    update, create = host_history
    assert update["before"] == {"attributes.os": "ESXi 8", "description": None}
    assert update["after"] == {
        "attributes.os": "ESXi 8u3",
        "description": "ESX host",
        "source of description": "discovery",
        "source of os": "discovery",
    }
    assert create["after"]["attributes.os"] == "ESXi 8"
    assert create["after"]["source of name"] == "discovery"
    vm_relate = next(
        e for e in api.ok(query, {"id": vm})["ci"]["history"] if e["action"] == "relate"
    )
    assert vm_relate["after"]["relationships"][0]["type"] == "HOSTED_ON"


def test_paging_visits_every_ci_once_in_order_even_among_equal_keys(api: Api) -> None:
    """One import gives its CIs the same creation time: the order falls back to the id, and a
    cursor taken in the middle of such a tie neither repeats nor skips a CI."""
    result = run_import(
        api,
        "test",
        [{"key": f"k{i}", "ciClass": "Server", "name": f"srv-{i:02d}"} for i in range(13)],
    )
    assert result["created"] == 13
    query = """query($o: CIOrder, $after: String) {
      cis(filter: {ciClass: "Server"}, orderBy: $o, first: 5, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { id name createdAt } } } }"""
    for order in (
        {"field": "CREATED_AT", "direction": "ASC"},
        {"field": "CREATED_AT", "direction": "DESC"},
        {"field": "NAME", "direction": "ASC"},
        {"field": "NAME", "direction": "DESC"},
    ):
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            page = api.ok(query, {"o": order, "after": after})["cis"]
            seen += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(seen) == 13 and len({n["id"] for n in seen}) == 13, order
        key = "createdAt" if order["field"] == "CREATED_AT" else "name"
        expected = sorted(
            seen, key=lambda n: (n[key], n["id"]), reverse=order["direction"] == "DESC"
        )
        assert seen == expected, order


SEARCH = "query($s: String!) { cis(filter: {search: $s}) { totalCount edges { node { name } } } }"


def test_a_search_beyond_the_full_text_limits_is_a_typed_error_naming_the_limit(
    api: Api,
) -> None:
    ci(api, "orders-db", "Database")
    cases = [
        ("o" * 1001, "too_long", 1000),
        ("orders " + "x" * 201, "word_too_long", 200),
        (" ".join(f"w{i}" for i in range(33)), "too_many_words", 32),
        (" ".join(f"w{i}" for i in range(1100)), "too_long", 1000),
        ("- AND --", "empty", None),
    ]
    for text, reason, limit in cases:
        body = api.post(SEARCH, {"s": text}).json()
        ext = body["errors"][0]["extensions"]
        assert (ext["code"], ext["field"], ext["reason"], ext.get("limit")) == (
            "BAD_USER_INPUT",
            "filter.search",
            reason,
            limit,
        ), text[:40]
        assert body["errors"][0]["message"] != "Internal server error"
    at_the_limits = [
        "orders " + "o" * 199,
        " ".join(["orders"] * 32),
        "orders " + " ".join(["d"] * 31),
    ]
    for text in at_the_limits:
        assert api.ok(SEARCH, {"s": text})["cis"]["totalCount"] in (0, 1)
    assert api.ok(SEARCH, {"s": " ".join(["orders"] * 32)})["cis"]["totalCount"] == 1


def test_whatever_the_full_text_index_refuses_is_a_typed_error(store: Store) -> None:
    """Bounded input should never reach a Lucene failure; should one come, it is the search's."""

    def read(tx: Any) -> Any:
        return ci_cypher.search(
            tx,
            filters={},
            text="orders AND",  # what fulltext_words never builds: a dangling operator
            order_field="name",
            descending=False,
            after=None,
            limit=5,
        )

    with pytest.raises(ValidationFailed) as refused:
        store.read(cmdb.full_text_errors(read))
    assert (refused.value.field, refused.value.reason) == ("filter.search", "search_not_understood")
