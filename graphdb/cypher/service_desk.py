"""Cypher of the Service Desk: the open incidents a contact may be about (on CIs the impact walk
found, scored by the incident full-text index), the published articles that may answer it, the
desk's figures, and incident queues: conditions on the kernel's record page, and the page of
incidents by their next due time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from core.incidents import INCIDENT
from core.knowledge import ARTICLE_REVISION, KNOWLEDGE_ARTICLE, ArticleState
from graphdb.records import run_page, view

_INCIDENT = "Incident"
_ARTICLE = "KnowledgeArticle"
_REVISION = "ArticleRevision"
_PUBLISHED_CONTENT = ("kind", "title", "body", "keywords")


# -- matching a contact ------------------------------------------------------------------------


def open_incidents_on(
    tx: ManagedTransaction, ci_ids: Sequence[str], open_states: Sequence[str], text: str | None
) -> list[dict[str, Any]]:
    """The open incidents that affect any of these CIs: {"incident", "ci", "score"}, the score
    being the full-text score against `text` (a Lucene query made safe by the caller), 0 where
    it does not match."""
    found = [
        (dict(r["n"]), r["ci"])
        for r in tx.run(
            f"MATCH (n:{_INCIDENT})-[:AFFECTS]->(c:CI) WHERE c.id IN $cis AND n.state IN $open "
            f"RETURN {view(INCIDENT)} AS n, c.id AS ci",
            cis=list(ci_ids),
            open=list(open_states),
        )
    ]
    scores: dict[str, float] = {}
    if found and text:
        scores = {
            r["id"]: float(r["score"])
            for r in tx.run(
                "CALL db.index.fulltext.queryNodes($index, $text) YIELD node, score "
                "WITH node, score WHERE node.id IN $ids RETURN node.id AS id, score",
                index=INCIDENT.fulltext_index,
                text=text,
                ids=[n["id"] for n, _ in found],
            )
        }
    return [{"incident": n, "ci": ci, "score": scores.get(n["id"], 0.0)} for n, ci in found]


def open_incidents_by_text(
    tx: ManagedTransaction, text: str, open_states: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Open incidents whose title or description match `text`, best first: {"incident", "ci",
    "score"} with the CI they affect (or None)."""
    return [
        {"incident": dict(r["n"]), "ci": r["ci"], "score": float(r["score"])}
        for r in tx.run(
            "CALL db.index.fulltext.queryNodes($index, $text) YIELD node AS n, score "
            f"WITH n, score WHERE n:{_INCIDENT} AND n.state IN $open "
            "WITH n, score ORDER BY score DESC, n.id LIMIT $limit "
            f"RETURN {view(INCIDENT)} AS n, score, "
            "head(COLLECT { MATCH (n)-[:AFFECTS]->(c:CI) RETURN c.id }) AS ci",
            index=INCIDENT.fulltext_index,
            text=text,
            open=list(open_states),
            limit=limit,
        )
    ]


