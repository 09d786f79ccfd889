"""Cypher for events and alerts beyond the kernel's generic queries: the per-key serialisation,
the batched common path, correlation's reads, maintenance and the policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from core.events import OPEN_ALERT_STATES


def lock_keys(tx: ManagedTransaction, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Take each dedup key's lock (its `AlertKey` node, unique by key, created on first use), in
    the order given (callers sort them, so two batches never wait on each other in a circle),
    and read what processing its events needs: the open alert, the previous one, the root of an
    open symptom, and the key's recent state changes."""
    rows = tx.run(
        "UNWIND $keys AS k MERGE (key:AlertKey {key: k}) "
        "SET key._lock = true REMOVE key._lock "
        "WITH key OPTIONAL MATCH (a:Alert {id: key.openAlert}) "
        "OPTIONAL MATCH (a)-[:SYMPTOM_OF]->(root:Alert) "
        "RETURN key.key AS key, properties(a) AS alert, key.lastAlert AS lastAlert, "
        "  key.lastAction AS lastAction, coalesce(key.changes, []) AS changes, "
        "  root.id AS rootId, root.state AS rootState",
        keys=list(keys),
    )
    return [dict(r) for r in rows]


def recorded_events(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, str | None]:
    """Of these event ids, those recorded already, with the alert each fed."""
    rows = tx.run(
        "MATCH (e:Event) WHERE e.id IN $ids OPTIONAL MATCH (e)-[:FEEDS]->(a:Alert) "
        "RETURN e.id AS id, a.id AS alert",
        ids=list(ids),
    )
    return {r["id"]: r["alert"] for r in rows}


def previous_incident(
    tx: ManagedTransaction, dedup_key: str, alert_id: str
) -> dict[str, Any] | None:
    """The open incident raised by an earlier alert under the same dedup key."""
    record = tx.run(
        "MATCH (a:Alert {dedupKey: $key})-[:RAISED]->(i:Incident) "
        "WHERE a.id <> $id AND NOT i.state IN ['resolved', 'closed'] "
        "RETURN i.id AS id, i.number AS number ORDER BY a.firstSeenAt DESC LIMIT 1",
        key=dedup_key,
        id=alert_id,
    ).single()
    return dict(record) if record else None


def announcement_facts(tx: ManagedTransaction, ids: Sequence[str]) -> list[dict[str, Any]]:
    """What alert subscribers filter on and order by."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (a:Alert {id: id}) OPTIONAL MATCH (a)-[:ABOUT]->(c:CI) "
        "RETURN a.id AS id, a.number AS number, a.version AS version, a.state AS state, "
        "  a.severity AS severity, a.role AS role, a.count AS count, c.id AS ci",
        ids=list(ids),
    )
    return [dict(r) for r in rows]


def save_keys(tx: ManagedTransaction, rows: Sequence[dict[str, Any]]) -> None:
    """rows {key, open, last, lastAction, changes}: what the next batch of the key reads."""
    tx.run(
        "UNWIND $rows AS row MATCH (k:AlertKey {key: row.key}) "
        "SET k.openAlert = row.open, k.lastAlert = row.last, k.lastAction = row.lastAction, "
        "  k.changes = row.changes",
        rows=list(rows),
    ).consume()


def count_triggers(tx: ManagedTransaction, rows: Sequence[dict[str, Any]], at: datetime) -> None:
    """The common path: more triggers on open alerts. rows {id, n, last (ISO), summary,
    severity, details, value}. Derived figures: a new version for subscribers, no audit entry
    (the events themselves are the history)."""
    tx.run(
        "UNWIND $rows AS row MATCH (a:Alert {id: row.id}) "
        "SET a.count = a.count + row.n, "
        "  a.lastSeenAt = CASE WHEN datetime(row.last) > a.lastSeenAt THEN datetime(row.last) "
        "    ELSE a.lastSeenAt END, "
        "  a.summary = coalesce(row.summary, a.summary), a.severity = row.severity, "
        "  a.customDetails = row.details, a.value = coalesce(row.value, a.value), "
        "  a.version = a.version + 1, a.updatedAt = $at",
        rows=list(rows),
        at=at,
    ).consume()


def set_derived(tx: ManagedTransaction, alert_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Facts the events decide (count, times, reasons): a new version, not a person's edit."""
    record = tx.run(
        "MATCH (a:Alert {id: $id}) SET a += $values, a.version = a.version + 1 "
        "RETURN properties(a) AS a",
        id=alert_id,
        values=values,
    ).single(strict=True)
    return dict(record["a"])


