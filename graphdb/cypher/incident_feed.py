"""Cypher for the live feed of incident changes: what an announcement says, read in the
transaction that made the change."""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graphdb.write_path import ident


def announcement_facts(tx: ManagedTransaction, incident_id: str) -> dict[str, Any] | None:
    """The incident as this transaction leaves it, its team's id and the ids of the Services it
    impacts; None when there is no such incident."""
    record = tx.run(
        "MATCH (i:Incident {id: $id}) "
        "OPTIONAL MATCH (i)-[:ASSIGNED_TO]->(t:Team) "
        "WITH i, head(collect(t.id)) AS team "
        "OPTIONAL MATCH (i)-[:IMPACTS]->(s:Service) "
        "RETURN i.id AS id, i.number AS number, i.version AS version, i.state AS state, "
        "  i.priority AS priority, team, collect(DISTINCT s.id) AS services",
        id=incident_id,
    ).single()
    return dict(record) if record else None


def existing(tx: ManagedTransaction, label: str, ids: list[str]) -> list[str]:
    """Which of `ids` are records with this label (`label` from the record registry)."""
    rows = tx.run(f"MATCH (n:{ident(label)}) WHERE n.id IN $ids RETURN n.id AS id", ids=ids)
    return [row["id"] for row in rows]