def published_articles(
    tx: ManagedTransaction, text: str | None, ci_ids: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Articles with a published revision that are not retired, as last published, that match
    `text` in that revision or concern any of the CIs: {"article", "score", "cis"} (the CIs of
    `ci_ids` each concerns), those about the CIs first, then by score."""
    by_text = (
        "  CALL db.index.fulltext.queryNodes($index, $text) YIELD node, score "
        f"  MATCH (node)-[:REVISION_OF]->(a:{_ARTICLE}) WHERE a.revision = node.revision "
        "  RETURN a, score UNION "
        if text
        else ""
    )
    rows = tx.run(
        f"CALL () {{ {by_text}"
        f"  MATCH (a:{_ARTICLE})-[:CONCERNS]->(c:CI) WHERE c.id IN $cis "
        "  RETURN DISTINCT a, 0.0 AS score "
        "} "
        "WITH a, max(score) AS score WHERE a.revision IS NOT NULL AND a.state <> $retired "
        f"MATCH (r:{_REVISION} {{articleId: a.id}}) WHERE r.revision = a.revision "
        "WITH a, r, score, COLLECT { MATCH (a)-[:CONCERNS]->(c:CI) WHERE c.id IN $cis "
        "  RETURN c.id } AS cis "
        "ORDER BY size(cis) > 0 DESC, score DESC, a.id LIMIT $limit "
        f"RETURN {_as_published()} AS n, score, cis",
        index=ARTICLE_REVISION.fulltext_index,
        text=text,
        cis=list(ci_ids),
        retired=ArticleState.RETIRED.value,
        limit=limit,
    )
    return [{"article": dict(r["n"]), "score": float(r["score"]), "cis": r["cis"]} for r in rows]


def _as_published() -> str:
    return view(KNOWLEDGE_ARTICLE, "a", shown={n: f"r.{n}" for n in _PUBLISHED_CONTENT})


# -- what the desk did ---------------------------------------------------------------------------


def interaction_counts(
    tx: ManagedTransaction, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    """Interactions created in [start, end), counted by outcome and channel."""
    return [
        dict(r)
        for r in tx.run(
            "MATCH (n:Interaction) WHERE ($start IS NULL OR n.createdAt >= $start) "
            "AND ($end IS NULL OR n.createdAt < $end) "
            "RETURN n.outcome AS outcome, n.channel AS channel, count(*) AS count "
            "ORDER BY outcome, channel",
            start=start,
            end=end,
        )
    ]


# -- incident queues -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    """Which incidents a queue holds, as conditions on `n` with their parameters."""

    conditions: tuple[str, ...]
    params: dict[str, Any]


def worked_by(person_id: str) -> Queue:
    return Queue(
        ("EXISTS { MATCH (n)-[:WORKED_BY]->(:Person {id: $person}) }",), {"person": person_id}
    )


def assigned_to(team_id: str) -> Queue:
    return Queue(("EXISTS { MATCH (n)-[:ASSIGNED_TO]->(:Team {id: $team}) }",), {"team": team_id})


def impacting(service_id: str) -> Queue:
    return Queue(
        ("EXISTS { MATCH (n)-[:IMPACTS]->(:CI {id: $service}) }",), {"service": service_id}
    )


def affecting(ci_ids: Sequence[str]) -> Queue:
    return Queue(
        ("EXISTS { MATCH (n)-[:AFFECTS]->(c:CI) WHERE c.id IN $cis }",), {"cis": list(ci_ids)}
    )


@dataclass(frozen=True)
class DueQuery:
    """A page of incidents by the earliest due time of their running clocks (response while
    nobody has responded, resolution), up to `until`; cursor (epoch nanoseconds, id)."""

    until: datetime
    states: Sequence[str]
    team_id: str | None = None
    after: tuple[int, str] | None = None
    before: tuple[int, str] | None = None
    backward: bool = False
    limit: int = 50
    count: bool = True


_NANOS = "due.epochSeconds * 1000000000 + due.nanosecond"


def falling_due(
    tx: ManagedTransaction, query: DueQuery
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """The page and how many incidents fall due by `until` in all (when asked)."""
    params: dict[str, Any] = {
        "until": query.until,
        "states": list(query.states),
        "team": query.team_id,
        "limit": query.limit,
    }
    # Two range seeks, one per due time's index, rather than a scan computing the earlier one.
    source = (
        "CALL () { "
        f"  MATCH (n:{_INCIDENT}) WHERE n.responseDueAt <= $until AND n.respondedAt IS NULL "
        "  RETURN n, n.responseDueAt AS due "
        "  UNION "
        f"  MATCH (n:{_INCIDENT}) WHERE n.resolutionDueAt <= $until "
        "  RETURN n, n.resolutionDueAt AS due "
        "} "
        "WITH n, min(due) AS due WHERE n.state IN $states "
        "AND ($team IS NULL OR EXISTS { MATCH (n)-[:ASSIGNED_TO]->(:Team {id: $team}) }) "
        f"WITH n, {_NANOS} AS position "
    )
    where = []
    if query.after is not None:
        where.append("(position > $afterAt OR (position = $afterAt AND n.id > $afterId))")
        params.update(afterAt=query.after[0], afterId=query.after[1])
    if query.before is not None:
        where.append("(position < $beforeAt OR (position = $beforeAt AND n.id < $beforeId))")
        params.update(beforeAt=query.before[0], beforeId=query.before[1])
    order = "DESC" if query.backward else "ASC"
    return run_page(
        tx,
        source
        + (f"WITH n, position WHERE {' AND '.join(where)} " if where else "")
        + f"WITH n, position ORDER BY position {order}, n.id {order} LIMIT $limit "
        f"RETURN {view(INCIDENT)} AS n, position",
        source + "RETURN count(n) AS c" if query.count else None,
        params,
        backward=query.backward,
    )


# -- affected scope --------------------------------------------------------------------------------


def affected_cis(tx: ManagedTransaction, incident_ids: Sequence[str]) -> dict[str, str]:
    """The CI each incident affects, by incident id (those without one left out)."""
    return {
        r["id"]: r["ci"]
        for r in tx.run(
            f"UNWIND $ids AS id MATCH (:{_INCIDENT} {{id: id}})-[:AFFECTS]->(c:CI) "
            "RETURN id, c.id AS ci",
            ids=list(incident_ids),
        )
    }


def open_incidents_of(
    tx: ManagedTransaction, ci_ids: Sequence[str], open_states: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each CI, the open incidents that affect it, oldest first."""
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (c:CI {{id: id}})<-[:AFFECTS]-(n:{_INCIDENT}) "
        "WHERE n.state IN $open WITH id, n ORDER BY n.createdAt, n.id "
        f"RETURN id, collect({view(INCIDENT)}) AS incidents",
        ids=list(ci_ids),
        open=list(open_states),
    )
    found = {r["id"]: [dict(n) for n in r["incidents"]] for r in rows}
    return {i: found.get(i, []) for i in ci_ids}


def contact_links(tx: ManagedTransaction, interaction_id: str) -> dict[str, str | None]:
    """The CI and the caller (Person) a contact names, by stored id."""
    found = tx.run(
        "MATCH (i:Interaction {id: $id}) "
        "RETURN head(COLLECT { MATCH (i)-[:CONCERNS_CI]->(c:CI) RETURN c.id }) AS ci, "
        "head(COLLECT { MATCH (i)-[:REPORTED_BY]->(p:Person) RETURN p.id }) AS caller",
        id=interaction_id,
    ).single(strict=True)
    return {"ci": found["ci"], "caller": found["caller"]}
