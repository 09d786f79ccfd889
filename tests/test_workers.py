"""Messages go through the real Redis broker to a real `itsm worker` process; the one list of
actors; development mode without a broker."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from core.access import SYSTEM
from domain import cmdb, configuration, reconciliation
from domain.tokens import issue_token
from graphdb.outbox import MESSAGE_NAMES
from graphdb.write_path import Store
from itsm.app import create_app
from itsm.config import Settings
from tests.conftest import ROOT, Api, RunningServer
from tests.processes import wait_for
from tests.test_cmdb import ci, relate
from tests.test_outbox import blast_radius as radius_by_name
from workers.broker import install_broker
from workers.registry import ACTORS


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "NEO4J_URI": settings.bolt_uri,
        "NEO4J_DATABASE": settings.neo4j_database,
        "BROKER_URL": settings.broker_url or "",
    }
    if settings.neo4j_password:
        env["NEO4J_PASSWORD"] = settings.neo4j_password
    # Messages left by earlier tests point at CIs that are gone; start from an empty queue.
    redis.Redis.from_url(settings.broker_url or "").flushdb()
    proc = subprocess.Popen(
        [sys.executable, "-m", "itsm.cli", "worker", "--processes", "1", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=30)


def blast_radius(store: Store, ci_id: str) -> int | None:
    value = store.graph.read(
        lambda tx: tx.run("MATCH (n:CI {id: $id}) RETURN n.blastRadius AS b", id=ci_id).single(
            strict=True
        )["b"]
    )
    return None if value is None else int(value)


def test_relating_cis_makes_the_worker_recompute_blast_radius(
    store: Store, worker: subprocess.Popen[bytes]
) -> None:
    db = configuration.register_ci(store, SYSTEM, cmdb.NewCI("Database", "orders-db"))
    app = configuration.register_ci(store, SYSTEM, cmdb.NewCI("Application", "checkout"))
    svc = configuration.register_ci(store, SYSTEM, cmdb.NewCI("Service", "Online Shop"))
    configuration.relate_cis(store, SYSTEM, app["id"], "DEPENDS_ON", db["id"])
    configuration.relate_cis(store, SYSTEM, svc["id"], "DEPENDS_ON", app["id"])

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if blast_radius(store, db["id"]) == 2 and blast_radius(store, app["id"]) == 1:
            break
        assert worker.poll() is None, "the worker process died"
        time.sleep(0.25)
    assert blast_radius(store, db["id"]) == 2
    assert blast_radius(store, app["id"]) == 1

    # An import that adds a dependant of the service raises the figure all the way down.
    reconciliation.import_cis(
        store,
        SYSTEM,
        "test",
        [reconciliation.ImportItem("Application", "mobile-app", key="m")],
        [reconciliation.ImportRelationship("DEPENDS_ON", source_key="m", target_id=svc["id"])],
    )
    # Each CI's figure is its own message: wait for all of them, not for the first.
    wanted = {db["id"]: 3, app["id"]: 2, svc["id"]: 1}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(blast_radius(store, ci) == n for ci, n in wanted.items()):
            break
        assert worker.poll() is None, "the worker process died"
        time.sleep(0.25)
    assert {ci: blast_radius(store, ci) for ci in wanted} == wanted


def test_every_message_name_published_has_an_actor() -> None:
    # Importing every module runs every `message_name` declaration.
    for package in ("core", "domain", "graphdb", "workers", "resolvers", "schema", "itsm"):
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if module.name != "workers.main":  # the worker process's entry: connects on import
                importlib.import_module(module.name)
    actor_names = {spec.name for spec in ACTORS}
    assert MESSAGE_NAMES, "no message names declared"
    assert not MESSAGE_NAMES - actor_names, f"no actor for {sorted(MESSAGE_NAMES - actor_names)}"
    assert len(actor_names) == len(ACTORS), "two actors share a name"
    # A literal name handed straight to `publish` must be declared too (publish refuses others).
    for path in ROOT.glob("[!.]*/**/*.py"):
        for name in re.findall(r"\.publish\(\s*[\"']([^\"']+)[\"']", path.read_text()):
            if path.parts[-2] != "tests":
                assert name in MESSAGE_NAMES, f"{path}: publishes undeclared {name!r}"


def test_the_worker_modules_import_one_way() -> None:
    """workers/ must import without a cycle between its modules."""
    imports: dict[str, set[str]] = {}
    for path in (ROOT / "workers").glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {n.split(".")[1] for n in names if n.startswith("workers.")}
        imports[path.stem] = found - {path.stem}

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, f"import cycle: {' -> '.join((*trail, module))}"
        for target in imports.get(module, ()):
            visit(target, (*trail, module))

    for module in imports:
        visit(module, ())


def test_without_a_broker_actors_and_relay_run_inside_the_api(
    settings: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    development = dataclasses.replace(settings, broker_url=None, sweep_seconds=0.5)
    try:
        with RunningServer(create_app(development)) as server:
            api = Api(server.url, issue_token(store, SYSTEM, "agent", "dev agent").secret)
            db, app = ci(api, "orders-db", "Database"), ci(api, "checkout", "Application")
            relate(api, app["id"], "DEPENDS_ON", db["id"])
            # A message a crashed process left in the outbox: the in-process sweep sends it.
            configuration.register_ci(Store(store.graph), SYSTEM, cmdb.NewCI("Server", "esx-01"))

            wait_for(lambda: radius_by_name(store, "orders-db") == 1, what="the in-process actor")
            wait_for(lambda: radius_by_name(store, "esx-01") == 0, what="the in-process relay")
        assert any("actors, the outbox relay and the timer sweep run inside this API" in r.message
                   for r in caplog.records)  # fmt: skip
    finally:
        install_broker(settings.broker_url)
