"""Timers: due times kept in the graph, fired once by a worker.

A timer is one `(:Timer {key, kind, recordLabel, recordId, state, dueAt, firedAt})` node per
record and kind (an incident's response clock, its resolution clock …), whatever the record type,
so that one indexed query over `(state, dueAt)` finds everything due. Setting a timer inside a unit
of work also raises a delayed `fire_timer` message through the outbox, which wakes a worker at the
due time; the scheduler's periodic sweep fires whatever a lost message missed.

Firing claims the timer and runs its kind's handler in one write transaction: the handler's
changes and the `fired` state commit together, so a timer fires once however many messages and
sweeps reach it, and a handler that fails leaves the timer due for the next try.

Timer kinds are registered by the domain (`timer_kind`), each with its handler.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.access import SYSTEM
from core.record_types import RECORD_TYPES
from graphdb.cypher import timers as timers_cypher
from graphdb.outbox import message_name
from graphdb.write_path import Store, UnitOfWork, now

log = logging.getLogger(__name__)

FIRE_TIMER = message_name("fire_timer")


@dataclass(frozen=True)
class DueTimer:
    id: str
    kind: str
    record_label: str
    record_id: str
    due_at: datetime


TimerHandler = Callable[[UnitOfWork, DueTimer], None]


@dataclass(frozen=True)
class TimerKind:
    name: str
    handler: TimerHandler
    description: str = ""


TIMER_KINDS: dict[str, TimerKind] = {}


def timer_kind(name: str, description: str = "") -> Callable[[TimerHandler], TimerHandler]:
    """Register the decorated domain function as the handler of timers of this kind.

    The handler runs inside the firing transaction with the system identity; what it writes
    commits together with the timer's `fired` state.
    """

    def register(handler: TimerHandler) -> TimerHandler:
        existing = TIMER_KINDS.get(name)
        if existing is not None and existing.handler is not handler:
            raise ValueError(f"timer kind {name!r} is already registered")
        TIMER_KINDS[name] = TimerKind(name, handler, description)
        return handler

    return register


def _key(kind: str, record_label: str, record_id: str) -> str:
    return f"{record_label}:{record_id}:{kind}"


def set_timer(
    uow: UnitOfWork, kind: str, record_label: str, record_id: str, due_at: datetime
) -> str:
    """Set (or move) the record's timer of this kind; returns the timer's id."""
    if kind not in TIMER_KINDS:
        raise ValueError(f"unknown timer kind {kind!r}")
    if record_label not in RECORD_TYPES:
        raise ValueError(f"not a record type: {record_label!r}")
    if due_at.tzinfo is None:
        raise ValueError("a timer's due time needs a time zone")
    timer_id = timers_cypher.set_due(
        uow.tx,
        _key(kind, record_label, record_id),
        kind,
        record_label,
        record_id,
        due_at,
        uow.at,
        str(uuid.uuid4()),
    )
    uow.publish(FIRE_TIMER, timer_id, eta=due_at)
    return timer_id


def cancel_timer(uow: UnitOfWork, kind: str, record_label: str, record_id: str) -> bool:
    """Stop a pending timer (a clock that no longer runs); False when none was pending."""
    return timers_cypher.cancel(uow.tx, _key(kind, record_label, record_id), uow.at)


def process_name() -> str:
    """Who fired a timer, as operators find it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fire(store: Store, timer_id: str, via: str) -> bool:
    """Fire the timer if it is due and not fired yet; True when this call fired it."""

    def work(uow: UnitOfWork) -> bool:
        row = timers_cypher.lock_if_due(uow.tx, timer_id, uow.at)
        if row is None:
            return False
        kind = TIMER_KINDS.get(row["kind"])
        if kind is None:
            # Raising keeps the timer due: a process that knows the kind will fire it.
            raise LookupError(f"timer {timer_id}: no handler for kind {row['kind']!r} here")
        timers_cypher.mark_fired(uow.tx, timer_id, uow.at, via, process_name())
        kind.handler(
            uow,
            DueTimer(
                row["id"],
                row["kind"],
                row["recordLabel"],
                row["recordId"],
                row["dueAt"].to_native(),
            ),
        )
        return True

    fired = store.write(SYSTEM, work)
    if fired:
        log.info("fired timer %s (via %s)", timer_id, via)
    return fired


def fire_due(store: Store, *, limit: int = 500, renew: Callable[[], None] | None = None) -> int:
    """The sweep: fire every timer that is due; returns how many fired. `renew` is called between
    timers so that a long sweep keeps its scheduler lock."""
    at = now()
    due = store.read(lambda tx: timers_cypher.due(tx, at, limit))
    fired = 0
    for timer_id in due:
        try:
            fired += fire(store, timer_id, "sweep")
        except Exception:
            log.exception("timer %s did not fire; the next sweep tries again", timer_id)
        if renew is not None:
            renew()
    return fired
