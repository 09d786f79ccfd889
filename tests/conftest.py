"""Real services for the tests: Neo4j started by the project's launcher, Redis as a subprocess.

`NEO4J_URI` / `BROKER_URL` in the environment point the tests at servers that are already running
instead. Nothing is mocked: the API runs in uvicorn on a loopback port and is called over HTTP.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.access import SYSTEM
from domain.tokens import issue_token
from graphdb import launcher
from graphdb.driver import Graph, GraphConfig
from graphdb.migrations import migrate
from graphdb.write_path import Store
from itsm.app import create_app
from itsm.background import BackgroundServer, free_port
from itsm.config import Settings
from tests.notify_servers import push_receiver, smtp_server  # noqa: F401 (fixtures)
from tests.processes import RedisServer, itsm_processes  # noqa: F401 (a fixture)
from workers.broker import install_broker, publish

ROOT = Path(__file__).resolve().parent.parent


def start_test_neo4j(home: Path) -> launcher.Neo4jLauncherConfig:
    cfg = launcher.Neo4jLauncherConfig(
        home=home,
        port=free_port(),
        heap="1536m",
        pagecache="256m",
        cache_dir=ROOT / ".itsm" / "neo4j-runtime",
    )
    launcher.start(cfg)
    return cfg


def memory_backed_dir() -> str | None:
    """A RAM-backed directory for the throwaway test database, where there is one.

    Each commit is forced to disk; on tmpfs that costs nothing, and the suite commits tens of
    thousands of transactions (measured here: 6.4 ms a minimal write on tmpfs, 9.2 ms on disk).
    The database is deleted after the run either way, so durability buys nothing.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 * 1024**3:
        return str(shm)
    return None


@pytest.fixture(scope="session")
def neo4j_config() -> Iterator[GraphConfig]:
    uri = os.environ.get("NEO4J_URI")
    if uri:
        yield GraphConfig(
            uri=uri,
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD"),
            database=os.environ.get("NEO4J_DATABASE", "neo4j"),
        )
        return
    home = Path(tempfile.mkdtemp(prefix="itsm-test-neo4j-", dir=memory_backed_dir()))
    cfg = start_test_neo4j(home)
    try:
        yield GraphConfig(uri=launcher.bolt_uri(cfg), user="neo4j", password=None, database="neo4j")
    finally:
        launcher.stop(cfg)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    url = os.environ.get("BROKER_URL")
    if url:
        yield url
        return
    try:
        redis_server = RedisServer().start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield redis_server.url
    finally:
        redis_server.close()


@pytest.fixture(scope="session")
def settings(neo4j_config: GraphConfig, broker_url: str) -> Settings:
    base = Settings.from_env()
    return dataclasses.replace(
        base,
        neo4j_uri=neo4j_config.uri,
        neo4j_user=neo4j_config.user,
        neo4j_password=neo4j_config.password,
        neo4j_database=neo4j_config.database,
        broker_url=broker_url,
        anonymous_read=False,
        token_cache_seconds=0,
        storage_retry_seconds=2,
    )


@pytest.fixture(scope="session")
def session_store(settings: Settings) -> Iterator[Store]:
    install_broker(settings.broker_url)
    store = Store(Graph(settings.graph_config()), publish)
    migrate(store.graph)
    yield store
    store.graph.close()


@pytest.fixture
def store(session_store: Store) -> Store:
    """The store on an empty graph (schema kept)."""
    session_store.graph.write(
        lambda tx: tx.run("MATCH (n) WHERE NOT n:SchemaMigration DETACH DELETE n").consume()
    )
    return session_store


RunningServer = BackgroundServer


@pytest.fixture(scope="session")
def api_server(settings: Settings, session_store: Store) -> Iterator[RunningServer]:
    with RunningServer(create_app(settings)) as server:
        yield server


@dataclasses.dataclass
class Api:
    url: str
    token: str | None

    def post(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        return httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=300,
            **kw,
        )

    def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body or not body["errors"], body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def ok_counting_reads(
        self, graph: Graph, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], int]:
        """The answer and the read transactions made for this request alone, so background work
        reading at the same time (in-process actors, sweeps) does not count."""
        response = self.post(query, variables)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body or not body["errors"], body["errors"]
        data: dict[str, Any] = body["data"]
        return data, graph.reads_of(response.headers["x-request-id"])

    def as_role(self, store: Store, role: str) -> Api:
        return Api(self.url, issue_token(store, SYSTEM, role, f"test {role}").secret)


@pytest.fixture
def api(api_server: RunningServer, store: Store) -> Api:
    """An agent's client against the real app over HTTP, on an empty graph."""
    return Api(api_server.url, issue_token(store, SYSTEM, "agent", "test agent").secret)
