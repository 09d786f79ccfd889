"""What the benchmarks share: a dedicated Neo4j, the API, a raw loader, statistics.

Each benchmark starts its own Neo4j with the project's launcher (temporary home, free port,
3 GB heap, 1 GB page cache) and the API with no broker, so that actors run in-process as in
development: in a uvicorn thread of the benchmark's process (ApiServer, used by the import
benchmark, which waits on that in-process broker), or as `itsm serve` in a process of its own
(ApiProcess, used by the impact benchmark, which times single requests).
"""

from __future__ import annotations

import dataclasses
import http.client
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import neo4j
import orjson

from core.access import SYSTEM
from domain import cmdb
from domain.tokens import issue_token
from graphdb import launcher
from graphdb.driver import Graph, GraphConfig
from graphdb.write_path import Store, ident
from itsm.app import create_app
from itsm.background import BackgroundServer, free_port
from itsm.config import Settings

ROOT = Path(__file__).resolve().parent.parent

IMPORT_MUTATION = """mutation($input: ImportCIsInput!) {
  importCis(input: $input) {
    dryRun created updated unchanged rejected
    items {
      index key ciId status changedAttributes skippedAttributes
      error { field reason message }
    }
    relationships { index status error { field reason message } }
  }
}"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- servers -----------------------------------------------------------------------------------


@contextmanager
def neo4j_server(heap: str = "3g", pagecache: str = "1g") -> Iterator[GraphConfig]:
    home = Path(tempfile.mkdtemp(prefix="itsm-bench-neo4j-"))
    cfg = launcher.Neo4jLauncherConfig(
        home=home,
        port=free_port(),
        heap=heap,
        pagecache=pagecache,
        cache_dir=ROOT / ".itsm" / "neo4j-runtime",
    )
    started = time.perf_counter()
    launcher.start(cfg)
    seconds = time.perf_counter() - started
    log(f"Neo4j {cfg.version} up at {launcher.bolt_uri(cfg)} in {seconds:.1f} s")
    try:
        yield GraphConfig(uri=launcher.bolt_uri(cfg), user="neo4j", password=None, database="neo4j")
    finally:
        launcher.stop(cfg)
        shutil.rmtree(home, ignore_errors=True)


def bench_settings(graph: GraphConfig) -> Settings:
    return dataclasses.replace(
        Settings.from_env(),
        neo4j_uri=graph.uri,
        neo4j_user=graph.user,
        neo4j_password=graph.password,
        neo4j_database=graph.database,
        broker_url=None,
        anonymous_read=False,
        max_body_bytes=256 * 1024 * 1024,
        token_cache_seconds=600,
    )


class ApiServer(BackgroundServer):
    """The API app in uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(create_app(settings))


class ApiProcess:
    """The API as it is deployed: `itsm serve` in a process of its own, on a loopback port, so
    that the client timing it does not share an interpreter with it."""

    def __init__(
        self,
        graph: GraphConfig,
        log_file: Path,
        start_timeout: float = 120,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self.start_timeout = start_timeout
        self.env = {
            **os.environ,
            "NEO4J_URI": graph.uri,
            "NEO4J_USER": graph.user,
            "ITSM_HOST": "127.0.0.1",
            "ITSM_PORT": str(self.port),
            "ITSM_ANONYMOUS_READ": "false",
            "ITSM_MAX_BODY_BYTES": str(256 * 1024 * 1024),
            "ITSM_TOKEN_CACHE_SECONDS": "600",
        }
        self.env.pop("BROKER_URL", None)  # actors in-process, as in development, unless `env`
        self.env.update(env or {})
        if graph.password:
            self.env["NEO4J_PASSWORD"] = graph.password
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiProcess:
        out = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "itsm.cli", "serve", "--workers", str(self.workers)],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API process exited; see {self.log_file}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the API process did not start; see {self.log_file}")
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def admin_token(store: Store) -> str:
    return issue_token(store, SYSTEM, "admin", "bench").secret


def open_store(graph: GraphConfig) -> Store:
    return Store(Graph(graph))


def driver_for(graph: GraphConfig) -> neo4j.Driver:
    auth = (graph.user, graph.password) if graph.password else None
    return neo4j.GraphDatabase.driver(
        graph.uri, auth=auth, notifications_min_severity="OFF", max_connection_pool_size=10
    )