def link_events(tx: ManagedTransaction, rows: Sequence[dict[str, Any]]) -> None:
    """rows {id, alert, ci, threshold}: each new event FEEDS its alert, is ABOUT its CI and came
    FROM_THRESHOLD its threshold, where it has them."""
    tx.run(
        "UNWIND $rows AS row MATCH (e:Event {id: row.id}) "
        "CALL { WITH e, row MATCH (a:Alert {id: row.alert}) CREATE (e)-[:FEEDS]->(a) } "
        "CALL { WITH e, row MATCH (c:CI {id: row.ci}) CREATE (e)-[:ABOUT]->(c) } "
        "CALL { WITH e, row MATCH (t:Threshold {id: row.threshold}) "
        "  CREATE (e)-[:FROM_THRESHOLD]->(t) }",
        rows=list(rows),
    ).consume()


def take_correlation_lock(tx: ManagedTransaction) -> None:
    """One lock for every decision about roots: two alerts on a parent and its child decided at
    once would otherwise both see no alerting neighbour and both become roots."""
    tx.run("MERGE (l:CorrelationLock {name: 'alerts'}) SET l._lock = true REMOVE l._lock").consume()


def ci_facts(tx: ManagedTransaction, ci_id: str) -> dict[str, Any] | None:
    record = tx.run(
        "MATCH (c:CI {id: $id}) OPTIONAL MATCH (c)-[:OWNED_BY]->(t:Team) WHERE t.state = 'active' "
        "RETURN c.name AS name, c.lifecycle AS lifecycle, collect(t.id)[0] AS ownerTeam",
        id=ci_id,
    ).single()
    return dict(record) if record else None


def open_roots_on(
    tx: ManagedTransaction, ci_ids: Sequence[str], exclude: str
) -> list[dict[str, Any]]:
    """Open, unsuppressed-or-not root alerts about these CIs, oldest first."""
    rows = tx.run(
        "MATCH (a:Alert)-[:ABOUT]->(c:CI) WHERE c.id IN $ids AND a.state IN $open "
        "  AND a.role = 'root' AND a.id <> $exclude "
        "RETURN properties(a) AS a, c.id AS ci, c.name AS ciName ORDER BY a.firstSeenAt, a.id",
        ids=list(ci_ids),
        open=list(OPEN_ALERT_STATES),
        exclude=exclude,
    )
    return [{**dict(r["a"]), "ciId": r["ci"], "ciName": r["ciName"]} for r in rows]


def symptoms_of(tx: ManagedTransaction, alert_id: str) -> list[str]:
    rows = tx.run(
        "MATCH (s:Alert)-[:SYMPTOM_OF]->(:Alert {id: $id}) RETURN s.id AS id ORDER BY s.id",
        id=alert_id,
    )
    return [r["id"] for r in rows]


def repoint_symptoms(
    tx: ManagedTransaction, old_root: str, new_root: str, reason: str, at: datetime
) -> list[str]:
    """Move every symptom of `old_root` to `new_root` (the relationships are the correlation's
    own facts; the kernel's audited unlink would cost an entry per symptom of a storm)."""
    rows = tx.run(
        "MATCH (s:Alert)-[r:SYMPTOM_OF]->(:Alert {id: $old}) MATCH (n:Alert {id: $new}) "
        "DELETE r CREATE (s)-[:SYMPTOM_OF {createdAt: $at, createdBy: 'system'}]->(n) "
        "SET s.correlationReason = $reason, s.version = s.version + 1, s.updatedAt = $at "
        "RETURN s.id AS id",
        old=old_root,
        new=new_root,
        reason=reason,
        at=at,
    )
    return [r["id"] for r in rows]


def unlink_root(tx: ManagedTransaction, alert_id: str) -> None:
    tx.run("MATCH (:Alert {id: $id})-[r:SYMPTOM_OF]->() DELETE r", id=alert_id).consume()


