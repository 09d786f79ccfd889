"""CIs and relationships through the API: rules, retirement, search, paging, history, drawing."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ValidationFailed
from core.ids import record_id, to_global_id
from domain import cmdb
from graphdb.cypher import ci as ci_cypher
from graphdb.write_path import Store
from schema.paging import MAX_PAGE_SIZE
from tests.conftest import Api
from tests.test_import import run_import

REGISTER = """mutation($input: RegisterCIInput!) {
  registerCi(input: $input) {
    ci { id name ciClass version lifecycle } userErrors { code field message }
  }
}"""
RELATE = """mutation($input: RelateCIsInput!) {
  relateCis(input: $input) {
    type source { name } target { name } userErrors { code field message }
  }
}"""


def ci(api: Api, name: str, ci_class: str, **attrs: Any) -> dict[str, Any]:
    created: dict[str, Any] = api.ok(
        REGISTER, {"input": {"ciClass": ci_class, "name": name, "attributes": attrs}}
    )["registerCi"]["ci"]
    return created


def relate(api: Api, source: str, type_: str, target: str, **attrs: Any) -> dict[str, Any]:
    return api.post(
        RELATE,
        {"input": {"sourceId": source, "type": type_, "targetId": target, "attributes": attrs}},
    ).json()


def error_of(body: dict[str, Any]) -> tuple[str, str, str]:
    ext = body["errors"][0]["extensions"]
    return ext["code"], ext.get("field"), ext.get("reason")


def refusal(body: dict[str, Any], mutation: str = "relateCis") -> tuple[str, list[str]]:
    """The one user error of a refused mutation, which must have written nothing."""
    assert "errors" not in body, body
    [error] = body["data"][mutation]["userErrors"]
    return error["code"], error["field"]


def test_relationship_rules_are_enforced_with_typed_errors(api: Api) -> None:
    app = ci(api, "checkout", "Application")
    db = ci(api, "orders-db", "Database")
    doc = ci(api, "runbook", "Document")

    related = relate(api, app["id"], "DEPENDS_ON", db["id"])["data"]["relateCis"]
    assert related == {
        "type": "DEPENDS_ON",
        "source": {"name": "checkout"},
        "target": {"name": "orders-db"},
        "userErrors": [],
    }
    assert refusal(relate(api, app["id"], "DEPENDS_ON", db["id"])) == (
        "DUPLICATE",
        ["input", "type"],
    )
    assert refusal(relate(api, app["id"], "DEPENDS_ON", app["id"])) == (
        "SELF_LOOP",
        ["input", "targetId"],
    )
    assert refusal(relate(api, app["id"], "HOSTED_ON", doc["id"])) == (
        "RELATIONSHIP_NOT_ALLOWED",
        ["input", "type"],
    )
    assert refusal(relate(api, app["id"], "FLIES_TO", db["id"])) == (
        "UNKNOWN_RELATIONSHIP_TYPE",
        ["input", "type"],
    )
    assert refusal(relate(api, app["id"], "DEPENDS_ON", "missing")) == (
        "NOT_FOUND",
        ["input", "targetId"],
    )
    assert refusal(relate(api, app["id"], "DEPENDS_ON", doc["id"], minUp=2)) == (
        "NEEDS_GROUP",
        ["input", "attributes", "minUp"],
    )
    # The bare stored id is accepted as well as the global one; another type's global id is not.
    assert (
        relate(api, record_id(app["id"], "CI"), "DOCUMENTED_BY", doc["id"])["data"]["relateCis"][
            "userErrors"
        ]
        == []
    )
    assert refusal(relate(api, app["id"], "DEPENDS_ON", to_global_id("Incident", "x"))) == (
        "WRONG_TYPE",
        ["input", "targetId"],
    )

    retire = """mutation($input: RetireCIInput!) {
      retireCi(input: $input) { ci { lifecycle version } userErrors { code field } } }"""
    retired = api.ok(retire, {"input": {"id": doc["id"], "version": 1}})["retireCi"]
    assert retired == {"ci": {"lifecycle": "RETIRED", "version": 2}, "userErrors": []}
    stale = api.ok(retire, {"input": {"id": doc["id"], "version": 1}})["retireCi"]
    assert stale == {
        "ci": None,
        "userErrors": [{"code": "CONFLICT", "field": ["input", "version"]}],
    }
    assert refusal(relate(api, db["id"], "DOCUMENTED_BY", doc["id"])) == (
        "RETIRED_TARGET",
        ["input", "targetId"],
    )

    unrelate = """mutation($input: UnrelateCIsInput!) {
      unrelateCis(input: $input) { type source { name } target { name } userErrors { code field } } }"""
    edge = {"sourceId": app["id"], "type": "DEPENDS_ON", "targetId": db["id"]}
    removed = api.ok(unrelate, {"input": edge})["unrelateCis"]
    assert removed == {
        "type": "DEPENDS_ON",
        "source": {"name": "checkout"},
        "target": {"name": "orders-db"},
        "userErrors": [],
    }
    again = api.ok(unrelate, {"input": edge})["unrelateCis"]
    assert again["source"] is None
    assert again["userErrors"] == [{"code": "NO_SUCH_RELATIONSHIP", "field": ["input", "type"]}]
    history = api.ok("query($id: ID!) { ci(id: $id) { history { action } } }", {"id": app["id"]})
    assert [h["action"] for h in history["ci"]["history"]] == [
        "unrelate",
        "relate",
        "relate",
        "create",
    ]


def test_identification_rejects_a_second_ci_with_the_same_serial(api: Api) -> None:
    ci(api, "esx-01", "Server", serialNumber="SN-1")
    body = api.post(
        REGISTER,
        {"input": {"ciClass": "Server", "name": "esx-99", "attributes": {"serialNumber": "sn-1 "}}},
    ).json()
    assert refusal(body, "registerCi") == ("DUPLICATE", ["input", "attributes", "serialNumber"])
    assert "esx-01" in body["data"]["registerCi"]["userErrors"][0]["message"]


def test_relationships_are_paged_connections_by_type_and_direction(api: Api) -> None:
    app = ci(api, "shop-api", "Application")
    dbs = [ci(api, f"db-{i}", "Database") for i in range(5)]
    vm = ci(api, "vm-1", "VirtualMachine", fqdn="vm-1.example")
    for db in dbs:
        relate(api, app["id"], "DEPENDS_ON", db["id"])
    relate(api, app["id"], "RUNS_ON", vm["id"], redundancyGroup="app", minUp=1)

    # Two CIs of one name: the order settles the tie by id, and no cursor repeats or skips one.
    twin = ci(api, "db-1", "Container")
    relate(api, app["id"], "DEPENDS_ON", twin["id"])
    query = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      ci(id: $id) {
        relationships(direction: OUTGOING, types: ["DEPENDS_ON"], first: $first, after: $after,
                      last: $last, before: $before) {
          totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { node { type direction source ci { id name } } } } } }"""
    forwards: list[dict[str, str]] = []
    after = None
    while True:
        page = api.ok(query, {"id": app["id"], "first": 2, "after": after})["ci"]["relationships"]
        assert page["totalCount"] == 6
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        forwards += [e["node"]["ci"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [c["name"] for c in forwards] == ["db-0", "db-1", "db-1", "db-2", "db-3", "db-4"]
    twins = [record_id(c["id"], "CI") for c in forwards if c["name"] == "db-1"]
    assert twins == sorted(twins)
    backwards: list[dict[str, str]] = []
    before = None
    while True:
        page = api.ok(query, {"id": app["id"], "last": 4, "before": before})["ci"]["relationships"]
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        backwards = [e["node"]["ci"] for e in page["edges"]] + backwards
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert backwards == forwards

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
    assert all_names({"ciClass": "Database", "lifecycle": "LIVE", "criticality": "MEDIUM"}) == (
        1,
        ["orders-db"],
    )
    assert all_names({"lifecycle": "RETIRED"}) == (0, [])
    bad = api.post(query, {"f": {"lifecycle": "zombie"}}).json()
    assert "'zombie'" in bad["errors"][0]["message"] and "Lifecycle" in bad["errors"][0]["message"]
    unknown = api.post(query, {"f": {"ciClass": "Toaster"}}).json()
    assert error_of(unknown) == ("BAD_USER_INPUT", "filter.ciClass", "unknown_class")


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
        'mutation($id: ID!) { updateCi(input: {id: $id, version: 1, attributes: {engine: "PostgreSQL 16"}}) { ci { version } } }',
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
    cursor taken in the middle of such a tie neither repeats nor skips a CI, forwards (first,
    after) or backwards (last, before)."""
    result = run_import(
        api,
        "test",
        [{"key": f"k{i}", "ciClass": "Server", "name": f"srv-{i:02d}"} for i in range(13)],
    )
    assert result["created"] == 13
    query = """query($o: CIOrder, $first: Int, $after: String, $last: Int, $before: String) {
      cis(filter: {ciClass: "Server"}, orderBy: $o, first: $first, after: $after,
          last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id name createdAt } } } }"""

    def forwards(order: dict[str, str]) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            page = api.ok(query, {"o": order, "first": 5, "after": after})["cis"]
            assert page["totalCount"] == 13
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            seen += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    def backwards(order: dict[str, str]) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        before = None
        while True:
            page = api.ok(query, {"o": order, "last": 5, "before": before})["cis"]
            assert page["pageInfo"]["hasNextPage"] is (before is not None)
            assert page["edges"][-1]["cursor"] == page["pageInfo"]["endCursor"]
            seen = [e["node"] for e in page["edges"]] + seen
            if not page["pageInfo"]["hasPreviousPage"]:
                return seen
            before = page["pageInfo"]["startCursor"]

    for order in (
        {"field": "CREATED_AT", "direction": "ASC"},
        {"field": "CREATED_AT", "direction": "DESC"},
        {"field": "NAME", "direction": "ASC"},
        {"field": "NAME", "direction": "DESC"},
    ):
        seen = forwards(order)
        assert len(seen) == 13 and len({n["id"] for n in seen}) == 13, order
        key = "createdAt" if order["field"] == "CREATED_AT" else "name"
        expected = sorted(
            seen,
            key=lambda n: (n[key], record_id(n["id"], "CI")),
            reverse=order["direction"] == "DESC",
        )
        assert seen == expected, order
        assert backwards(order) == expected, order
        # A page between two cursors, from either end.
        middle = api.ok(query, {"o": order, "first": 5, "after": None})["cis"]["edges"]
        after, before = middle[1]["cursor"], middle[4]["cursor"]
        inside = [n["name"] for n in expected[2:4]]
        for sizes, want in (
            ({"first": 9}, inside),
            ({"last": 9}, inside),
            ({"first": 1}, inside[:1]),
            ({"last": 1}, inside[1:]),
        ):
            between = api.ok(query, {"o": order, "after": after, "before": before, **sizes})
            assert [e["node"]["name"] for e in between["cis"]["edges"]] == want, (order, sizes)


def test_paging_arguments_follow_the_relay_rules(api: Api) -> None:
    db = ci(api, "orders-db", "Database")
    cis = "query($a: Int, $b: Int) { cis(first: $a, last: $b) { totalCount } }"
    both = api.post(cis, {"a": 1, "b": 1}).json()
    assert error_of(both) == ("BAD_USER_INPUT", "last", "first_and_last")
    assert error_of(api.post(cis, {"a": -1}).json()) == ("BAD_USER_INPUT", "first", "negative")
    assert error_of(api.post(cis, {"b": -2}).json()) == ("BAD_USER_INPUT", "last", "negative")
    too_many = api.post(cis, {"a": MAX_PAGE_SIZE + 1}).json()
    assert error_of(too_many) == ("LIMIT_EXCEEDED", "first", None)
    assert too_many["errors"][0]["extensions"]["limit"] == MAX_PAGE_SIZE
    assert api.ok(cis, {"a": MAX_PAGE_SIZE})["cis"]["totalCount"] == 1
    rels = """query($id: ID!, $a: Int, $b: Int) { ci(id: $id) {
      relationships(first: $a, last: $b) { totalCount } } }"""
    too_many = api.post(rels, {"id": db["id"], "b": MAX_PAGE_SIZE + 1}).json()
    assert error_of(too_many) == ("LIMIT_EXCEEDED", "last", None)
    both = api.post(rels, {"id": db["id"], "a": 2, "b": 2}).json()
    assert error_of(both) == ("BAD_USER_INPUT", "last", "first_and_last")
    forged = api.post('{ cis(after: "bm90LWEtY3Vyc29y") { totalCount } }').json()
    assert error_of(forged) == ("BAD_USER_INPUT", "after", "bad_cursor")


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


def test_the_total_is_counted_when_asked_for_however_it_is_asked(api: Api) -> None:
    for name in ("a-db", "b-db", "c-db"):
        ci(api, name, "Database")
    ci(api, "web", "Server")
    direct = api.ok('{ cis(first: 1, filter: {ciClass: "Database"}) { totalCount } }')
    assert direct["cis"]["totalCount"] == 3
    spread = api.ok(
        '{ cis(first: 1, filter: {ciClass: "Database"}) { ...Total } } '
        "fragment Total on CIConnection { totalCount }"
    )
    assert spread["cis"]["totalCount"] == 3
    inline = api.ok(
        "{ cis(last: 1) { edges { node { name } } ... on CIConnection { n: totalCount } } }"
    )
    assert inline["cis"]["n"] == 4 and inline["cis"]["edges"][0]["node"]["name"] == "web"
    # Without the total (then not counted), the page and its paging info are unchanged.
    plain = api.ok("{ cis(first: 2) { edges { node { name } } pageInfo { hasNextPage } } }")
    assert [e["node"]["name"] for e in plain["cis"]["edges"]] == ["a-db", "b-db"]
    assert plain["cis"]["pageInfo"]["hasNextPage"] is True
