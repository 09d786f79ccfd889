"""SLA warnings, breaches and escalation levels fired by real workers, once each, on time, through
a SIGKILLed worker, a restarted broker and two schedulers at once.

The terms are in whole minutes on a 24x7 calendar: a P1 resolution target of 2 minutes, a
warning at 50%, escalation level 1 at 150% (notifies the duty team and the assignee) and level 2
at 200% (hands the incident to the duty team, and again every minute while it stays open).
Instead of waiting minutes, a test moves the incident's recorded history back in time
(`age`: its audit entries' `at`, test-only) and re-arms its clock, so that the next event
falls due a few seconds later; the workers then fire it by the timer's delayed message or by the
sweep, as they would in production.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from core.access import SYSTEM
from domain import cmdb, configuration
from domain.incidents import clock
from domain.service_level.escalation import EscalationLevelGiven
from domain.service_level.terms import PriorityTarget, TermsGiven, write_terms
from graphdb.cypher import timers as timers_cypher
from graphdb.write_path import Store, UnitOfWork, now
from itsm.config import Settings
from tests.processes import ItsmProcess, RedisServer, start_itsm, start_worker, wait_for
from workers.broker import install_broker, publish
from workers.scheduler import LOCK_NAME

FAST = {
    "ITSM_SWEEP_SECONDS": "0.5",
    # Short, for a quick takeover; long enough for a slow sweep on a busy machine.
    "ITSM_SCHEDULER_LOCK_SECONDS": "8",
}
SECOND = timedelta(seconds=1)
# How late an event may fire after it fell due: the delayed message wakes a worker at once; the
# sweep runs every half second; a busy 2-core machine adds a few seconds.
ON_TIME = 6 * SECOND


@dataclass(frozen=True)
class Estate:
    service: str
    team: str
    duty: str
    assignee: str
    sla: str
    terms: str


def estate(store: Store) -> Estate:
    service = str(configuration.register_ci(store, SYSTEM, cmdb.NewCI("Service", "shop"))["id"])

    def build(uow: UnitOfWork) -> Estate:
        team = uow.create("Team", {"name": "Web", "state": "active"})["id"]
        duty = uow.create("Team", {"name": "Duty Managers", "state": "active"})["id"]
        person = uow.create(
            "Person", {"name": "Ana", "email": "ana@example.com", "state": "active"}
        )["id"]
        sla = uow.create("SLA", {"name": "Shop", "state": "active"})["id"]
        uow.link("SLA", sla, "COVERS", "CI", service)
        written = write_terms(
            uow,
            "SLA",
            sla,
            TermsGiven(
                resolution=[PriorityTarget("P1", 2)],
                warning_percents=[50],
                escalation=[
                    EscalationLevelGiven(
                        clock="resolution", at_percent=150, notify=[duty], notify_assignee=True
                    ),
                    EscalationLevelGiven(
                        clock="resolution",
                        at_percent=200,
                        reassign_to=duty,
                        notify=[duty],
                        repeat_every_minutes=1,
                    ),
                ],
            ),
        )
        return Estate(service, team, duty, person, sla, written.terms.id)

    return store.write(SYSTEM, build)


def open_incident(store: Store, where: Estate, title: str = "Checkout fails") -> str:
    """A P1 incident on the shop, assigned to the web team and Ana, governed by the terms."""

    def work(uow: UnitOfWork) -> str:
        incident = uow.create(
            "Incident",
            {
                "title": title,
                "impact": "high",
                "urgency": "high",
                "priority": "P1",
                "state": "assigned",
            },
        )
        iid = str(incident["id"])
        uow.link("Incident", iid, "AFFECTS", "CI", where.service)
        uow.link("Incident", iid, "ASSIGNED_TO", "Team", where.team)
        uow.link("Incident", iid, "WORKED_BY", "Person", where.assignee)
        uow.link("Incident", iid, "GOVERNED_BY", "SLA", where.sla)
        uow.link("Incident", iid, "GOVERNED_BY", "AgreementTerms", where.terms)
        clock.rearm(uow, uow.lock("Incident", iid))
        return iid

    return store.write(SYSTEM, work)


def age(store: Store, incident_id: str, elapsed: timedelta) -> None:
    """Move the incident's recorded history back so that it opened `elapsed` ago, and re-arm its
    clock (test-only: the clocks are a function of that history, so this is what waiting would
    do)."""

    def work(uow: UnitOfWork) -> None:
        uow.tx.run(
            "MATCH (a:AuditEntry {recordId: $id}) WITH collect(a) AS entries, min(a.at) AS first "
            "UNWIND entries AS a SET a.at = a.at + duration.between(first, $opened)",
            id=incident_id,
            opened=uow.at - elapsed,
        ).consume()
        clock.rearm(uow, uow.lock("Incident", incident_id))

    store.write(SYSTEM, work)


def worker_pids(process: ItsmProcess) -> set[int]:
    """The worker's process and the dramatiq processes it runs its actors in."""
    tasks = Path(f"/proc/{process.pid}/task")
    return {process.pid} | {
        int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()
    }


