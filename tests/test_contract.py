"""The API's conventions, as a client relies on them: global ids and `node`, refusals as
`userErrors` beside committed work, the registry, a description on everything, the SDL in the
repository, and the read permission on every query field."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    is_introspection_type,
    is_specified_scalar_type,
)
from strawberry.permission import PermissionExtension

from core.ids import record_id, to_global_id
from domain import cmdb
from graphdb.write_path import Store
from itsm.app import create_app
from itsm.config import Settings
from resolvers.access import MayRead
from resolvers.nodes import MAX_NODES
from schema.root import Query, build_schema
from schema.sdl import printed_schema
from tests.conftest import ROOT, Api, RunningServer
from tests.test_import import run_import

REGISTER = """mutation($input: RegisterCIInput!) {
  registerCi(input: $input) { ci { id name } userErrors { code field message } } }"""


def register(api: Api, name: str, ci_class: str = "Database", **attrs: Any) -> dict[str, Any]:
    payload = api.ok(REGISTER, {"input": {"ciClass": ci_class, "name": name, "attributes": attrs}})[
        "registerCi"
    ]
    assert payload["userErrors"] == []
    created: dict[str, Any] = payload["ci"]
    return created


def count_cis(store: Store, name: str) -> int:
    return int(
        store.graph.read(
            lambda tx: tx.run("MATCH (n:CI {name: $name}) RETURN count(n) AS c", name=name).single(
                strict=True
            )["c"]
        )
    )


NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on CI { name number } ... on AuditEntry { action recordId } } }"""


def test_any_record_comes_back_by_its_global_id(api: Api) -> None:
    db = register(api, "orders-db")
    assert db["id"] == to_global_id("CI", record_id(db["id"], "CI"))
    found = api.ok(NODE, {"id": db["id"]})["node"]
    assert found["__typename"] == "CI" and found["id"] == db["id"] and found["name"] == "orders-db"
    # The bare stored id still works where scripts used it, and means the same CI.
    bare = record_id(db["id"], "CI")
    assert api.ok("query($id: ID!) { ci(id: $id) { id } }", {"id": bare})["ci"]["id"] == db["id"]
    assert api.ok(NODE, {"id": bare})["node"]["id"] == db["id"]

    history = api.ok("query($id: ID!) { ci(id: $id) { history { id } } }", {"id": db["id"]})
    entry_id = history["ci"]["history"][0]["id"]
    entry = api.ok(NODE, {"id": entry_id})["node"]
    assert entry == {
        "__typename": "AuditEntry",
        "id": entry_id,
        "action": "create",
        "recordId": db["id"],
    }

    assert api.ok(NODE, {"id": to_global_id("CI", "no-such-ci")})["node"] is None
    assert api.ok(NODE, {"id": to_global_id("Incident", "x")})["node"] is None
    wrong = api.post("query($id: ID!) { ci(id: $id) { id } }", {"id": entry_id}).json()
    ext = wrong["errors"][0]["extensions"]
    assert (ext["code"], ext["field"], ext["reason"]) == ("BAD_USER_INPUT", "id", "wrong_type")
    assert "AuditEntry" in wrong["errors"][0]["message"]


def test_nodes_answer_in_order_in_one_round_trip_per_type(
    api: Api, api_server: RunningServer
) -> None:
    result = run_import(
        api,
        "test",
        [{"key": f"k{i}", "ciClass": "Server", "name": f"srv-{i:02d}"} for i in range(60)],
    )
    ids = [i["ciId"] for i in result["items"]]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on CI { name } } }"
    graph = api_server.app.state.store.graph
    costs = []
    for n in (5, 60):
        asked = [*reversed(ids[:n]), to_global_id("CI", "gone")]
        answer, reads = api.ok_counting_reads(graph, query, {"ids": asked})
        found = answer["nodes"]
        costs.append(reads)
        assert [f["id"] if f else None for f in found] == [*asked[:-1], None]
    assert costs[0] == costs[1], f"{costs[0]} read transactions for 5 ids but {costs[1]} for 60"
    too_many = api.post(query, {"ids": ids[:1] * (MAX_NODES + 1)}).json()
    ext = too_many["errors"][0]["extensions"]
    assert (ext["code"], ext["field"], ext["limit"]) == ("LIMIT_EXCEEDED", "ids", MAX_NODES)


def test_a_refused_mutation_beside_a_committed_one(api: Api, store: Store) -> None:
    """The first mutation commits and keeps its answer; the second is refused as data, naming
    the field, and nothing of it reaches the graph."""
    body = api.post(
        """mutation {
          first: registerCi(input: {ciClass: "Server", name: "esx-01",
                                    attributes: {os: "ESXi 8"}}) {
            ci { name lifecycle attributes } userErrors { code field message } }
          second: registerCi(input: {ciClass: "Server", name: "esx-02",
                                     attributes: {os: "ESXi 8", colour: "red"}}) {
            ci { name } userErrors { code field message } }
        }"""
    )
    assert body.status_code == 200
    data = body.json()
    assert "errors" not in data, data
    assert data["data"]["first"] == {
        "ci": {"name": "esx-01", "lifecycle": "LIVE", "attributes": {"os": "ESXi 8"}},
        "userErrors": [],
    }
    [error] = data["data"]["second"]["userErrors"]
    assert data["data"]["second"]["ci"] is None
    assert error["code"] == "ATTRIBUTE_NOT_ALLOWED"
    assert error["field"] == ["input", "attributes", "colour"]
    assert "colour" in error["message"]
    assert count_cis(store, "esx-01") == 1 and count_cis(store, "esx-02") == 0


