"""Messages go through the real Redis broker to a real `itsm worker` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from core.access import SYSTEM
from domain import cmdb, configuration, reconciliation
from graphdb.write_path import Store
from itsm.config import Settings
from tests.conftest import ROOT


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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and blast_radius(store, db["id"]) != 3:
        assert worker.poll() is None, "the worker process died"
        time.sleep(0.25)
    assert (blast_radius(store, db["id"]), blast_radius(store, app["id"])) == (3, 2)
    assert blast_radius(store, svc["id"]) == 1
