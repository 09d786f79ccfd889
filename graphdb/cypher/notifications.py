"""Cypher for notifications: whom an addressee reaches, queuing deliveries once per key, claiming
one to send, recording each try, and reading them back by the record they are about."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graphdb.write_path import ident

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
GIVEN_UP = "given_up"


def exists(tx: ManagedTransaction, label: str, record_id: str) -> bool:
    record = tx.run(
        f"MATCH (r:{ident(label)} {{id: $id}}) RETURN count(r) > 0 AS found", id=record_id
    ).single(strict=True)
    return bool(record["found"])


def people(tx: ManagedTransaction, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The people with these ids: their addresses and whether they are active."""
    return [
        dict(r)
        for r in tx.run(
            "UNWIND $ids AS pid MATCH (p:Person {id: pid}) "
            "RETURN p.id AS id, p.state AS state, p.email AS email, p.pushUrl AS pushUrl",
            ids=list(ids),
        )
    ]


def teams(tx: ManagedTransaction, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The teams with these ids: their mailbox, whether they are active, and their active
    members' addresses (by name, so that the order of deliveries does not depend on storage)."""
    return [
        {**dict(r), "members": [dict(m) for m in r["members"]]}
        for r in tx.run(
            "UNWIND $ids AS tid MATCH (t:Team {id: tid}) "
            "CALL { WITH t OPTIONAL MATCH (p:Person)-[:MEMBER_OF]->(t) "
            "       WHERE p.state = 'active' "
            "       WITH p ORDER BY p.name, p.id "
            "       RETURN collect(p {.id, .email, .pushUrl}) AS members } "
            "RETURN t.id AS id, t.state AS state, t.email AS email, members",
            ids=list(ids),
        )
    ]


def queue(
    tx: ManagedTransaction,
    about_label: str,
    about_id: str,
    to_label: str,
    rows: list[dict[str, Any]],
    at: datetime,
    actor: str,
    token: str,
) -> list[dict[str, Any]]:
    """Create the notifications of `rows` ({id, to, viaTeam, props}) that do not exist yet,
    linked to the record they are about and to their addressee; returns the ones created.

    A notification's id is derived from its key, channel and address, and ids are unique, so
    MERGE waits for a concurrent transaction queuing the same one and then finds it: two
    escalations racing still queue it once. `token` marks what this call created."""
    if not rows:
        return []
    return [
        dict(r["n"])
        for r in tx.run(
            f"MATCH (r:{ident(about_label)} {{id: $aboutId}}) "
            "UNWIND $rows AS row "
            f"MATCH (a:{ident(to_label)} {{id: row.to}}) "
            "MERGE (n:Notification {id: row.id}) "
            "ON CREATE SET n += row.props, n.state = $queued, n.attempts = 0, "
            "  n.createdAt = $at, n.updatedAt = $at, n.version = 1, n._queuedBy = $token "
            "WITH r, a, n, row WHERE n._queuedBy = $token "
            "REMOVE n._queuedBy "
            "CREATE (n)-[:NOTIFIES_ABOUT {createdAt: $at, createdBy: $actor}]->(r) "
            "CREATE (n)-[l:ADDRESSED_TO {createdAt: $at, createdBy: $actor}]->(a) "
            "SET l.viaTeam = row.viaTeam "
            "RETURN properties(n) AS n",
            aboutId=about_id,
            rows=rows,
            queued=QUEUED,
            at=at,
            actor=actor,
            token=token,
        )
    ]


def claim(
    tx: ManagedTransaction, notification_id: str, now: datetime, until: datetime
) -> dict[str, Any] | None:
    """Take a notification that is still to be sent, for one sender until `until`.

    Answers None for an unknown notification, else the notification with `claimed` (this sender
    holds it now) and `busy` (still to be sent, but another sender holds it: a duplicate
    delivery of its message, or a sender that died mid-try and whose hold has not run out).
    The write comes first: it takes the node's lock, so the check after it sees what a
    concurrent claim committed."""
    record = tx.run(
        "MATCH (n:Notification {id: $id}) SET n._lock = true REMOVE n._lock "
        "WITH n, n.state IN [$queued, $failed] AS open, "
        "  (n.sendingUntil IS NULL OR n.sendingUntil < $now) AS free "
        "SET n.sendingUntil = CASE WHEN open AND free THEN $until ELSE n.sendingUntil END "
        "WITH n, open AND free AS claimed, open AND NOT free AS busy "
        "OPTIONAL MATCH (n)-[:NOTIFIES_ABOUT]->(r) "
        "RETURN properties(n) AS n, claimed, busy, "
        "  [l IN labels(r) WHERE l <> 'CI'][0] AS aboutLabel, r.id AS aboutId, "
        "  r.number AS aboutNumber",
        id=notification_id,
        queued=QUEUED,
        failed=FAILED,
        now=now,
        until=until,
    ).single()
    if record is None:
        return None
    return {
        **dict(record["n"]),
        "claimed": bool(record["claimed"]),
        "busy": bool(record["busy"]),
        "about": {
            "label": record["aboutLabel"],
            "id": record["aboutId"],
            "number": record["aboutNumber"],
        },
    }


def record_attempt(
    tx: ManagedTransaction,
    notification_id: str,
    attempt: dict[str, Any],
    state: str,
) -> dict[str, Any]:
    """Store one try ({id, attempt, at, ok, error, durationMs}) and the state it leaves the
    notification in, releasing the sender's claim; returns the notification before and after."""
    record = tx.run(
        "MATCH (n:Notification {id: $id}) "
        "WITH n, n {.state, .attempts, .sentAt, .lastError} AS before "
        "SET n.attempts = $attempt.attempt, n.lastAttemptAt = $attempt.at, n.state = $state, "
        "  n.lastError = $attempt.error, "
        "  n.sentAt = CASE WHEN $attempt.ok THEN $attempt.at ELSE n.sentAt END, "
        "  n.updatedAt = $attempt.at, n.version = n.version + 1 "
        "REMOVE n.sendingUntil "
        "CREATE (d:DeliveryAttempt)-[:ATTEMPT_OF]->(n) "
        "SET d = $attempt, d.notificationId = $id, d.createdAt = $attempt.at, "
        "  d.updatedAt = $attempt.at, d.version = 1 "
        "RETURN before, n {.state, .attempts, .sentAt, .lastError} AS after",
        id=notification_id,
        attempt=attempt,
        state=state,
    ).single(strict=True)
    return {"before": dict(record["before"]), "after": dict(record["after"])}


def of_records(
    tx: ManagedTransaction, about_label: str, about_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The notifications about each record, oldest first, each with its tries (`attempts_log`,
    oldest first), in one query for the whole page of records."""
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in about_ids}
    rows = tx.run(
        f"UNWIND $ids AS rid MATCH (r:{ident(about_label)} {{id: rid}}) "
        "MATCH (n:Notification)-[:NOTIFIES_ABOUT]->(r) "
        "CALL { WITH n OPTIONAL MATCH (d:DeliveryAttempt)-[:ATTEMPT_OF]->(n) "
        "       WITH d ORDER BY d.attempt RETURN collect(properties(d)) AS tries } "
        "RETURN rid, properties(n) AS n, tries "
        "ORDER BY n.createdAt, n.channel, n.address",
        ids=list(about_ids),
    )
    for row in rows:
        found[row["rid"]].append({**dict(row["n"]), "tries": [dict(t) for t in row["tries"]]})
    return found