def test_a_missing_record_and_an_oversized_import_are_user_errors(api: Api) -> None:
    gone = to_global_id("CI", "no-such-ci")
    update = api.ok(
        """mutation($id: ID!) { updateCi(input: {id: $id, version: 1, name: "x"}) {
             ci { id } userErrors { code field } } }""",
        {"id": gone},
    )["updateCi"]
    assert update == {"ci": None, "userErrors": [{"code": "NOT_FOUND", "field": ["input", "id"]}]}
    refused = api.ok(
        """mutation($input: ImportCIsInput!) { importCis(input: $input) {
             created items { index } userErrors { code field } } }""",
        {"input": {"source": "  ", "items": [{"ciClass": "Server", "name": "esx-01"}]}},
    )["importCis"]
    assert refused == {
        "created": 0,
        "items": [],
        "userErrors": [{"code": "REQUIRED", "field": ["input", "source"]}],
    }


def test_forbidden_and_unauthenticated_writes_stay_top_level_errors(api: Api, store: Store) -> None:
    viewer = api.as_role(store, "viewer")
    denied = viewer.post(REGISTER, {"input": {"ciClass": "Server", "name": "x"}})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert count_cis(store, "x") == 0


def test_the_registry_lists_what_ci_class_and_relationship_type_may_be(api: Api) -> None:
    registry = api.ok(
        """{ registry {
          ciClasses { name description attributes identificationRules
                      authoritativeSources { field source } }
          relationshipTypes { name description propagation sourceClasses targetClasses } } }"""
    )["registry"]
    classes = {c["name"]: c for c in registry["ciClasses"]}
    assert set(classes) == set(cmdb.CI_CLASSES)
    server = classes["Server"]
    assert server["identificationRules"] == [["serialNumber"], ["fqdn"], ["name"]]
    assert server["authoritativeSources"] == [{"field": "serialNumber", "source": "asset-register"}]
    assert "os" in server["attributes"] and server["attributes"] == sorted(server["attributes"])
    types = {t["name"]: t for t in registry["relationshipTypes"]}
    assert set(types) == set(cmdb.RELATIONSHIP_TYPES)
    assert types["DEPENDS_ON"]["propagation"] == "TO_SOURCE"
    assert types["DEPENDS_ON"]["sourceClasses"] is None  # any class
    assert types["SYNCS_WITH"]["propagation"] == "BOTH"
    assert types["DOCUMENTED_BY"] == {
        "name": "DOCUMENTED_BY",
        "description": "documentation",
        "propagation": "NONE",
        "sourceClasses": None,
        "targetClasses": ["Document"],
    }


def undescribed(served: strawberry.Schema | None = None) -> list[str]:
    """What the schema (the API's, unless another is given) leaves undescribed."""
    served = served or build_schema(max_depth=12, max_aliases=30, max_tokens=20000)
    schema = served._schema
    missing = []
    for name, type_ in schema.type_map.items():
        if is_introspection_type(type_) or is_specified_scalar_type(type_):
            continue
        if not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(type_, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in type_.values.items() if not value.description]
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    assert undescribed() == []


def test_the_schema_in_the_repository_is_the_one_served() -> None:
    kept = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert kept == printed_schema(), (
        "schema.graphql differs from the API: run `python -m schema.sdl > schema.graphql` "
        "and commit the result with the change"
    )


def test_every_query_field_checks_the_read_permission() -> None:
    definition = Query.__strawberry_definition__
    unchecked = [
        f.python_name
        for f in definition.fields
        if not any(
            isinstance(e, PermissionExtension)
            and any(isinstance(p, MayRead) for p in e.permissions)
            for e in f.extensions
        )
    ]
    assert unchecked == []
    assert len(definition.fields) >= 10


def test_reads_without_a_token_are_refused_when_anonymous_read_is_off(
    settings: Settings, store: Store, api: Api
) -> None:
    db = register(api, "orders-db")
    queries = [
        "{ me { name } }",
        "{ cis { totalCount } }",
        "{ registry { ciClasses { name } } }",
        f'{{ node(id: "{db["id"]}") {{ id }} }}',
        f'{{ ci(id: "{db["id"]}") {{ name }} }}',
        f'{{ impact(ciId: "{db["id"]}") {{ affected {{ depth }} }} }}',
    ]
    for query in queries:
        refused = httpx.post(f"{api.url}/graphql", json={"query": query}, timeout=60)
        assert refused.status_code == 401, query
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    open_settings = dataclasses.replace(settings, anonymous_read=True)
    with RunningServer(create_app(open_settings)) as server:
        for query in queries:
            read = httpx.post(f"{server.url}/graphql", json={"query": query}, timeout=60)
            assert read.status_code == 200 and "errors" not in read.json(), query


def test_the_sdl_module_prints_what_is_kept(tmp_path: Path) -> None:
    import subprocess
    import sys

    printed = subprocess.run(
        [sys.executable, "-m", "schema.sdl"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert printed == printed_schema()
    assert "interface Node" in printed and "type CIConnection" in printed


def test_records_behind_node_keep_their_plain_fields_on_the_fast_path() -> None:
    """The executor completes an object type without a type check field by field from its
    attributes; implementing Node must not give CIs one."""
    schema = build_schema(max_depth=12, max_aliases=30, max_tokens=20000)._schema
    for name in ("CI", "AuditEntry", "CIEdge"):
        type_ = schema.type_map[name]
        assert isinstance(type_, GraphQLObjectType) and type_.is_type_of is None, name
    node = schema.type_map["CIEdge"].fields["node"]  # type: ignore[union-attr]
    assert getattr(node.resolve, "_is_default", False)
