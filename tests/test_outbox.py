"""The outbox: a write's messages commit with it and reach a real `itsm worker` through Redis,
even when the writing process dies before sending them or the broker is down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from core.access import SYSTEM
from core.errors import ValidationFailed
from domain import cmdb, configuration
from graphdb.cypher import outbox as outbox_cypher
from graphdb.outbox import Message
from graphdb.write_path import Store, UnitOfWork
from itsm.config import Settings
from tests.processes import ROOT, ItsmProcess, RedisServer, start_worker, wait_for
from workers.broker import install_broker, publish
from workers.relay import send

FAST_SWEEP = {"ITSM_SWEEP_SECONDS": "0.5", "ITSM_SCHEDULER_LOCK_SECONDS": "8"}


def outbox(store: Store) -> list[dict[str, Any]]:
    return store.read(outbox_cypher.pending)


def blast_radius(store: Store, name: str) -> int | None:
    value = store.read(
        lambda tx: tx.run("MATCH (n:CI {name: $name}) RETURN n.blastRadius AS b", name=name).single(
            strict=True
        )["b"]
    )
    return None if value is None else int(value)


def add_dependant_behind_the_workers_back(store: Store, name: str) -> None:
    store.graph.write(
        lambda tx: tx.run(
            "MATCH (db:CI {name: $name}) CREATE (:CI:Application {id: randomUUID(), "
            "name: 'unannounced', ciClass: 'Application'})-[:DEPENDS_ON]->(db)",
            name=name,
        ).consume()
    )


def test_a_message_is_stored_with_its_write_and_only_with_it(store: Store) -> None:
    unsent = Store(store.graph)  # no publisher: what a process that died after commit leaves
    created = configuration.register_ci(unsent, SYSTEM, cmdb.NewCI("Server", "esx-01"))
    (message,) = outbox(store)
    assert (message["actor"], message["args"]) == ("refresh_blast_radius", f'["{created["id"]}"]')
    assert message["sentAt"] is None and message["nextAttemptAt"] > message["createdAt"]

    with pytest.raises(ValidationFailed):
        configuration.register_ci(unsent, SYSTEM, cmdb.NewCI("Server", "esx-01"))
    assert len(outbox(store)) == 1  # the rolled-back registration left no message

    def undeclared(uow: UnitOfWork) -> None:
        uow.create("CI", {"name": "esx-02", "ciClass": "Server", "lifecycle": "live"})
        uow.publish("refresh_everything")

    with pytest.raises(ValueError, match="undeclared message name 'refresh_everything'"):
        store.write(SYSTEM, undeclared)
    assert store.read(lambda tx: tx.run("MATCH (n:CI {name: 'esx-02'}) RETURN n").single()) is None

    # With a broker, the message is sent after commit and marked so (no worker runs here).
    configuration.register_ci(store, SYSTEM, cmdb.NewCI("Server", "esx-03"))
    wait_for(lambda: len([m for m in outbox(store) if m["sentAt"]]) == 1, 10, what="the mark")
    assert len(outbox(store)) == 2


def test_a_writes_message_reaches_the_worker_and_leaves_the_outbox(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    worker = start_worker(itsm_processes, settings, env=FAST_SWEEP)
    db = configuration.register_ci(store, SYSTEM, cmdb.NewCI("Database", "orders-db"))
    app = configuration.register_ci(store, SYSTEM, cmdb.NewCI("Application", "checkout"))
    configuration.relate_cis(store, SYSTEM, app["id"], "DEPENDS_ON", db["id"])

    wait_for(lambda: blast_radius(store, "orders-db") == 1, 60, (worker,), "the blast radius")
    wait_for(lambda: not outbox(store), 30, (worker,), "the outbox to empty")


def test_a_message_a_crash_left_unsent_is_relayed_by_the_sweep_and_handled_once(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    # A process that commits and dies before it can hand the message to the broker.
    crashing_writer = (
        "import os\n"
        "from core.access import SYSTEM\n"
        "from domain import cmdb, configuration\n"
        "from graphdb.driver import Graph\n"
        "from graphdb.write_path import Store\n"
        "from itsm.config import Settings\n"
        "def die(message): os._exit(3)\n"
        "store = Store(Graph(Settings.from_env().graph_config()), die)\n"
        "configuration.register_ci(store, SYSTEM, cmdb.NewCI('Database', 'orders-db'))\n"
    )
    env = {"NEO4J_URI": settings.bolt_uri, "NEO4J_DATABASE": settings.neo4j_database}
    if settings.neo4j_password:
        env["NEO4J_PASSWORD"] = settings.neo4j_password
    died = subprocess.run(
        [sys.executable, "-c", crashing_writer], cwd=ROOT, env=env, timeout=120, check=False
    )
    assert died.returncode == 3
    (left,) = outbox(store)
    assert left["sentAt"] is None and blast_radius(store, "orders-db") is None

    worker = start_worker(itsm_processes, settings, env=FAST_SWEEP)
    wait_for(lambda: blast_radius(store, "orders-db") == 0, 60, (worker,), "the relayed message")
    assert "sweep: relayed 1 outbox message(s)" in worker.output()
    wait_for(lambda: not outbox(store), 30, (worker,), "the outbox to empty")

    # The broker delivers it again: the worker knows it was handled and does not run it twice
    # (running it would count the dependant added since).
    add_dependant_behind_the_workers_back(store, "orders-db")
    send(Message(left["actor"], tuple(json.loads(left["args"])), id=left["id"]))
    wait_for(
        lambda: "was skipped" in worker.output() or blast_radius(store, "orders-db") != 0,
        30,
        (worker,),
        "the duplicate",
    )
    assert blast_radius(store, "orders-db") == 0, "the duplicate ran again"


def test_with_the_broker_down_the_write_commits_and_its_message_follows_later(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    own_redis = RedisServer().start()
    try:
        worker = start_worker(itsm_processes, settings, broker_url=own_redis.url, env=FAST_SWEEP)
        install_broker(own_redis.url)
        own_redis.stop()

        started = time.monotonic()
        configuration.register_ci(Store(store.graph, publish), SYSTEM, cmdb.NewCI("Database", "db"))
        write_seconds = time.monotonic() - started
        (waiting,) = outbox(store)
        assert waiting["sentAt"] is None and waiting["attempts"] == 1
        assert "ConnectionError" in waiting["lastError"]
        assert write_seconds < 10

        own_redis.start()
        wait_for(lambda: blast_radius(store, "db") == 0, 90, (worker,), "the delayed message")
        wait_for(lambda: not outbox(store), 30, (worker,), "the outbox to empty")
    finally:
        install_broker(settings.broker_url)
        own_redis.close()