def threshold_of(tx: ManagedTransaction, alert_id: str) -> dict[str, Any] | None:
    """The threshold that raised the alert, with whom it notifies."""
    record = tx.run(
        "MATCH (:Alert {id: $id})-[:FROM_THRESHOLD]->(t:Threshold) "
        "OPTIONAL MATCH (t)-[:NOTIFIES]->(team:Team) "
        "OPTIONAL MATCH (t)-[:NOTIFIES]->(p:Person) "
        "RETURN t.action AS action, t.name AS name, collect(DISTINCT team.id) AS teams, "
        "  collect(DISTINCT p.id) AS people LIMIT 1",
        id=alert_id,
    ).single()
    return dict(record) if record else None


def policy(tx: ManagedTransaction) -> dict[str, Any] | None:
    # One policy is written; should two first writes race, the older one counts.
    record = tx.run(
        "MATCH (p:EventPolicy) WITH p ORDER BY p.createdAt LIMIT 1 "
        "OPTIONAL MATCH (p)-[:EVENTS_TO]->(t:Team) "
        "RETURN properties(p) AS p, t.id AS team"
    ).single()
    if record is None:
        return None
    return {**dict(record["p"]), "fallbackTeamId": record["team"]}


def active_windows(
    tx: ManagedTransaction, ci_ids: Sequence[str], at: datetime
) -> list[dict[str, Any]]:
    """Maintenance windows active at `at` on any of these CIs."""
    rows = tx.run(
        "MATCH (w:MaintenanceWindow)-[:SCHEDULED_FOR]->(c:CI) "
        "WHERE c.id IN $ids AND w.start <= $at AND w.end > $at "
        "RETURN w.id AS id, w.number AS number, w.title AS title, c.id AS ci, c.name AS ciName "
        "ORDER BY w.start, w.id",
        ids=list(ci_ids),
        at=at,
    )
    return [dict(r) for r in rows]


def in_maintenance(tx: ManagedTransaction, ci_ids: Sequence[str], at: datetime) -> set[str]:
    """Which of these CIs are in maintenance now: by lifecycle or a window on the CI itself."""
    rows = tx.run(
        "MATCH (c:CI) WHERE c.id IN $ids AND (c.lifecycle = 'maintenance' OR EXISTS { "
        "  MATCH (w:MaintenanceWindow)-[:SCHEDULED_FOR]->(c) WHERE w.start <= $at AND w.end > $at "
        "}) RETURN c.id AS id",
        ids=list(ci_ids),
        at=at,
    )
    return {r["id"] for r in rows}


def dedup_key_of(tx: ManagedTransaction, alert_id: str) -> str | None:
    record = tx.run("MATCH (a:Alert {id: $id}) RETURN a.dedupKey AS key", id=alert_id).single()
    return record["key"] if record else None


def close_key(tx: ManagedTransaction, alert_id: str) -> None:
    """The alert is over: the next trigger under its key opens a new one."""
    tx.run(
        "MATCH (k:AlertKey {openAlert: $id}) SET k.openAlert = null, k.lastAction = 'resolve'",
        id=alert_id,
    ).consume()


def ci_of(tx: ManagedTransaction, alert_id: str) -> str | None:
    record = tx.run(
        "MATCH (:Alert {id: $id})-[:ABOUT]->(c:CI) RETURN c.id AS id LIMIT 1", id=alert_id
    ).single()
    return record["id"] if record else None


def symptom_incidents(tx: ManagedTransaction, root_id: str) -> list[dict[str, Any]]:
    """Open incidents raised by the root's symptoms, with the symptom that raised each."""
    rows = tx.run(
        "MATCH (s:Alert)-[:SYMPTOM_OF]->(:Alert {id: $id}) MATCH (s)-[:RAISED]->(i:Incident) "
        "WHERE NOT i.state IN ['resolved', 'closed'] "
        "RETURN DISTINCT i.id AS id, i.number AS number, s.number AS symptom ORDER BY i.number",
        id=root_id,
    )
    return [dict(r) for r in rows]


def raised(tx: ManagedTransaction, alert_id: str) -> dict[str, Any] | None:
    record = tx.run(
        "MATCH (:Alert {id: $id})-[:RAISED]->(i:Incident) "
        "RETURN i.id AS id, i.number AS number ORDER BY i.createdAt LIMIT 1",
        id=alert_id,
    ).single()
    return dict(record) if record else None
