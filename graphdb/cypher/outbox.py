"""Cypher for the outbox: messages stored with the change that raised them, until relayed.

A message waiting to be sent has `nextAttemptAt` (indexed); once the broker took it that
property goes and `sentAt` is set; the worker that handled it deletes the node.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction


def store(tx: ManagedTransaction, rows: Sequence[dict[str, Any]], at: datetime) -> None:
    """rows: id, actor, args (JSON), etaAt, nextAttemptAt."""
    tx.run(
        "UNWIND $rows AS row CREATE (m:OutboxMessage) "
        "SET m = row, m.createdAt = $at, m.attempts = 0",
        rows=list(rows),
        at=at,
    ).consume()


def mark_sent(tx: ManagedTransaction, ids: Sequence[str], at: datetime) -> None:
    tx.run(
        "UNWIND $ids AS id MATCH (m:OutboxMessage {id: id}) "
        "SET m.sentAt = $at, m.attempts = m.attempts + 1 REMOVE m.nextAttemptAt, m.lastError",
        ids=list(ids),
        at=at,
    ).consume()


def record_failures(tx: ManagedTransaction, rows: Sequence[dict[str, Any]]) -> None:
    """rows: id, nextAttemptAt, error. A message already handled (deleted) stays gone."""
    tx.run(
        "UNWIND $rows AS row MATCH (m:OutboxMessage {id: row.id}) WHERE m.sentAt IS NULL "
        "SET m.attempts = m.attempts + 1, m.nextAttemptAt = row.nextAttemptAt, "
        "    m.lastError = row.error",
        rows=list(rows),
    ).consume()


def claim_unsent(
    tx: ManagedTransaction, now: datetime, lease_until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Messages whose time to (re)try has come, pushed out to `lease_until` so that a relay that
    dies while sending them leaves them for the next sweep instead of losing them."""
    rows = tx.run(
        "MATCH (m:OutboxMessage) WHERE m.nextAttemptAt <= $now "
        "WITH m ORDER BY m.nextAttemptAt LIMIT $limit "
        "SET m.nextAttemptAt = $lease "
        "RETURN m {.id, .actor, .args, .etaAt, .attempts} AS m",
        now=now,
        lease=lease_until,
        limit=limit,
    )
    return [dict(r["m"]) for r in rows]


def is_pending(tx: ManagedTransaction, message_id: str) -> bool:
    record = tx.run("MATCH (m:OutboxMessage {id: $id}) RETURN count(m) AS n", id=message_id)
    return int(record.single(strict=True)["n"]) > 0


def mark_handled(tx: ManagedTransaction, message_id: str) -> None:
    tx.run("MATCH (m:OutboxMessage {id: $id}) DELETE m", id=message_id).consume()


def purge_sent(tx: ManagedTransaction, before: datetime, limit: int) -> int:
    """Messages the broker took but no worker reported back on (lost with the broker, or given up
    after their retries) once their delivery time is long past."""
    return int(
        tx.run(
            "MATCH (m:OutboxMessage) WHERE m.etaAt < $before AND m.sentAt IS NOT NULL "
            "WITH m LIMIT $limit DELETE m RETURN count(*) AS n",
            before=before,
            limit=limit,
        ).single(strict=True)["n"]
    )


def pending(tx: ManagedTransaction) -> list[dict[str, Any]]:
    """Every message not yet handled, oldest first (for operators and tests)."""
    rows = tx.run(
        "MATCH (m:OutboxMessage) RETURN m {.id, .actor, .args, .attempts, .lastError, "
        ".createdAt, .sentAt, .nextAttemptAt} AS m ORDER BY m.createdAt"
    )
    return [dict(r["m"]) for r in rows]