def kill_with_its_workers(process: ItsmProcess) -> None:
    """SIGKILL a worker: the dramatiq processes that run the actors, then their parent, so that
    nothing of it acks, retries or sweeps."""
    children = worker_pids(process) - {process.pid}
    assert children, "a worker runs its actors in child processes"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    process.proc.send_signal(signal.SIGKILL)
    process.proc.wait(timeout=30)
    for pid in children:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10)


def _zombie(pid: int) -> bool:
    return " Z " in Path(f"/proc/{pid}/stat").read_text(errors="replace")


def sla_events(store: Store, incident_id: str) -> list[dict[str, Any]]:
    found = store.read(lambda tx: clock.cypher.events_of(tx, [incident_id]))[incident_id]
    for event in found:
        for name in ("dueAt", "firedAt"):
            event[name] = event[name].to_native()
    return found


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(e["kind"], e.get("level")) for e in events]


def incident(store: Store, incident_id: str) -> dict[str, Any]:
    found = store.read(lambda tx: clock.cypher.incident(tx, incident_id))
    assert found is not None
    return found


def count_of(store: Store, incident_id: str, n: int) -> Any:
    return lambda: len(found) >= n and found if (found := sla_events(store, incident_id)) else None


def assert_on_time(events: list[dict[str, Any]], not_before: datetime | None = None) -> None:
    for event in events:
        start = max(event["dueAt"], not_before) if not_before else event["dueAt"]
        assert event["dueAt"] <= event["firedAt"] <= start + ON_TIME, event


WARNED, BREACHED, LEVEL_1, LEVEL_2 = (
    ("warned", None),
    ("breached", None),
    ("escalated", 1),
    ("escalated", 2),
)


