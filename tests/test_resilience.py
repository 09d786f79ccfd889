"""Neo4j going away while the API runs, and coming back."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import httpx

from core.access import SYSTEM
from domain.tokens import issue_token
from graphdb import launcher
from graphdb.driver import Graph
from graphdb.migrations import migrate
from graphdb.write_path import Store
from itsm.app import create_app
from itsm.config import Settings
from tests.conftest import RunningServer, start_test_neo4j


def test_api_reports_storage_unavailable_and_recovers_without_restart(settings: Settings) -> None:
    home = Path(tempfile.mkdtemp(prefix="itsm-test-outage-"))
    cfg = start_test_neo4j(home)
    own = dataclasses.replace(settings, neo4j_uri=launcher.bolt_uri(cfg), token_cache_seconds=60)
    store = Store(Graph(own.graph_config()))
    try:
        migrate(store.graph)
        token = issue_token(store, SYSTEM, "agent", "outage test").secret
        headers = {"Authorization": f"Bearer {token}"}
        query = {"query": "{ cis(first: 5) { totalCount } }"}
        with RunningServer(create_app(own)) as server:
            ok = httpx.post(f"{server.url}/graphql", json=query, headers=headers, timeout=30)
            assert ok.json() == {"data": {"cis": {"totalCount": 0}}}

            launcher.stop(cfg)

            ready = httpx.get(f"{server.url}/readyz", timeout=30)
            assert ready.status_code == 503
            assert "neo4j" in ready.json()["problems"]
            down = httpx.post(f"{server.url}/graphql", json=query, headers=headers, timeout=30)
            assert down.status_code == 503
            error = down.json()["errors"][0]
            assert error["extensions"]["code"] == "STORAGE_UNAVAILABLE"
            assert error["message"].startswith("storage unavailable")

            launcher.start(cfg)

            assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200
            back = httpx.post(f"{server.url}/graphql", json=query, headers=headers, timeout=30)
            assert back.json() == {"data": {"cis": {"totalCount": 0}}}
    finally:
        store.graph.close()
        launcher.stop(cfg)
        shutil.rmtree(home, ignore_errors=True)
