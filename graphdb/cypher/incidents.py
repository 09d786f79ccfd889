"""Cypher for incidents beyond the kernel's generic queries: the policy, what opening one needs to
know about its CI, the agreement it is governed by, and the teams that may take it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from graphdb.write_path import ident


def policy(tx: ManagedTransaction) -> dict[str, Any] | None:
    # One policy is written; should two first writes race, the older one counts.
    record = tx.run(
        "MATCH (p:IncidentPolicy) WITH p ORDER BY p.createdAt LIMIT 1 "
        "OPTIONAL MATCH (p)-[:MAJOR_INCIDENTS_TO]->(t:Team) "
        "RETURN properties(p) AS p, t.id AS team"
    ).single()
    if record is None:
        return None
    return {**dict(record["p"]), "majorTeamId": record["team"]}


def ci_facts(tx: ManagedTransaction, ci_id: str) -> dict[str, Any] | None:
    """The CI's criticality, lifecycle and owner team."""
    record = tx.run(
        "MATCH (c:CI {id: $id}) OPTIONAL MATCH (c)-[:OWNED_BY]->(t:Team) WHERE t.state = 'active' "
        "RETURN c.criticality AS criticality, c.lifecycle AS lifecycle, c.name AS name, "
        "  c.ciClass AS ciClass, collect(t.id)[0] AS ownerTeam",
        id=ci_id,
    ).single()
    return dict(record) if record else None


def sla_floor(tx: ManagedTransaction, sla_id: str) -> str | None:
    record = tx.run("MATCH (s:SLA {id: $id}) RETURN s.minimumPriority AS p", id=sla_id).single()
    return record["p"] if record else None


def supporting_team(tx: ManagedTransaction, service_ids: Sequence[str]) -> str | None:
    """The active team that supports the first of these Services that has one (lowest number)."""
    record = tx.run(
        "UNWIND range(0, size($ids) - 1) AS i "
        "MATCH (t:Team {state: 'active'})-[:SUPPORTS_SERVICE]->(:CI {id: $ids[i]}) "
        "RETURN t.id AS id ORDER BY i, t.number LIMIT 1",
        ids=list(service_ids),
    ).single()
    return record["id"] if record else None


def governed_terms(tx: ManagedTransaction, incident_id: str) -> dict[str, Any] | None:
    """The AgreementTerms version whose clocks the incident runs, with its agreement."""
    record = tx.run(
        "MATCH (:Incident {id: $id})-[:GOVERNED_BY]->(t:AgreementTerms) "
        "OPTIONAL MATCH (a)-[:HAS_TERMS]->(t) "
        "RETURN properties(t) AS t, labels(a)[0] AS label, a.id AS agreement",
        id=incident_id,
    ).single()
    if record is None:
        return None
    return {
        **dict(record["t"]),
        "agreementLabel": record["label"],
        "agreementId": record["agreement"],
    }


def governed_by(tx: ManagedTransaction, incident_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per incident: the SLA, the OLA and the terms version it is governed by (ids and names)."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (i:Incident {id: id}) "
        "OPTIONAL MATCH (i)-[:GOVERNED_BY]->(s:SLA) "
        "OPTIONAL MATCH (i)-[:GOVERNED_BY]->(o:OLA) "
        "OPTIONAL MATCH (i)-[:GOVERNED_BY]->(t:AgreementTerms) "
        "RETURN id, s {.id, .number, .name} AS sla, o {.id, .number, .name} AS ola, "
        "  t {.id, .version} AS terms",
        ids=list(incident_ids),
    )
    return {r["id"]: {"sla": r["sla"], "ola": r["ola"], "terms": r["terms"]} for r in rows}


def linked_id(tx: ManagedTransaction, incident_id: str, rel_type: str) -> str | None:
    """The one record an incident's link of this (registry-checked) type points at."""
    record = tx.run(
        f"MATCH (:Incident {{id: $id}})-[:{ident(rel_type)}]->(o) RETURN o.id AS id LIMIT 1",
        id=incident_id,
    ).single()
    return record["id"] if record else None


def team_recipients(tx: ManagedTransaction, incident_id: str) -> dict[str, str | None]:
    record = tx.run(
        "MATCH (i:Incident {id: $id}) "
        "OPTIONAL MATCH (i)-[:ASSIGNED_TO]->(t:Team) OPTIONAL MATCH (i)-[:WORKED_BY]->(p:Person) "
        "RETURN t.id AS team, p.id AS assignee",
        id=incident_id,
    ).single(strict=True)
    return {"team": record["team"], "assignee": record["assignee"]}


def set_derived(tx: ManagedTransaction, incident_id: str, values: dict[str, Any]) -> None:
    """Facts the history already holds (when work started, when it was resolved), stored for
    queues and reads without a new version; a None removes one."""
    tx.run("MATCH (i:Incident {id: $id}) SET i += $values", id=incident_id, values=values).consume()


def count_reassignment(tx: ManagedTransaction, incident_id: str) -> None:
    tx.run(
        "MATCH (i:Incident {id: $id}) "
        "SET i.reassignmentCount = coalesce(i.reassignmentCount, 0) + 1",
        id=incident_id,
    ).consume()


def drop_impacts(tx: ManagedTransaction, incident_id: str) -> None:
    # Derived from the CI by the impact analysis: rewritten whole when the CI changes.
    tx.run("MATCH (:Incident {id: $id})-[r:IMPACTS]->() DELETE r", id=incident_id).consume()


def any_incident(tx: ManagedTransaction) -> bool:
    return tx.run("MATCH (i:Incident) RETURN i.id LIMIT 1").single() is not None