def test_warning_breach_and_each_level_fire_once_on_time_and_notify_whom_the_terms_say(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    # No scheduler: each event is fired by its timer's delayed message alone.
    worker = start_worker(itsm_processes, settings, "--no-scheduler", env=FAST)
    where = estate(store)
    iid = open_incident(store, where)
    opened = incident(store, iid)
    assert opened["slaStage"] == "ok"
    assert opened["resolutionDueAt"].to_native() > now() + 100 * SECOND
    assert "responseDueAt" not in opened  # no response target at P1: nothing falls due

    # 57 s of the 60 before the warning have passed.
    age(store, iid, 57 * SECOND)
    events = wait_for(count_of(store, iid, 1), 30, (worker,), "the warning")
    assert kinds(events) == [WARNED]
    assert incident(store, iid)["slaStage"] == "warning"

    age(store, iid, 117 * SECOND)
    events = wait_for(count_of(store, iid, 2), 30, (worker,), "the breach")
    assert kinds(events) == [WARNED, BREACHED]
    assert incident(store, iid)["slaStage"] == "breached"

    age(store, iid, 177 * SECOND)
    events = wait_for(count_of(store, iid, 3), 30, (worker,), "escalation level 1")
    assert kinds(events) == [WARNED, BREACHED, LEVEL_1]
    assert_on_time(events)
    assert {e["firedVia"] for e in events} == {"message"}
    warned, breached, level_1 = events
    assistant, team, duty = (f"Person:{where.assignee}", f"Team:{where.team}", f"Team:{where.duty}")
    assert warned["recipients"] == [assistant, team] and warned["percent"] == 50
    assert breached["recipients"] == [assistant, team]
    # Level 1 notifies the duty team and whoever holds the incident: its assignee.
    assert level_1["recipients"] == [duty, assistant]

    # Nothing fires twice: more sweeps and the delayed messages come and go.
    time.sleep(3)
    assert kinds(sla_events(store, iid)) == [WARNED, BREACHED, LEVEL_1]


def test_a_clock_that_is_paused_or_stopped_fires_nothing(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    worker = start_worker(itsm_processes, settings, env=FAST)
    where = estate(store)
    waiting, resolved = open_incident(store, where, "Waits"), open_incident(store, where, "Done")

    def step(iid: str, state: str, **changes: Any) -> None:
        def work(uow: UnitOfWork) -> None:
            clock.rearm(
                uow,
                uow.transition("Incident", iid, state, expected_version=None, changes=changes),
            )

        store.write(SYSTEM, work)

    step(waiting, "on_hold", holdReason="awaiting_caller")
    step(resolved, "resolved", resolutionCode="fixed", resolutionNotes="restarted")
    # Their history is now far past every event, but their clocks do not run.
    age(store, waiting, 10 * 60 * SECOND)
    age(store, resolved, 10 * 60 * SECOND)
    for iid in (waiting, resolved):
        timers = store.read(lambda tx, i=iid: timers_cypher.by_record(tx, "Incident", i))
        assert [t["state"] for t in timers] == ["cancelled"]
        assert "resolutionDueAt" not in incident(store, iid)
    time.sleep(3)
    assert sla_events(store, waiting) == [] and sla_events(store, resolved) == []

    # Back from the hold, the clock runs on from its 0 s: the events fall due again, in time.
    step(waiting, "in_progress")
    assert incident(store, waiting)["resolutionDueAt"].to_native() > now() + 100 * SECOND
    assert worker.alive()


def test_escalations_due_while_a_worker_is_killed_fire_once_by_the_next_worker(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    first = start_worker(itsm_processes, settings, env=FAST)
    where = estate(store)
    iid = open_incident(store, where)
    # The warning falls due 3 s from now: the worker holds its delayed message (dramatiq keeps
    # delayed messages in memory until they are due) when it is killed.
    age(store, iid, 57 * SECOND)
    time.sleep(1)
    kill_with_its_workers(first)
    time.sleep(3)
    # Now the warning is due, and the breach and level 1 too, with nobody there to fire them.
    age(store, iid, 177 * SECOND)
    time.sleep(1)
    assert sla_events(store, iid) == []

    started = now()
    second = start_worker(itsm_processes, settings, env=FAST)
    events = wait_for(count_of(store, iid, 3), 60, (second,), "the next worker")
    assert kinds(events) == [WARNED, BREACHED, LEVEL_1]
    assert {int(e["firedBy"].split(":")[-1]) for e in events} <= worker_pids(second)
    # The new worker sweeps once the dead one's scheduler lock runs out (8 s).
    assert_on_time(events, not_before=started + 8 * SECOND)
    time.sleep(3)
    assert kinds(sla_events(store, iid)) == [WARNED, BREACHED, LEVEL_1]


@pytest.fixture
def own_redis(settings: Settings) -> Iterator[RedisServer]:
    server = RedisServer().start()
    install_broker(server.url)
    try:
        yield server
    finally:
        install_broker(settings.broker_url)
        server.close()


def test_escalations_pending_over_a_broker_restart_still_fire_once(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess], own_redis: RedisServer
) -> None:
    worker = start_worker(itsm_processes, settings, broker_url=own_redis.url, env=FAST)
    broker_store = Store(store.graph, publish)
    where = estate(broker_store)
    iid = open_incident(broker_store, where)
    age(broker_store, iid, 176 * SECOND)  # warning, breach and level 1 due in 4 s
    own_redis.stop()  # the delayed messages are gone with it: it keeps nothing on disk
    time.sleep(5)
    own_redis.start()  # the same port

    events = wait_for(count_of(store, iid, 3), 60, (worker,), "the events after the restart")
    assert kinds(events) == [WARNED, BREACHED, LEVEL_1]
    time.sleep(3)
    assert kinds(sla_events(store, iid)) == [WARNED, BREACHED, LEVEL_1]
    assert worker.alive()


def test_two_schedulers_fire_each_incident_event_once_from_the_lock_holders_sweep(
    store: Store, settings: Settings, itsm_processes: list[ItsmProcess]
) -> None:
    client = redis.Redis.from_url(settings.broker_url or "")
    ready = "scheduler started"
    schedulers = (
        start_itsm(itsm_processes, settings, "scheduler", ready=ready, env=FAST),
        start_itsm(itsm_processes, settings, "scheduler", ready=ready, env=FAST),
    )

    def holder() -> int | None:
        token = client.get(LOCK_NAME)
        return None if token is None else int(token.decode().split(":")[-2])

    holder_pid = wait_for(holder, 20, schedulers, "a lock holder")
    # A broker that accepts the wake-up messages and loses them: only sweeps can fire.
    lost = Store(store.graph, lambda message: None)
    where = estate(lost)
    incidents = [open_incident(lost, where, f"Outage {n}") for n in range(3)]
    for iid in incidents:
        age(lost, iid, 178 * SECOND)
    for iid in incidents:
        events = wait_for(count_of(store, iid, 3), 30, schedulers, "the sweep")
        assert kinds(events) == [WARNED, BREACHED, LEVEL_1]
        assert {e["firedVia"] for e in events} == {"sweep"}
        assert {e["firedBy"].split(":")[-1] for e in events} == {str(holder_pid)}
    time.sleep(2)
    assert [len(sla_events(store, iid)) for iid in incidents] == [3, 3, 3]
