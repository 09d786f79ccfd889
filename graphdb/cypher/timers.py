"""Cypher for timers: one `(:Timer)` node per record and kind, found by `(state, dueAt)`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

PENDING = "pending"
FIRED = "fired"
CANCELLED = "cancelled"

# Every record type's due timers in one query, served by the `timer_due` (state, dueAt) index.
DUE = (
    "MATCH (t:Timer) WHERE t.state = 'pending' AND t.dueAt <= $now "
    "RETURN t.id AS id ORDER BY t.dueAt LIMIT $limit"
)


def set_due(
    tx: ManagedTransaction,
    key: str,
    kind: str,
    record_label: str,
    record_id: str,
    due_at: datetime,
    at: datetime,
    new_id: str,
) -> str:
    """Create the timer, or move an existing one (pending, fired or cancelled) to `due_at`."""
    record = tx.run(
        "MERGE (t:Timer {key: $key}) ON CREATE SET t.id = $newId, t.createdAt = $at "
        "SET t.kind = $kind, t.recordLabel = $label, t.recordId = $recordId, "
        "    t.state = 'pending', t.dueAt = $dueAt, t.setAt = $at "
        "REMOVE t.firedAt, t.firedVia, t.firedBy "
        "RETURN t.id AS id",
        key=key,
        newId=new_id,
        kind=kind,
        label=record_label,
        recordId=record_id,
        dueAt=due_at,
        at=at,
    ).single(strict=True)
    return str(record["id"])


def cancel(tx: ManagedTransaction, key: str, at: datetime) -> bool:
    record = tx.run(
        "MATCH (t:Timer {key: $key}) WHERE t.state = 'pending' "
        "SET t.state = 'cancelled', t.cancelledAt = $at RETURN count(t) AS n",
        key=key,
        at=at,
    ).single(strict=True)
    return int(record["n"]) > 0


def lock_if_due(tx: ManagedTransaction, timer_id: str, now: datetime) -> dict[str, Any] | None:
    """Take the timer's write lock, then read it: a second firing waits here for the first to
    commit and then sees it fired. None unless the timer is pending and due."""
    record = tx.run(
        # Writing a property takes the node's exclusive lock; a plain read would not.
        "MATCH (t:Timer {id: $id}) SET t._lock = true REMOVE t._lock "
        "WITH t WHERE t.state = 'pending' AND t.dueAt <= $now "
        "RETURN t {.id, .kind, .recordLabel, .recordId, .dueAt} AS t",
        id=timer_id,
        now=now,
    ).single()
    return dict(record["t"]) if record else None


def mark_fired(tx: ManagedTransaction, timer_id: str, at: datetime, via: str, by: str) -> None:
    tx.run(
        "MATCH (t:Timer {id: $id}) "
        "SET t.state = 'fired', t.firedAt = $at, t.firedVia = $via, t.firedBy = $by",
        id=timer_id,
        at=at,
        via=via,
        by=by,
    ).consume()


def due(tx: ManagedTransaction, now: datetime, limit: int) -> list[str]:
    return [str(r["id"]) for r in tx.run(DUE, now=now, limit=limit)]


def by_record(tx: ManagedTransaction, record_label: str, record_id: str) -> list[dict[str, Any]]:
    rows = tx.run(
        "MATCH (t:Timer {recordLabel: $label, recordId: $id}) "
        "RETURN properties(t) AS t ORDER BY t.kind",
        label=record_label,
        id=record_id,
    )
    return [dict(r["t"]) for r in rows]


def hold_lease(
    tx: ManagedTransaction, name: str, holder: str, at: datetime, until: datetime
) -> bool:
    """Take or renew the named lease for `holder` unless another holder's is still running."""
    record = tx.run(
        "MERGE (l:SchedulerLease {name: $name}) "
        # The write lock first, so that two processes cannot both see the lease free.
        "SET l._lock = true REMOVE l._lock "
        "WITH l WHERE l.holder IS NULL OR l.holder = $holder OR l.expiresAt < $at "
        "SET l.holder = $holder, l.expiresAt = $until RETURN count(l) AS n",
        name=name,
        holder=holder,
        at=at,
        until=until,
    ).single(strict=True)
    return int(record["n"]) > 0


def release_lease(tx: ManagedTransaction, name: str, holder: str) -> None:
    tx.run(
        "MATCH (l:SchedulerLease {name: $name, holder: $holder}) REMOVE l.holder, l.expiresAt",
        name=name,
        holder=holder,
    ).consume()
