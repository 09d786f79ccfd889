"""Timers: fired once, by the delayed message or by the sweep, with real workers and schedulers.

The timer kind `test.mark_ci` (tests/timer_kinds.py) counts its firings on a CI; the worker and
scheduler processes load it through `ITSM_EXTENSION_MODULES`.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import redis

from core.access import SYSTEM
from domain import cmdb, configuration
from graphdb import timers
from graphdb.cypher import timers as timers_cypher
from graphdb.write_path import Store, now
from itsm.config import Settings
from tests.processes import ItsmProcess, start_itsm, start_worker, wait_for
from tests.timer_kinds import MARK_CI
from workers.scheduler import LOCK_NAME, GraphLease

FAST = {
    "ITSM_EXTENSION_MODULES": "tests.timer_kinds",
    "ITSM_SWEEP_SECONDS": "0.5",
    # Short, for a quick takeover; long enough for a slow sweep on a busy machine.
    "ITSM_SCHEDULER_LOCK_SECONDS": "8",
}


def new_ci(store: Store, name: str) -> str:
    return str(configuration.register_ci(store, SYSTEM, cmdb.NewCI("Server", name))["id"])


def set_timer(store: Store, ci_id: str, due_at: datetime) -> str:
    return str(store.write(SYSTEM, lambda uow: timers.set_timer(uow, MARK_CI, "CI", ci_id, due_at)))


def losing_broker(store: Store) -> Store:
    """Writes whose messages the broker accepts and then loses."""
    return Store(store.graph, lambda message: None)


def timer_of(store: Store, ci_id: str) -> dict[str, Any]:
    found = store.read(lambda tx: timers_cypher.by_record(tx, "CI", ci_id))
    assert len(found) == 1
    return found[0]


def fired_count(store: Store, ci_id: str) -> int:
    return int(
        store.read(
            lambda tx: tx.run(
                "MATCH (n:CI {id: $id}) RETURN coalesce(n.timerFired, 0) AS c", id=ci_id
            ).single(strict=True)["c"]
        )
    )


def fired(store: Store, ci_id: str) -> dict[str, Any] | None:
    timer = timer_of(store, ci_id)
    return timer if timer["state"] == "fired" else None


def test_the_due_query_is_one_index_seek_over_every_record_type(store: Store) -> None:
    plan = store.read(
        lambda tx: tx.run("EXPLAIN " + timers_cypher.DUE, now=now(), limit=10).consume().plan
    )
    operators: list[str] = []

    def walk(node: Any) -> None:
        operators.append(node["operatorType"])
        for child in node.get("children", []):
            walk(child)

    walk(plan)
    assert any(op.startswith("NodeIndexSeek") for op in operators), operators
    assert not any("LabelScan" in op or "AllNodesScan" in op for op in operators), operators


def test_a_timer_fires_at_its_due_time_by_the_delayed_message(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    # No scheduler: only the delayed message can fire these timers.
    worker = start_worker(itsm_processes, settings, "--no-scheduler", env=FAST)
    on_time, moved = new_ci(store, "esx-01"), new_ci(store, "esx-02")
    at = now()
    set_timer(store, on_time, at + timedelta(seconds=3))
    set_timer(store, moved, at + timedelta(seconds=3))
    set_timer(store, moved, at + timedelta(seconds=7))  # the first wake-up finds it not due

    wait_for(lambda: fired(store, on_time), 30, (worker,), "the timer to fire")
    assert fired(store, moved) is None
    first = timer_of(store, on_time)
    assert first["firedVia"] == "message"
    assert at + timedelta(seconds=3) <= first["firedAt"].to_native() <= at + timedelta(seconds=8)

    wait_for(lambda: fired(store, moved), 30, (worker,), "the moved timer to fire")
    assert timer_of(store, moved)["firedAt"].to_native() >= at + timedelta(seconds=7)
    assert (fired_count(store, on_time), fired_count(store, moved)) == (1, 1)


def test_the_sweep_fires_a_timer_whose_message_was_lost(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    worker = start_worker(itsm_processes, settings, env=FAST)
    ci_id = new_ci(store, "esx-01")
    set_timer(losing_broker(store), ci_id, now() + timedelta(seconds=1))

    timer = wait_for(lambda: fired(store, ci_id), 30, (worker,), "the sweep to fire the timer")
    assert timer["firedVia"] == "sweep"
    assert fired_count(store, ci_id) == 1


def test_a_timer_fires_once_with_two_workers_and_duplicate_messages(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    workers = (
        start_worker(itsm_processes, settings, env=FAST),
        start_worker(itsm_processes, settings, env=FAST),
    )
    ci_id = new_ci(store, "esx-01")
    due = now() + timedelta(seconds=3)
    timer_id = set_timer(store, ci_id, due)
    # The same wake-up again and again, around the due time: a broker redelivering, a client
    # retrying. The sweeps of both workers race them.
    fire = dramatiq.get_broker().get_actor(timers.FIRE_TIMER)
    for delay_ms in range(2800, 3400, 30):
        fire.send_with_options(args=(timer_id,), delay=delay_ms)

    wait_for(lambda: fired(store, ci_id), 30, workers, "the timer to fire")
    # Let every duplicate arrive, and a few sweeps run.
    wait_for(lambda: now() > due + timedelta(seconds=4), 10)
    assert fired_count(store, ci_id) == 1
    assert all(w.alive() for w in workers)


def lock_holder(client: redis.Redis) -> int | None:
    token = client.get(LOCK_NAME)
    return None if token is None else int(token.decode().split(":")[-2])


def test_one_scheduler_sweeps_at_a_time_and_another_takes_over(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    client = redis.Redis.from_url(settings.broker_url or "")
    ready = "scheduler started"
    first = start_itsm(itsm_processes, settings, "scheduler", ready=ready, env=FAST)
    second = start_itsm(itsm_processes, settings, "scheduler", ready=ready, env=FAST)
    by_pid = {first.pid: first, second.pid: second}
    holder_pid = wait_for(lambda: lock_holder(client), 20, (first, second), "a lock holder")
    holder = by_pid[holder_pid]
    standby = second if holder is first else first

    lost = losing_broker(store)
    ci_ids = []
    for n in range(3):
        ci_ids.append(new_ci(store, f"esx-{n}"))
        set_timer(lost, ci_ids[-1], now())
        wait_for(lambda: fired(store, ci_ids[-1]), 20, (first, second), "the sweep")
    assert lock_holder(client) == holder.pid, holder.output() + standby.output()
    assert {timer_of(store, c)["firedBy"].split(":")[-1] for c in ci_ids} == {str(holder.pid)}
    assert "sweep: " in holder.output()
    assert "sweep: " not in standby.output()
    assert "standing by" in standby.output()

    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(timeout=30)
    wait_for(lambda: lock_holder(client) == standby.pid, 30, (standby,), "the takeover")

    after = new_ci(store, "esx-after")
    set_timer(lost, after, now())
    timer = wait_for(lambda: fired(store, after), 20, (standby,), "the new holder's sweep")
    assert timer["firedBy"].endswith(f":{standby.pid}")
    assert [fired_count(store, c) for c in [*ci_ids, after]] == [1, 1, 1, 1]


def test_without_redis_the_scheduler_lock_is_a_lease_in_neo4j(store: Store) -> None:
    first, second = GraphLease(store, 1.0), GraphLease(store, 1.0)
    assert first.hold()
    assert not second.hold()
    assert first.hold()  # renewed by its holder
    time.sleep(1.3)  # the holder stopped renewing: the lease runs out
    assert second.hold()
    assert not first.hold()
    second.release()  # a holder that stops lets the next one in at once
    assert first.hold()
