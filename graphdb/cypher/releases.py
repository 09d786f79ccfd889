"""Cypher of Release Management: what a release reaches through its changes (the CIs they
modify, the known errors they fix, the problems and incidents behind those), the snapshot a
deployment keeps, and the release that shipped a problem's fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction


def set_derived(tx: ManagedTransaction, release_id: str, values: dict[str, Any]) -> None:
    """Facts the history already holds (when it was deployed, what the deployment did), stored
    without a new version."""
    tx.run("MATCH (r:Release {id: $id}) SET r += $values", id=release_id, values=values).consume()


def included_changes(tx: ManagedTransaction, release_id: str) -> list[dict[str, Any]]:
    rows = tx.run(
        "MATCH (:Release {id: $id})-[:INCLUDES]->(c:Change) "
        "RETURN c.id AS id, c.number AS number, c.state AS state ORDER BY c.number",
        id=release_id,
    )
    return [dict(r) for r in rows]


def catalog_entries(tx: ManagedTransaction, release_id: str) -> list[dict[str, Any]]:
    rows = tx.run(
        "MATCH (:Release {id: $id})-[:UPDATES]->(e:CatalogEntry) "
        "RETURN e.id AS id, e.number AS number, e.offeringVersion AS offeringVersion, "
        "  e.offering AS offering ORDER BY e.number",
        id=release_id,
    )
    return [dict(r) for r in rows]


def modified_cis(
    tx: ManagedTransaction, change_ids: Sequence[str], version_property: str
) -> list[dict[str, Any]]:
    """The CIs the changes modify, each once, with the version attribute they hold now."""
    rows = tx.run(
        "MATCH (c:Change)-[:MODIFIES]->(ci:CI) WHERE c.id IN $ids "
        "WITH DISTINCT ci RETURN ci.id AS id, ci.name AS name, ci[$prop] AS version "
        "ORDER BY ci.name, ci.id",
        ids=list(change_ids),
        prop=version_property,
    )
    return [dict(r) for r in rows]


def fixed_known_errors(tx: ManagedTransaction, change_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The known errors the changes fix, each with the problem it documents (or null)."""
    rows = tx.run(
        "MATCH (c:Change)-[:FIXES]->(k:KnownError) WHERE c.id IN $ids "
        "WITH DISTINCT k OPTIONAL MATCH (k)-[:DOCUMENTS]->(p:Problem) "
        "RETURN k.id AS id, k.number AS number, k.state AS state, p.id AS problem "
        "ORDER BY k.number",
        ids=list(change_ids),
    )
    return [dict(r) for r in rows]


def addressed(tx: ManagedTransaction, change_ids: Sequence[str], label: str) -> list[str]:
    """The ids of the problems or incidents (`label`, from the registry) the changes address."""
    rows = tx.run(
        "MATCH (c:Change)-[:ADDRESSES]->(n) WHERE c.id IN $ids AND $label IN labels(n) "
        "RETURN DISTINCT n.id AS id ORDER BY id",
        ids=list(change_ids),
        label=label,
    )
    return [str(r["id"]) for r in rows]


def problems(tx: ManagedTransaction, problem_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = tx.run(
        "MATCH (p:Problem) WHERE p.id IN $ids "
        "RETURN p.id AS id, p.number AS number, p.state AS state ORDER BY p.number",
        ids=list(problem_ids),
    )
    return [dict(r) for r in rows]


def incidents_to_close(
    tx: ManagedTransaction,
    problem_ids: Sequence[str],
    incident_ids: Sequence[str],
    open_problem_states: Sequence[str],
) -> list[dict[str, Any]]:
    """The incidents caused by the problems, or addressed directly, each once, with the numbers
    of the other problems still open that cause it too (it is not fixed while one is)."""
    rows = tx.run(
        "CALL () { MATCH (i:Incident)-[:CAUSED_BY]->(p:Problem) WHERE p.id IN $problems RETURN i "
        "  UNION MATCH (i:Incident) WHERE i.id IN $incidents RETURN i } "
        "WITH DISTINCT i "
        "OPTIONAL MATCH (i)-[:CAUSED_BY]->(o:Problem) "
        "WHERE NOT o.id IN $problems AND o.state IN $open "
        "WITH i, collect(o.number) AS others "
        "RETURN i.id AS id, i.number AS number, i.state AS state, others ORDER BY i.number",
        problems=list(problem_ids),
        incidents=list(incident_ids),
        open=list(open_problem_states),
    )
    return [dict(r) for r in rows]


def fixed_by(
    tx: ManagedTransaction, problem_ids: Sequence[str], states: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per problem, the latest release in `states` whose changes address it or fix a known error
    documenting it."""
    rows = tx.run(
        "UNWIND $ids AS pid MATCH (p:Problem {id: pid}) "
        "CALL (p) { "
        "  MATCH (p)<-[:ADDRESSES]-(:Change)<-[:INCLUDES]-(r:Release) "
        "  WHERE r.state IN $states RETURN r "
        "  UNION MATCH (p)<-[:DOCUMENTS]-(:KnownError)<-[:FIXES]-(:Change)"
        "    <-[:INCLUDES]-(r:Release) "
        "  WHERE r.state IN $states RETURN r } "
        "WITH p, r ORDER BY r.deployedAt DESC, r.number DESC "
        "WITH p, collect(r)[0] AS r RETURN p.id AS problem, properties(r) AS release",
        ids=list(problem_ids),
        states=list(states),
    )
    return {str(r["problem"]): dict(r["release"]) for r in rows}
