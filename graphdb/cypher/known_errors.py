"""Cypher of known errors: the one a problem generated, what it applies to and the article it
publishes, the candidates an opening incident is matched against (by topology, by CI class, by
the full-text index) and the matches an incident keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from core.problems import KNOWN_ERROR
from graphdb.records import view

_KE = "KnownError"


def documenting(tx: ManagedTransaction, problem_id: str) -> dict[str, Any] | None:
    """The known error that documents a problem: the one it generated if there is one, else the
    oldest entered for it by hand."""
    found = tx.run(
        f"MATCH (k:{_KE})-[:DOCUMENTS]->(:Problem {{id: $id}}) "
        "RETURN properties(k) AS k ORDER BY coalesce(k.generated, false) DESC, k.createdAt "
        "LIMIT 1",
        id=problem_id,
    ).single()
    return dict(found["k"]) if found else None


def at_fault(tx: ManagedTransaction, problem_id: str) -> list[str]:
    """The CIs a problem has at fault, by id."""
    rows = tx.run(
        "MATCH (:Problem {id: $id})-[:AT_FAULT]->(c:CI) RETURN c.id AS id ORDER BY id",
        id=problem_id,
    )
    return [r["id"] for r in rows]


def applies_to(tx: ManagedTransaction, ke_id: str) -> list[dict[str, Any]]:
    """The CIs a known error applies to: {"id", "name"}, by name."""
    rows = tx.run(
        f"MATCH (:{_KE} {{id: $id}})-[:APPLIES_TO]->(c:CI) "
        "RETURN c.id AS id, c.name AS name ORDER BY name, id",
        id=ke_id,
    )
    return [dict(r) for r in rows]


def problem_number(tx: ManagedTransaction, ke_id: str) -> str | None:
    """The number of the problem a known error documents, if any."""
    found = tx.run(
        f"MATCH (:{_KE} {{id: $id}})-[:DOCUMENTS]->(p:Problem) RETURN p.number AS number LIMIT 1",
        id=ke_id,
    ).single()
    return str(found["number"]) if found else None


def article_of(tx: ManagedTransaction, ke_id: str) -> str | None:
    """The id of the article a known error publishes, if it has one yet."""
    found = tx.run(
        f"MATCH (:{_KE} {{id: $id}})-[:PUBLISHED_AS]->(a:KnowledgeArticle) "
        "RETURN a.id AS id LIMIT 1",
        id=ke_id,
    ).single()
    return str(found["id"]) if found else None


def ci_facts(tx: ManagedTransaction, ci_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Name, class and version (the `version` attribute) of each CI, by id."""
    rows = tx.run(
        "MATCH (c:CI) WHERE c.id IN $ids "
        "RETURN c.id AS id, c.name AS name, c.ciClass AS ciClass, c.attr_version AS version",
        ids=list(ci_ids),
    )
    return {r["id"]: dict(r) for r in rows}


def applying_to(
    tx: ManagedTransaction, ci_ids: Sequence[str], states: Sequence[str]
) -> list[dict[str, Any]]:
    """Known errors in these states that apply to any of the CIs: {"ke", "cis"} with the CIs of
    the set each applies to, oldest first."""
    rows = tx.run(
        f"MATCH (k:{_KE})-[:APPLIES_TO]->(c:CI) WHERE c.id IN $ids AND k.state IN $states "
        "WITH k, collect(c.id) AS cis "
        "RETURN properties(k) AS ke, cis ORDER BY k.createdAt, k.number",
        ids=list(ci_ids),
        states=list(states),
    )
    return [{"ke": dict(r["ke"]), "cis": list(r["cis"])} for r in rows]


def of_class(
    tx: ManagedTransaction, ci_class: str, version: str | None, states: Sequence[str]
) -> list[dict[str, Any]]:
    """Known errors in these states for a CI class, and for this version of it where they name
    one, oldest first."""
    rows = tx.run(
        f"MATCH (k:{_KE}) WHERE k.ciClass = $class AND k.state IN $states "
        "AND (k.ciVersion IS NULL OR k.ciVersion = $version) "
        "RETURN properties(k) AS ke ORDER BY k.createdAt, k.number",
        {"class": ci_class, "version": version, "states": list(states)},
    )
    return [dict(r["ke"]) for r in rows]


def by_text(
    tx: ManagedTransaction, text: str, states: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Known errors in these states whose text matches `text` (a Lucene query made safe by the
    caller), best first: {"ke", "score"}."""
    rows = tx.run(
        "CALL db.index.fulltext.queryNodes($index, $text) YIELD node AS k, score "
        f"WITH k, score WHERE k:{_KE} AND k.state IN $states "
        "RETURN properties(k) AS ke, score ORDER BY score DESC, k.id LIMIT $limit",
        index=KNOWN_ERROR.fulltext_index,
        text=text,
        states=list(states),
        limit=limit,
    )
    return [{"ke": dict(r["ke"]), "score": float(r["score"])} for r in rows]


def unmatched_open_on(
    tx: ManagedTransaction, ke_id: str, ci_ids: Sequence[str], open_states: Sequence[str]
) -> list[dict[str, Any]]:
    """The open incidents on any of these CIs that have not matched the known error yet, each
    with its CI and its next rank."""
    rows = tx.run(
        f"MATCH (k:{_KE} {{id: $ke}}) "
        "MATCH (i:Incident)-[:AFFECTS]->(c:CI) WHERE c.id IN $ids AND i.state IN $open "
        "  AND NOT (i)-[:MATCHES]->(k) "
        "RETURN i.id AS incident, c.id AS ci, COUNT { (i)-[:MATCHES]->() } + 1 AS rank "
        "ORDER BY incident",
        ke=ke_id,
        ids=list(ci_ids),
        open=list(open_states),
    )
    return [dict(r) for r in rows]


def unmatched_caused(
    tx: ManagedTransaction,
    problem_id: str,
    incident_ids: Sequence[str] | None,
    open_states: Sequence[str],
    ke_states: Sequence[str],
) -> list[dict[str, Any]]:
    """The open incidents the problem causes (of these, when given) and the known errors in
    `ke_states` documenting it that they have not matched yet, with each incident's next rank."""
    rows = tx.run(
        f"MATCH (p:Problem {{id: $id}})<-[:DOCUMENTS]-(k:{_KE}) WHERE k.state IN $keStates "
        "MATCH (i:Incident)-[:CAUSED_BY]->(p) WHERE i.state IN $open "
        "  AND ($ids IS NULL OR i.id IN $ids) AND NOT (i)-[:MATCHES]->(k) "
        "RETURN i.id AS incident, k.id AS ke, k.number AS number, p.number AS problem, "
        "  COUNT { (i)-[:MATCHES]->() } + 1 AS rank ORDER BY incident, number",
        id=problem_id,
        ids=None if incident_ids is None else list(incident_ids),
        open=list(open_states),
        keStates=list(ke_states),
    )
    return [dict(r) for r in rows]


def matches_of(
    tx: ManagedTransaction, incident_ids: Sequence[str], states: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The known errors each incident matched, best first ({"how", "reason", "ke"}): those still
    in `states` before the others, then by the rank the match was given."""
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (:Incident {{id: id}})-[m:MATCHES]->(n:{_KE}) "
        "WITH id, m, n ORDER BY n.state IN $states DESC, m.rank, n.number "
        f"RETURN id, collect({{how: m.how, reason: m.reason, ke: {view(KNOWN_ERROR)}}}) AS found",
        ids=list(incident_ids),
        states=list(states),
    )
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
    for r in rows:
        found[r["id"]] = [{**m, "ke": dict(m["ke"])} for m in r["found"]]
    return found
