"""The API over real HTTP against the real Neo4j: reads, writes, audit, versions, bad input."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import httpx
import pytest

from core.ids import record_id
from graphdb.write_path import Store
from tests.conftest import Api

REGISTER = """
mutation($input: RegisterCIInput!) {
  registerCi(input: $input) {
    ci { id number name ciClass lifecycle version attributes }
    userErrors { code field message }
  }
}"""

UPDATE = """
mutation($input: UpdateCIInput!) {
  updateCi(input: $input) {
    ci { id name version lifecycle attributes }
    userErrors { code field message }
  }
}"""


def count_nodes(store: Store, label: str) -> int:
    return int(
        store.graph.read(
            lambda tx: tx.run(f"MATCH (n:`{label}`) RETURN count(n) AS c").single(strict=True)["c"]
        )
    )


def audit_entries(store: Store, record_id: str) -> list[dict[str, Any]]:
    return store.graph.read(
        lambda tx: [
            dict(r["a"])
            for r in tx.run(
                "MATCH (a:AuditEntry)-[:RECORDS]->(n {id: $id}) "
                "RETURN properties(a) AS a ORDER BY a.at",
                id=record_id,
            )
        ]
    )


def register(api: Api, name: str = "orders-db", ci_class: str = "Database") -> dict[str, Any]:
    data = api.ok(
        REGISTER,
        {"input": {"ciClass": ci_class, "name": name, "attributes": {"engine": "PostgreSQL"}}},
    )
    assert data["registerCi"]["userErrors"] == [], data
    created: dict[str, Any] = data["registerCi"]["ci"]
    return created


def test_mutation_and_query_leave_audit_and_version_in_neo4j(api: Api, store: Store) -> None:
    created = register(api)
    assert created["version"] == 1
    assert created["number"].startswith("CI")
    assert created["attributes"] == {"engine": "PostgreSQL"}

    updated = api.ok(
        UPDATE,
        {
            "input": {
                "id": created["id"],
                "version": 1,
                "lifecycle": "MAINTENANCE",
                "attributes": {"port": 5432},
            }
        },
    )["updateCi"]["ci"]
    assert updated["version"] == 2
    assert updated["attributes"] == {"engine": "PostgreSQL", "port": 5432}

    fetched = api.ok(
        "query($id: ID!) { ci(id: $id) { name lifecycle version "
        "history { action actor before after } } }",
        {"id": created["id"]},
    )["ci"]
    assert fetched["lifecycle"] == "MAINTENANCE"
    assert fetched["version"] == 2
    assert [h["action"] for h in fetched["history"]] == ["update", "create"]
    assert fetched["history"][0]["before"] == {"lifecycle": "live", "attributes.port": None}
    assert fetched["history"][0]["after"] == {"lifecycle": "maintenance", "attributes.port": 5432}

    # Straight from Neo4j, not through the API.
    stored_id = record_id(created["id"], "CI")
    node = store.graph.read(
        lambda tx: tx.run("MATCH (n:CI {id: $id}) RETURN properties(n) AS n", id=stored_id).single(
            strict=True
        )["n"]
    )
    assert node["version"] == 2 and node["lifecycle"] == "maintenance"
    entries = audit_entries(store, stored_id)
    assert [e["action"] for e in entries] == ["create", "update"]
    assert entries[1]["actor"] == "test agent" and entries[1]["actorRole"] == "agent"
    assert json.loads(entries[1]["after"])["lifecycle"] == "maintenance"


def test_concurrent_updates_with_one_version_exactly_one_wins(api: Api, store: Store) -> None:
    created = register(api)
    barrier = threading.Barrier(2)
    responses: list[dict[str, Any]] = []

    def update(name: str) -> None:
        barrier.wait()
        responses.append(
            api.post(UPDATE, {"input": {"id": created["id"], "version": 1, "name": name}}).json()
        )

    threads = [threading.Thread(target=update, args=(n,)) for n in ("alpha", "beta")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not any(r.get("errors") for r in responses), responses
    payloads = [r["data"]["updateCi"] for r in responses]
    wins = [p for p in payloads if not p["userErrors"]]
    conflicts = [p for p in payloads if p["userErrors"]]
    assert len(wins) == 1 and len(conflicts) == 1, responses
    assert conflicts[0]["ci"] is None
    [error] = conflicts[0]["userErrors"]
    assert error["code"] == "CONFLICT" and error["field"] == ["input", "version"]
    assert "you sent version 1, it is now at version 2" in error["message"]
    updates = [
        e for e in audit_entries(store, record_id(created["id"], "CI")) if e["action"] == "update"
    ]
    assert len(updates) == 1
    assert json.loads(updates[0]["after"])["name"] == wins[0]["ci"]["name"]


def test_stale_version_is_a_conflict_not_a_lost_update(api: Api, store: Store) -> None:
    created = register(api)
    api.ok(UPDATE, {"input": {"id": created["id"], "version": 1, "name": "first"}})
    stale = api.post(UPDATE, {"input": {"id": created["id"], "version": 1, "name": "second"}})
    assert stale.status_code == 200
    assert [e["code"] for e in stale.json()["data"]["updateCi"]["userErrors"]] == ["CONFLICT"]
    name = api.ok("query($id: ID!) { ci(id: $id) { name } }", {"id": created["id"]})["ci"]["name"]
    assert name == "first"


def test_names_outside_ascii_come_back_as_sent(api: Api) -> None:
    created = register(api, name="Zürich — 東京 ledger 🗄️")
    raw = api.post("query($id: ID!) { ci(id: $id) { name } }", {"id": created["id"]})
    assert raw.headers["content-type"].startswith("application/json")
    assert json.loads(raw.content.decode("utf-8"))["data"]["ci"]["name"] == "Zürich — 東京 ledger 🗄️"


def test_validation_errors_are_typed_and_write_nothing(api: Api, store: Store) -> None:
    before = count_nodes(store, "CI"), count_nodes(store, "AuditEntry")
    cases = [
        ({"ciClass": "Toaster", "name": "x"}, ["input", "ciClass"], "UNKNOWN_CLASS"),
        ({"ciClass": "Server", "name": "  "}, ["input", "name"], "REQUIRED"),
        (
            {"ciClass": "Server", "name": "x", "attributes": {"colour": "red"}},
            ["input", "attributes", "colour"],
            "ATTRIBUTE_NOT_ALLOWED",
        ),
        (
            {"ciClass": "Server", "name": "x", "attributes": {"os": {"nested": 1}}},
            ["input", "attributes", "os"],
            "NOT_SCALAR",
        ),
    ]
    for payload, field, code in cases:
        body = api.post(REGISTER, {"input": payload}).json()
        assert "errors" not in body, body
        result = body["data"]["registerCi"]
        assert result["ci"] is None
        assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, field)]
    # A value outside an enum is refused by GraphQL itself, naming the value and the field.
    dead = api.post(REGISTER, {"input": {"ciClass": "Server", "name": "x", "lifecycle": "dead"}})
    message = dead.json()["errors"][0]["message"]
    assert "'dead'" in message and "lifecycle" in message and "Lifecycle" in message
    assert (count_nodes(store, "CI"), count_nodes(store, "AuditEntry")) == before


def test_refused_requests_log_one_line_not_an_error_with_a_traceback(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        api.post('{ cis(filter: {ciClass: "Toaster"}) { totalCount } }')
        api.post('{ impact(ciId: "nope") { affected { depth } } }')
        api.post("{ cis { edges { node { colour } } } }")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    refused = [r.getMessage() for r in caplog.records if r.name == "itsm.graphql"]
    assert any("BAD_USER_INPUT" in m and "Toaster" in m for m in refused), refused
    assert any("NOT_FOUND" in m for m in refused), refused
    assert any("colour" in m for m in refused), refused


def test_malformed_and_unknown_fields_are_rejected(api: Api, store: Store) -> None:
    malformed = api.post("query { cis(first: 1) { edges { node { name } }")
    assert malformed.json()["errors"][0]["message"].startswith("Syntax Error")
    not_json = httpx.post(
        f"{api.url}/graphql",
        content=b'{"query": "{ __typename }"',
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert "Unable to parse request body as JSON" in not_json.text
    unknown = api.post("{ cis { edges { node { name colour } } } }").json()
    assert "Cannot query field 'colour'" in unknown["errors"][0]["message"]
    unknown_arg = api.post(
        REGISTER, {"input": {"ciClass": "Server", "name": "x", "size": 3}}
    ).json()
    assert "size" in unknown_arg["errors"][0]["message"]
    assert count_nodes(store, "CI") == 0


def test_missing_wrong_and_insufficient_tokens(api: Api, store: Store) -> None:
    missing = httpx.post(f"{api.url}/graphql", json={"query": "{ me { name } }"})
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    wrong = api.post("{ me { name } }", headers={"Authorization": "Bearer itsm_not-a-token"})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.json()["errors"][0]["message"]

    viewer = api.as_role(store, "viewer")
    assert viewer.ok("{ me { role permissions } }")["me"] == {
        "role": "viewer",
        "permissions": ["read"],
    }
    denied = viewer.post(REGISTER, {"input": {"ciClass": "Server", "name": "x"}})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert count_nodes(store, "CI") == 0


def test_depth_alias_and_body_limits(api: Api, store: Store) -> None:
    created = register(api)
    nested = "relationships { edges { node { ci { " * 4 + "name" + " } } } }" * 4
    deep = "query($id: ID!) { ci(id: $id) { " + nested + " } }"
    body = api.post(deep, {"id": created["id"]}).json()
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]

    aliases = "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(40)) + " }"
    assert "aliases" in api.post(aliases).json()["errors"][0]["message"]

    huge = api.post(REGISTER, {"input": {"ciClass": "Server", "name": "x" * (17 * 1024 * 1024)}})
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert count_nodes(store, "CI") == 1


def test_health_ready_and_graphiql(api: Api) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{api.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    page = httpx.get(f"{api.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_token_cli_creates_lists_and_revokes(api: Api, store: Store, settings: Any) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "NEO4J_URI": settings.bolt_uri, "BROKER_URL": ""}

    def itsm(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "itsm.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    created = itsm("token", "create", "--role", "viewer", "--name", "dashboard")
    secret = created.strip().splitlines()[-1]
    viewer = Api(api.url, secret)
    assert viewer.ok("{ me { name role } }")["me"] == {"name": "dashboard", "role": "viewer"}
    token_id = next(
        line.split()[0] for line in itsm("token", "list").splitlines() if "dashboard" in line
    )
    itsm("token", "revoke", token_id)
    assert "revoked" in next(
        line for line in itsm("token", "list").splitlines() if "dashboard" in line
    )
    assert viewer.post("{ me { name } }").status_code == 401
