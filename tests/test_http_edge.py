"""The HTTP edge over real HTTP: every refusal is GraphQL-shaped JSON with a code, CORS follows its
allow-list, and the body limits tell a query from an import."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry

from core.access import SYSTEM
from domain.tokens import issue_token
from graphdb.write_path import Store
from itsm.app import create_app
from itsm.config import Settings
from itsm.importer import IMPORT_MUTATION, run_import
from schema.root import Query, build_schema
from tests.conftest import Api, RunningServer
from tests.test_api import REGISTER, count_nodes

MiB = 1024 * 1024


def post_raw(
    api: Api, content: bytes | str, content_type: str = "application/json"
) -> httpx.Response:
    return httpx.post(
        f"{api.url}/graphql",
        content=content,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": content_type},
        timeout=120,
    )


def only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


# -- codes on errors GraphQL reports -------------------------------------------------------


def test_parse_validation_and_variable_errors_have_codes(api: Api) -> None:
    parse = only_error(api.post("query { cis(first: 1) { edges { node { name } }"))
    assert parse["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    assert parse["message"].startswith("Syntax Error")

    unknown = only_error(api.post("{ cis { edges { node { name colour } } } }"))
    assert unknown["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "colour" in unknown["message"]

    missing_variable = only_error(api.post("query($id: ID!) { ci(id: $id) { name } }"))
    assert missing_variable["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "id",
        "reason": "invalid_variable",
    }
    bad_input = only_error(
        api.post(REGISTER, {"input": {"ciClass": "Server", "name": "x", "size": 3}})
    )
    assert bad_input["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad_input["extensions"]["field"] == "input"
    assert "size" in bad_input["message"]


def test_depth_alias_and_token_limits_say_which_limit(api: Api, settings: Settings) -> None:
    nested = "{ cis { edges { node { " + "relationships { edges { node { ci { " * 4 + "name"
    nested += " }" * (3 + 4 * 4) + " }"
    depth = only_error(api.post(nested))
    assert depth["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "reason": "max_depth",
        "limit": settings.max_depth,
    }

    aliases = (
        "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(settings.max_aliases + 1)) + " }"
    )
    alias = only_error(api.post(aliases))
    assert alias["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "reason": "max_aliases",
        "limit": settings.max_aliases,
    }

    tokens = "{ " + "__typename " * settings.max_tokens + "}"
    token = only_error(api.post(tokens))
    assert token["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "reason": "max_tokens",
        "limit": settings.max_tokens,
    }


@strawberry.type
class QueryWithAFault(Query):
    @strawberry.field(description="Fails the way a bug would.")
    def disk_usage(self) -> int:
        raise RuntimeError("controller /dev/sda on fire")


@pytest.fixture(scope="module")
def faulty_server(settings: Settings, session_store: Store) -> Iterator[RunningServer]:
    schema = build_schema(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        query=QueryWithAFault,
    )
    with RunningServer(create_app(settings, schema=schema)) as server:
        yield server


def test_internal_errors_are_masked_with_a_request_id_that_the_log_carries(
    faulty_server: RunningServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    faulty = Api(faulty_server.url, issue_token(store, SYSTEM, "viewer", "test viewer").secret)
    with caplog.at_level(logging.INFO):
        response = faulty.post("{ me { name } diskUsage }")
    body = response.json()
    assert body["data"] is None  # diskUsage is non-null: its failure nulls the whole answer
    [error] = body["errors"]
    request_id = response.headers["x-request-id"]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "sda" not in response.text

    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert request_id in logged.getMessage() and "diskUsage" in logged.getMessage()
    assert logged.exc_info is not None and "controller /dev/sda on fire" in str(logged.exc_info[1])

    # The same server answers its healthy fields, and each request has its own id.
    again = faulty.post("{ me { name } }")
    assert again.json() == {"data": {"me": {"name": "test viewer"}}}
    assert again.headers["x-request-id"] != request_id


# -- codes on requests that never reach GraphQL --------------------------------------------


def test_requests_that_are_not_graphql_get_json_errors_with_codes(api: Api) -> None:
    not_json = post_raw(api, b'{"query": "{ __typename }"')
    assert not_json.status_code == 400
    error = only_error(not_json)
    assert error["extensions"] == {"code": "BAD_REQUEST", "field": "body", "reason": "invalid_json"}
    assert error["message"].startswith("Unable to parse request body as JSON")

    batch = post_raw(api, json.dumps([{"query": "{ me { name } }"}, {"query": "{ me { role } }"}]))
    assert batch.status_code == 400
    assert only_error(batch)["extensions"] == {"code": "BATCHING_NOT_SUPPORTED", "field": "body"}

    for payload, field, reason in [
        ({}, "query", "missing"),
        ({"query": ""}, "query", "missing"),
        ({"query": 42}, "query", "not_a_string"),
        ({"query": "{ me { name } }", "variables": [1]}, "variables", "not_an_object"),
        (
            {"query": "query A { me { name } } query B { me { role } }", "operationName": "C"},
            "operationName",
            "unknown_operation",
        ),
        ("just a string", "body", "not_an_object"),
    ]:
        refused = post_raw(api, json.dumps(payload))
        assert refused.status_code == 400, payload
        assert only_error(refused)["extensions"] == {
            "code": "BAD_REQUEST",
            "field": field,
            "reason": reason,
        }, payload

    text = post_raw(api, "{ me { name } }", content_type="text/plain")
    assert text.status_code == 415
    assert only_error(text)["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"

    put = httpx.put(f"{api.url}/graphql", json={"query": "{ me { name } }"})
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
    assert only_error(put)["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    mutation_by_get = httpx.get(
        f"{api.url}/graphql",
        params={"query": 'mutation { registerCi(input: {ciClass: "Server", name: "x"}) { id } }'},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert mutation_by_get.status_code == 405 and mutation_by_get.headers["allow"] == "POST"
    assert only_error(mutation_by_get)["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    bad_variables = httpx.get(
        f"{api.url}/graphql",
        params={"query": "{ me { name } }", "variables": "{oops"},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert bad_variables.status_code == 400
    assert only_error(bad_variables)["extensions"] == {
        "code": "BAD_REQUEST",
        "field": "variables",
        "reason": "invalid_json",
    }
    by_get = httpx.get(
        f"{api.url}/graphql",
        params={"query": "{ me { role } }"},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert by_get.json() == {"data": {"me": {"role": "agent"}}}


def test_unknown_paths_and_methods_elsewhere_are_json_too(api: Api) -> None:
    nowhere = httpx.get(f"{api.url}/graphql/v2")
    assert nowhere.status_code == 404
    assert only_error(nowhere)["extensions"] == {"code": "NOT_FOUND", "record": "path"}
    wrong_method = httpx.post(f"{api.url}/healthz")
    assert wrong_method.status_code == 405
    assert only_error(wrong_method)["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in wrong_method.headers["allow"]


def test_existing_codes_keep_their_http_statuses(api: Api, store: Store) -> None:
    unauthenticated = httpx.post(f"{api.url}/graphql", json={"query": "{ me { name } }"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == 'Bearer realm="itsm"'
    assert only_error(unauthenticated)["extensions"]["code"] == "UNAUTHENTICATED"

    viewer = api.as_role(store, "viewer")
    forbidden = viewer.post(REGISTER, {"input": {"ciClass": "Server", "name": "x"}})
    assert forbidden.status_code == 403
    assert only_error(forbidden)["extensions"]["code"] == "FORBIDDEN"

    not_found = only_error(api.post('{ impact(ciId: "nope") { affected { depth } } }'))
    assert not_found["extensions"]["code"] == "NOT_FOUND"


# -- CORS ----------------------------------------------------------------------------------

PORTAL = "https://portal.example.com"


@pytest.fixture(scope="module")
def cors_server(settings: Settings, session_store: Store) -> Iterator[RunningServer]:
    allowed = dataclasses.replace(settings, cors_origins=(PORTAL, "http://localhost:3000"))
    with RunningServer(create_app(allowed)) as server:
        yield server


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{url}/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_cors_allows_listed_origins_without_a_token_for_the_preflight(
    cors_server: RunningServer, store: Store
) -> None:
    answer = preflight(cors_server.url, PORTAL)
    assert answer.status_code == 200
    headers = cors_headers(answer)
    assert headers["access-control-allow-origin"] == PORTAL
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"].lower()

    token = issue_token(store, SYSTEM, "viewer", "portal").secret
    call = httpx.post(
        f"{cors_server.url}/graphql",
        json={"query": "{ me { name } }"},
        headers={"Origin": PORTAL, "Authorization": f"Bearer {token}"},
    )
    assert call.json() == {"data": {"me": {"name": "portal"}}}
    assert call.headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in call.headers["access-control-expose-headers"]

    put = httpx.options(
        f"{cors_server.url}/graphql",
        headers={"Origin": PORTAL, "Access-Control-Request-Method": "PUT"},
    )
    assert put.status_code == 400
    assert only_error(put)["extensions"] == {
        "code": "BAD_REQUEST",
        "field": "Access-Control-Request-Method",
        "reason": "cors_request_not_allowed",
    }


def test_cors_gives_a_disallowed_origin_no_cors_headers(
    cors_server: RunningServer, store: Store
) -> None:
    answer = preflight(cors_server.url, "https://evil.example.net")
    assert answer.status_code == 403
    assert cors_headers(answer) == {}
    assert only_error(answer)["extensions"] == {"code": "FORBIDDEN", "field": "Origin"}

    token = issue_token(store, SYSTEM, "viewer", "portal").secret
    call = httpx.post(
        f"{cors_server.url}/graphql",
        json={"query": "{ me { name } }"},
        headers={"Origin": "https://evil.example.net", "Authorization": f"Bearer {token}"},
    )
    assert call.status_code == 200  # a browser withholds it: the server need not refuse
    assert cors_headers(call) == {}


def test_cors_is_off_by_default(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITSM_CORS_ORIGINS", raising=False)
    assert Settings.from_env().cors_origins == ()
    answer = preflight(api.url, PORTAL)
    assert answer.status_code == 405
    assert cors_headers(answer) == {}
    call = api.post("{ me { name } }", headers={"Origin": PORTAL})
    assert call.status_code == 200 and cors_headers(call) == {}


def test_cors_origins_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_CORS_ORIGINS", f" {PORTAL} ,http://localhost:3000,")
    assert Settings.from_env().cors_origins == (PORTAL, "http://localhost:3000")
    monkeypatch.setenv("ITSM_CORS_ORIGINS", f"{PORTAL}/")
    with pytest.raises(ValueError, match=re.escape(f"ITSM_CORS_ORIGINS: '{PORTAL}/'")):
        Settings.from_env()


# -- body limits ---------------------------------------------------------------------------


def test_body_limits_default_to_one_mebibyte_for_queries_and_64_for_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ITSM_MAX_BODY_BYTES", raising=False)
    monkeypatch.delenv("ITSM_MAX_IMPORT_BYTES", raising=False)
    defaults = Settings.from_env()
    assert (defaults.max_body_bytes, defaults.max_import_bytes) == (MiB, 64 * MiB)


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text[:500]
    assert only_error(response)["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "limit": limit}


def test_a_large_document_is_refused_before_it_is_parsed_or_run(api: Api, store: Store) -> None:
    two_mb = 2 * 1000 * 1000
    # Not GraphQL at all: parsing it would have said GRAPHQL_PARSE_FAILED.
    assert_too_large(api.post("{" + " me" * (two_mb // 3)), MiB)
    # A mutation that would run: nothing is written.
    name = "x" * two_mb
    assert_too_large(
        api.post(
            f'mutation {{ registerCi(input: {{ciClass: "Server", name: "{name}"}}) {{ id }} }}'
        ),
        MiB,
    )
    # An import whose data is in the document instead of its variables.
    items = ", ".join(
        f'{{ciClass: "Server", name: "s{i}", description: "{"d" * 1000}"}}' for i in range(2000)
    )
    inline_import = (
        f'mutation {{ importCis(input: {{source: "t", items: [{items}]}}) {{ created }} }}'
    )
    assert len(inline_import) > two_mb
    assert_too_large(api.post(inline_import), MiB)
    # An import document with something else beside it.
    big = {"source": "t", "items": [{"ciClass": "Server", "name": "x", "description": name}]}
    sneaky = IMPORT_MUTATION.replace(
        "importCis(", 'registerCi(input: {ciClass: "Server", name: "y"}) { id }\n  importCis('
    )
    assert_too_large(api.post(sneaky, {"input": big}), MiB)
    assert count_nodes(store, "CI") == 0


def five_mb_of_servers(count: int = 1000) -> list[dict[str, Any]]:
    return [
        {
            "ciClass": "Server",
            "name": f"srv-{i:04d}",
            "key": f"k{i}",
            "description": f"rack {i} " + "r" * 5000,
        }
        for i in range(count)
    ]


def test_a_five_megabyte_import_goes_through(api: Api, store: Store) -> None:
    items = five_mb_of_servers()
    response = api.post(IMPORT_MUTATION, {"input": {"source": "asset-register", "items": items}})
    assert len(response.request.content) > 5 * 1000 * 1000
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body.get("errors")
    assert body["data"]["importCis"]["created"] == len(items)
    assert count_nodes(store, "CI") == len(items)


def test_the_import_command_sends_batches_over_the_query_limit(
    api: Api, store: Store, tmp_path: Path
) -> None:
    file = tmp_path / "servers.json"
    file.write_text(json.dumps({"items": five_mb_of_servers(400)}))
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        code = run_import(
            file, url=api.url, token=api.token or "", source="asset-register", out=out
        )
    assert code == 0, log.read_text()
    assert file.stat().st_size > 1.9 * MiB  # one batch of 400, about twice the query limit
    assert count_nodes(store, "CI") == 400


def test_only_an_authenticated_caller_may_send_more_than_the_query_limit(
    settings: Settings, store: Store
) -> None:
    small = dataclasses.replace(
        settings, anonymous_read=True, max_body_bytes=64 * 1024, max_import_bytes=2 * MiB
    )
    variables = {"input": {"source": "t", "items": five_mb_of_servers(100)}}  # about 0.5 MB
    with RunningServer(create_app(small)) as server:
        anonymous = httpx.post(
            f"{server.url}/graphql", json={"query": IMPORT_MUTATION, "variables": variables}
        )
        assert_too_large(anonymous, 64 * 1024)

        agent = Api(server.url, issue_token(store, SYSTEM, "agent", "importer").secret)
        assert agent.ok(IMPORT_MUTATION, variables)["importCis"]["created"] == 100

        too_big = {"input": {"source": "t", "items": five_mb_of_servers(500)}}
        assert_too_large(agent.post(IMPORT_MUTATION, too_big), 2 * MiB)

        wrong_token = Api(server.url, "itsm_wrong").post(IMPORT_MUTATION, variables)
        assert wrong_token.status_code == 401
    assert count_nodes(store, "CI") == 100
