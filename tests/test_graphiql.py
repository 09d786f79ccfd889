"""GraphiQL in a real headless Chromium: it renders, runs a query typed into it, logs no error, and
loads nothing from anywhere but the API."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from graphql import parse, print_ast
from playwright.sync_api import Browser, expect, sync_playwright

from core.access import SYSTEM
from domain.tokens import issue_token
from graphdb.write_path import Store
from itsm import graphiql
from itsm.app import create_app
from itsm.config import Settings
from tests.conftest import Api, RunningServer

ARTIFACTS = Path(__file__).resolve().parent.parent / ".itsm" / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: run scripts/test, which installs it")
    with sync_playwright() as playwright:
        # Root (as in CI) cannot use Chromium's sandbox.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=chromium, args=args)
        yield launched
        launched.close()


def test_graphiql_runs_a_typed_query_offline_without_console_errors(
    api: Api, browser: Browser
) -> None:
    assert not graphiql.missing(graphiql.DEFAULT_ASSET_DIR), "run scripts/setup first"
    page = browser.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))

    headers = json.dumps({"Authorization": f"Bearer {api.token}"})
    # GraphiQL re-renders its editors when the schema's introspection answers; typing before that
    # can land keystrokes in an editor that is being replaced, as a user typing that early might.
    with page.expect_response(
        lambda r: r.url == f"{api.url}/graphql" and r.request.method == "POST", timeout=30_000
    ):
        page.goto(f"{api.url}/graphql?{urlencode({'headers': headers})}")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible(timeout=30_000)
    expect(page.locator(".graphiql-query-editor .CodeMirror-line").first).to_be_visible()
    assert str(api.token) not in page.url  # the token left the address bar

    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("{ me { name role", delay=20)  # the editor closes the braces itself
    typed = page.evaluate(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
    )
    assert print_ast(parse(typed)) == print_ast(parse("{ me { name role } }"))
    page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response")
    expect(response).to_contain_text('"name": "test agent"', timeout=30_000)
    expect(response).to_contain_text('"role": "agent"')

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
    page.close()

    assert problems == []
    foreign = [url for url in requested if not url.startswith((api.url + "/", "data:"))]
    assert foreign == []
    assert {f"{api.url}/graphiql/{name}" for name in graphiql.VENDORED} <= set(requested)
    assert f"{api.url}/graphql" in requested  # introspection and the query itself


def test_graphiql_page_forbids_other_hosts_and_serves_only_its_files(api: Api) -> None:
    page = httpx.get(f"{api.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    script = httpx.get(f"{api.url}/graphiql/graphiql.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    stylesheet = httpx.get(f"{api.url}/graphiql/graphiql.min.css")
    assert stylesheet.headers["content-type"].startswith("text/css")
    for name in ("versions.json", "..%2Fgraphiql.py", "react.development.js"):
        refused = httpx.get(f"{api.url}/graphiql/{name}")
        assert refused.status_code == 404, name
        assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_graphiql_without_its_files_says_how_to_get_them(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    bare = dataclasses.replace(settings, graphiql_assets=tmp_path)
    with RunningServer(create_app(bare)) as server:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert "GraphiQL is not installed" in page.text and "scripts/setup" in page.text
    assert str(tmp_path) in page.text


def test_graphiql_switched_off_is_a_json_404(settings: Settings, store: Store) -> None:
    production = dataclasses.replace(settings, environment="production", graphiql=False)
    token = issue_token(store, SYSTEM, "viewer", "browser").secret
    with RunningServer(create_app(production)) as server:
        page = httpx.get(
            f"{server.url}/graphql",
            headers={"Accept": "text/html", "Authorization": f"Bearer {token}"},
        )
        assets = httpx.get(f"{server.url}/graphiql/graphiql.min.js")
    assert page.status_code == 404
    assert page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "GraphiQL is off" in page.json()["errors"][0]["message"]
    assert assets.status_code == 404
