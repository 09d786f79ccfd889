"""Cypher for outages and availability: the outage an alert recorded, and, for a report, every
outage of the CIs asked about that overlaps the period, with the CIs a Service depends on."""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction


def open_outage_of_alert(tx: ManagedTransaction, alert_id: str) -> dict[str, Any] | None:
    """The latest outage recorded from this alert that has not ended."""
    row = tx.run(
        "MATCH (o:Outage)-[:RECORDED_FROM]->(:Alert {id: $alert}) WHERE o.end IS NULL "
        "RETURN properties(o) AS o ORDER BY o.start DESC, o.id LIMIT 1",
        alert=alert_id,
    ).single()
    return dict(row["o"]) if row else None


def outage(tx: ManagedTransaction, outage_id: str) -> dict[str, Any] | None:
    row = tx.run("MATCH (o:Outage {id: $id}) RETURN properties(o) AS o", id=outage_id).single()
    return dict(row["o"]) if row else None
