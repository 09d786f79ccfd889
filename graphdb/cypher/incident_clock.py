"""Cypher for incidents' SLA clocks: the history they are derived from, the terms that govern
them, the derived figures stored for queues, and the events they fired."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from neo4j import ManagedTransaction

from graphdb.cypher.agreement_terms import levels_of

# What the clocks replay: the create, the transitions and the updates (the domain keeps those
# that changed the priority). Entries of one unit of work share its time; the create comes first
# and the rest in the order they were written.
_HISTORY = (
    "CALL (i) { MATCH (a:AuditEntry {recordId: i.id}) "
    "  WHERE a.recordLabel = 'Incident' AND a.action IN ['create', 'transition', 'update'] "
    "  RETURN a ORDER BY a.at, CASE a.action WHEN 'create' THEN 0 ELSE 1 END, id(a) } "
    "WITH i, collect({action: a.action, at: a.at, after: a.after}) AS history "
)


def clock_inputs(tx: ManagedTransaction, incident_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For each incident found: `history` (audit entries oldest first, each with the `changes`
    it recorded), `terms` (the governing AgreementTerms' properties, or None) and `levels`
    (that version's escalation levels as `levels_of` reads them)."""
    rows = tx.run(
        "UNWIND $ids AS iid MATCH (i:Incident {id: iid}) "
        + _HISTORY
        + "OPTIONAL MATCH (i)-[:GOVERNED_BY]->(t:AgreementTerms) "
        "RETURN i.id AS id, history, properties(t) AS terms",
        ids=list(incident_ids),
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out[row["id"]] = {
            "history": [
                {
                    "action": h["action"],
                    "at": h["at"].to_native(),
                    "changes": json.loads(h["after"]) if h["after"] else {},
                }
                for h in row["history"]
            ],
            "terms": dict(row["terms"]) if row["terms"] else None,
            "levels": [],
        }
    terms_ids = sorted({found["terms"]["id"] for found in out.values() if found["terms"]})
    if terms_ids:
        levels = levels_of(tx, terms_ids)
        for found in out.values():
            if found["terms"]:
                found["levels"] = levels[found["terms"]["id"]]
    return out


def store_derived(tx: ManagedTransaction, incident_id: str, props: Mapping[str, Any]) -> None:
    """Write the derived clock figures; a None removes the property. No version bump, no audit:
    they are copies of what the history says."""
    tx.run(
        "MATCH (i:Incident {id: $id}) SET i += $props", id=incident_id, props=dict(props)
    ).consume()


def fired_keys(tx: ManagedTransaction, incident_id: str) -> set[str]:
    rows = tx.run("MATCH (e:SlaEvent {incidentId: $id}) RETURN e.id AS id", id=incident_id)
    return {str(r["id"]) for r in rows}


def timer_firing(tx: ManagedTransaction, timer_id: str) -> dict[str, Any]:
    """How the timer being fired was woken and by whom (set just before its handler runs)."""
    row = tx.run(
        "MATCH (t:Timer {id: $id}) RETURN t.firedVia AS firedVia, t.firedBy AS firedBy",
        id=timer_id,
    ).single()
    return dict(row) if row else {}


def governing_terms_id(tx: ManagedTransaction, incident_id: str) -> str | None:
    row = tx.run(
        "MATCH (:Incident {id: $id})-[:GOVERNED_BY]->(t:AgreementTerms) RETURN t.id AS id",
        id=incident_id,
    ).single()
    return str(row["id"]) if row else None


def incident(tx: ManagedTransaction, incident_id: str) -> dict[str, Any] | None:
    row = tx.run("MATCH (i:Incident {id: $id}) RETURN properties(i) AS i", id=incident_id).single()
    return dict(row["i"]) if row else None


def holders(tx: ManagedTransaction, incident_id: str) -> dict[str, Any]:
    """The incident's number, title and priority, and who holds it: its team and assignee."""
    row = tx.run(
        "MATCH (i:Incident {id: $id}) "
        "RETURN i.number AS number, i.title AS title, i.priority AS priority, "
        "head([(i)-[:ASSIGNED_TO]->(t:Team) | t.id]) AS teamId, "
        "head([(i)-[:WORKED_BY]->(p:Person) | p.id]) AS assigneeId",
        id=incident_id,
    ).single()
    return dict(row) if row else {}


def attach_event(tx: ManagedTransaction, incident_id: str, event_id: str) -> None:
    tx.run(
        "MATCH (i:Incident {id: $incident}), (e:SlaEvent {id: $event}) "
        "CREATE (i)-[:HAD_SLA_EVENT]->(e)",
        incident=incident_id,
        event=event_id,
    ).consume()


def events_of(
    tx: ManagedTransaction, incident_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The SLA events of many incidents, in the order they fired."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
    rows = tx.run(
        "MATCH (e:SlaEvent) WHERE e.incidentId IN $ids "
        "RETURN e.incidentId AS incident, properties(e) AS e ORDER BY e.firedAt, e.dueAt, e.id",
        ids=list(incident_ids),
    )
    for row in rows:
        out[row["incident"]].append(dict(row["e"]))
    return out
