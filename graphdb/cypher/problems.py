"""Cypher of Problem Management: the policy, the open problems at fault on a set of CIs, the
recent incidents the recurrence triggers count, and what the outage trigger reads (the incident
behind an outage, the SLAs covering the Services it takes down)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction


def set_derived(tx: ManagedTransaction, problem_id: str, values: dict[str, Any]) -> None:
    """Facts the history already holds (when it was resolved), stored without a new version."""
    tx.run("MATCH (p:Problem {id: $id}) SET p += $values", id=problem_id, values=values).consume()


def policy(tx: ManagedTransaction) -> dict[str, Any] | None:
    # One policy is written; should two first writes race, the older one counts.
    record = tx.run(
        "MATCH (p:ProblemPolicy) WITH p ORDER BY p.createdAt LIMIT 1 RETURN properties(p) AS p"
    ).single()
    return dict(record["p"]) if record is not None else None


def open_at_fault(
    tx: ManagedTransaction, ci_ids: Sequence[str], open_states: Sequence[str]
) -> list[dict[str, Any]]:
    """Open problems with any of these CIs at fault, each with the CIs of the set it has."""
    rows = tx.run(
        "MATCH (p:Problem)-[:AT_FAULT]->(c:CI) WHERE c.id IN $ids AND p.state IN $open "
        "WITH p, collect(c.id) AS cis "
        "RETURN properties(p) AS problem, cis ORDER BY p.createdAt, p.number",
        ids=list(ci_ids),
        open=list(open_states),
    )
    return [dict(r) for r in rows]


def open_caused(
    tx: ManagedTransaction, incident_id: str, open_states: Sequence[str]
) -> list[dict[str, Any]]:
    """Open problems the incident is already linked to as caused by."""
    rows = tx.run(
        "MATCH (:Incident {id: $id})-[:CAUSED_BY]->(p:Problem) WHERE p.state IN $open "
        "RETURN properties(p) AS p ORDER BY p.number",
        id=incident_id,
        open=list(open_states),
    )
    return [dict(r["p"]) for r in rows]


def recent_on_ci(tx: ManagedTransaction, ci_id: str, since: datetime) -> list[dict[str, Any]]:
    """Incidents opened since `since` on the CI, oldest first: read from the CI's side."""
    rows = tx.run(
        "MATCH (c:CI {id: $id})<-[:AFFECTS]-(i:Incident) WHERE i.createdAt >= $since "
        "RETURN i.id AS id, i.number AS number, i.createdAt AS at, c.id AS ci, c.name AS ciName "
        "ORDER BY i.createdAt, i.number",
        id=ci_id,
        since=since,
    )
    return [dict(r) for r in rows]


def recent_incidents(tx: ManagedTransaction, since: datetime, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` incidents opened since `since` on a CI, with that CI, oldest first."""
    rows = tx.run(
        "MATCH (i:Incident) WHERE i.createdAt >= $since "
        "WITH i ORDER BY i.createdAt DESC LIMIT $limit "
        "MATCH (i)-[:AFFECTS]->(c:CI) "
        "RETURN i.id AS id, i.number AS number, i.createdAt AS at, c.id AS ci, c.name AS ciName "
        "ORDER BY i.createdAt, i.number",
        since=since,
        limit=limit,
    )
    return [dict(r) for r in rows]


def incidents_since(tx: ManagedTransaction, since: datetime) -> int:
    row = tx.run(
        "MATCH (i:Incident) WHERE i.createdAt >= $since RETURN count(i) AS n", since=since
    ).single(strict=True)
    return int(row["n"])


def ci_count(tx: ManagedTransaction) -> int:
    return int(tx.run("MATCH (c:CI) RETURN count(c) AS n").single(strict=True)["n"])


def linked(tx: ManagedTransaction, incident_id: str, problem_id: str) -> dict[str, bool]:
    row = tx.run(
        "MATCH (i:Incident {id: $i}), (p:Problem {id: $p}) "
        "RETURN EXISTS { (i)-[:CAUSED_BY]->(p) } AS caused, "
        "  EXISTS { (i)-[:PROPOSED_FOR]->(p) } AS proposed",
        i=incident_id,
        p=problem_id,
    ).single()
    return {"caused": bool(row and row["caused"]), "proposed": bool(row and row["proposed"])}


def drop_proposal(tx: ManagedTransaction, incident_id: str, problem_id: str) -> int:
    summary = tx.run(
        "MATCH (:Incident {id: $i})-[r:PROPOSED_FOR]->(:Problem {id: $p}) DELETE r",
        i=incident_id,
        p=problem_id,
    ).consume()
    return int(summary.counters.relationships_deleted)


def outage_incident(tx: ManagedTransaction, outage_id: str) -> dict[str, Any] | None:
    """The incident behind an outage: raised by the alert it was recorded from, or, for an
    alert correlated as a symptom, by its root; the oldest if several."""
    row = tx.run(
        "MATCH (:Outage {id: $id})-[:RECORDED_FROM]->(a:Alert) "
        "MATCH (a)-[:SYMPTOM_OF*0..1]->(:Alert)-[:RAISED]->(i:Incident) "
        "RETURN i {.id, .number, .title} AS i ORDER BY i.createdAt, i.number LIMIT 1",
        id=outage_id,
    ).single()
    return dict(row["i"]) if row else None


def slas_covering(tx: ManagedTransaction, service_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The active SLAs covering any of these Services, each with those of them it covers and
    every version of its terms."""
    rows = tx.run(
        "MATCH (sla:SLA {state: 'active'})-[:COVERS]->(s:Service) WHERE s.id IN $ids "
        "WITH sla, collect(DISTINCT s {.id, .name}) AS services "
        "RETURN sla {.id, .number, .name} AS sla, services, "
        "COLLECT { MATCH (sla)-[:HAS_TERMS]->(t:AgreementTerms) RETURN properties(t) } AS terms "
        "ORDER BY sla.number, sla.id",
        ids=list(service_ids),
    )
    return [
        {
            "sla": dict(row["sla"]),
            "services": sorted((dict(s) for s in row["services"]), key=lambda s: s["name"] or ""),
            "terms": [dict(t) for t in row["terms"]],
        }
        for row in rows
    ]


def outage_ci(tx: ManagedTransaction, outage_id: str) -> dict[str, Any] | None:
    row = tx.run(
        "MATCH (:Outage {id: $id})-[:ABOUT]->(c:CI) RETURN c {.id, .name} AS c", id=outage_id
    ).single()
    return dict(row["c"]) if row else None