def wipe(driver: neo4j.Driver, database: str = "neo4j") -> None:
    """Everything but the applied migrations, in batches (auto-commit: CALL IN TRANSACTIONS)."""
    with driver.session(database=database) as session:
        session.run(
            "MATCH (n) WHERE NOT n:SchemaMigration "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()


def count_graph(driver: neo4j.Driver, database: str = "neo4j") -> tuple[int, int]:
    """CI nodes and CI-to-CI relationships of the CMDB types."""
    types = list(cmdb.RELATIONSHIP_TYPES)
    with driver.session(database=database) as session:
        nodes = session.run("MATCH (n:CI) RETURN count(n) AS c").single(strict=True)["c"]
        rels = session.run(
            "MATCH (:CI)-[r]->(:CI) WHERE type(r) IN $types RETURN count(r) AS c", types=types
        ).single(strict=True)["c"]
    return int(nodes), int(rels)


# -- the client --------------------------------------------------------------------------------


class GraphQLError(RuntimeError):
    pass


class Client:
    """GraphQL over one kept-alive HTTP connection.

    The standard library's client and orjson, because the benchmarks time the API, not the
    client: httpx spends about 0.6 ms of its own per request (1.7 against 1.1 ms for
    `{ __typename }` to the same server), and the standard json module about 1 ms reading a
    100 kB impact answer, which would be charged to the API in every latency ratio.
    """

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._connection: http.client.HTTPConnection | None = None

    def _post(self, body: bytes) -> tuple[int, bytes]:
        # A connection the server closed while idle fails on first use; it never reached the
        # server, so it is opened again and the request sent once more.
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(*self._address, timeout=900)
            try:
                self._connection.request("POST", "/graphql", body, self._headers)
                response = self._connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        request = {"query": query, "variables": variables or {}}
        status, raw = self._post(orjson.dumps(request))
        try:
            body = orjson.loads(raw)
        except ValueError:
            raise GraphQLError(f"HTTP {status}: {raw[:500]!r}") from None
        if body.get("errors"):
            raise GraphQLError(f"HTTP {status}: {body['errors'][:3]}")
        data: dict[str, Any] = body["data"]
        return data

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# -- batches -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Batch:
    items: list[dict[str, Any]]
    relationships: list[dict[str, Any]]  # both ends in this batch or an earlier one


def partition(
    items: Sequence[dict[str, Any]], relationships: Sequence[dict[str, Any]], size: int
) -> list[Batch]:
    """Items in batches of `size`; each relationship goes with the later batch of its two ends."""
    batches = [Batch(list(items[i : i + size]), []) for i in range(0, len(items), size)]
    where = {item["key"]: n for n, batch in enumerate(batches) for item in batch.items}
    for rel in relationships:
        batches[max(where[rel["sourceKey"]], where[rel["targetKey"]])].relationships.append(rel)
    return batches


# -- the raw baseline --------------------------------------------------------------------------


def raw_node_rows(items: Sequence[dict[str, Any]], first_number: int) -> list[dict[str, Any]]:
    """The node properties the API would store for these items (without provenance)."""
    rows = []
    for offset, item in enumerate(items):
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "number": f"CI{first_number + offset:07d}",
            "name": item["name"],
            "ciClass": item["ciClass"],
            "lifecycle": item.get("lifecycle") or "live",
            "criticality": item.get("criticality") or "medium",
            "version": 1,
        }
        row.update(cmdb.attributes_to_properties(item.get("attributes") or {}))
        rows.append(row)
    return rows


def raw_load(
    driver: neo4j.Driver,
    batches: Sequence[Batch],
    *,
    database: str = "neo4j",
    source: str = "bench",
) -> tuple[dict[str, str], float]:
    """Load the batches with plain UNWIND … CREATE, one transaction per batch.

    Returns key -> id and the seconds spent in the database calls.
    """
    ids: dict[str, str] = {}
    number = 1
    spent = 0.0
    with driver.session(database=database) as session:
        for batch in batches:
            rows = raw_node_rows(batch.items, number)
            number += len(rows)
            for item, row in zip(batch.items, rows, strict=True):
                ids[item["key"]] = row["id"]
            by_class: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_class.setdefault(row["ciClass"], []).append(row)
            by_type: dict[str, list[dict[str, Any]]] = {}
            for rel in batch.relationships:
                by_type.setdefault(rel["type"], []).append(
                    {
                        "s": ids[rel["sourceKey"]],
                        "t": ids[rel["targetKey"]],
                        "props": rel.get("attributes") or {},
                    }
                )

            def work(
                tx: neo4j.ManagedTransaction,
                by_class: dict[str, list[dict[str, Any]]] = by_class,
                by_type: dict[str, list[dict[str, Any]]] = by_type,
            ) -> None:
                at = datetime.now(UTC)
                for ci_class, class_rows in by_class.items():
                    tx.run(
                        f"UNWIND $rows AS row CREATE (n:CI:{ident(ci_class)}) "
                        "SET n = row, n.createdAt = $at, n.updatedAt = $at",
                        rows=class_rows,
                        at=at,
                    ).consume()
                for rel_type, rel_rows in by_type.items():
                    tx.run(
                        "UNWIND $rows AS row "
                        "MATCH (s:CI {id: row.s}) MATCH (t:CI {id: row.t}) "
                        f"CREATE (s)-[r:{ident(rel_type)}]->(t) SET r = row.props, "
                        "r.source = $source, r.firstSeen = $at, r.lastSeen = $at, "
                        "r.createdAt = $at, r.createdBy = $source",
                        rows=rel_rows,
                        at=at,
                        source=source,
                    ).consume()

            started = time.perf_counter()
            session.execute_write(work)
            spent += time.perf_counter() - started
        # Keep the API's CI numbering ahead of what was loaded here.
        session.run(
            "MERGE (c:NumberSequence {prefix: 'CI'}) SET c.last = $last", last=number - 1
        ).consume()
    return ids, spent


# -- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
