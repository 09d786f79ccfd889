"""Cypher of the knowledge base: what readers see of articles (their last published revision),
revisions, and the ranked full-text search over working copies or published revisions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from core.knowledge import ARTICLE_REVISION, KNOWLEDGE_ARTICLE, ArticleState
from graphdb.records import Scope, run_page, view

_ARTICLE = "KnowledgeArticle"
_REVISION = "ArticleRevision"
_CONTENT = ("kind", "title", "body", "keywords")
_RETIRED = ArticleState.RETIRED.value


def _published(name: str) -> str:
    """A property of article `n` as its last published revision has it."""
    return (
        f"head(COLLECT {{ MATCH (r:{_REVISION} {{articleId: n.id}}) "
        f"WHERE r.revision = n.revision RETURN r.{name} }})"
    )


# Readers who may not see drafts: articles with a published revision that are not retired, shown
# with that revision's content, and found by the words of that revision only.
PUBLISHED_ARTICLES = Scope(
    conditions=("n.revision IS NOT NULL", "n.state <> $retiredState"),
    params={"retiredState": _RETIRED, "revisionIndex": ARTICLE_REVISION.fulltext_index},
    shown={name: _published(name) for name in _CONTENT},
    text_source=(
        "CALL db.index.fulltext.queryNodes($revisionIndex, $text) YIELD node AS r "
        f"MATCH (r)-[:REVISION_OF]->(n:{_ARTICLE}) WHERE n.revision = r.revision"
    ),
)

# Revisions for the same readers: those of articles that are not retired.
REVISIONS_OF_LIVE_ARTICLES = Scope(
    conditions=(
        f"EXISTS {{ MATCH (a:{_ARTICLE} {{id: n.articleId}}) WHERE a.state <> $retiredState }}",
    ),
    params={"retiredState": _RETIRED},
)


def revisions_of(
    tx: ManagedTransaction, article_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every published revision of each article, newest first."""
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (n:{_REVISION} {{articleId: id}}) "
        f"WITH id, n ORDER BY n.revision DESC RETURN id, collect({view(ARTICLE_REVISION)}) AS revs",
        ids=list(article_ids),
    )
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in article_ids}
    for r in rows:
        found[r["id"]] = [dict(x) for x in r["revs"]]
    return found


def revision_content(tx: ManagedTransaction, article_id: str, number: int) -> dict[str, Any]:
    """What one revision of an article says (empty when there is no such revision)."""
    found = tx.run(
        f"MATCH (r:{_REVISION} {{articleId: $id}}) WHERE r.revision = $number "
        f"RETURN r {{{', '.join('.' + name for name in _CONTENT)}}} AS r",
        id=article_id,
        number=number,
    ).single()
    return dict(found["r"]) if found else {}


def publisher(tx: ManagedTransaction, article_id: str) -> str | None:
    """The number of the record (a known error) that publishes this article, if one does."""
    found = tx.run(
        f"MATCH (k)-[:PUBLISHED_AS]->(:{_ARTICLE} {{id: $id}}) RETURN k.number AS number LIMIT 1",
        id=article_id,
    ).single()
    return str(found["number"]) if found else None


@dataclass(frozen=True)
class SearchQuery:
    """One page of a ranked knowledge search: by score, best first, ties by id; the cursor is
    (score, id)."""

    text: str  # a Lucene query made safe by the caller
    published: bool  # search published revisions (readers) rather than working copies
    kinds: Sequence[str] | None = None
    states: Sequence[str] | None = None
    ci_ids: Sequence[str] | None = None  # articles concerning any of these CIs
    after: tuple[float, str] | None = None
    before: tuple[float, str] | None = None
    backward: bool = False
    limit: int = 20
    count: bool = True


def search(
    tx: ManagedTransaction, query: SearchQuery
) -> tuple[list[tuple[dict[str, Any], float]], int | None]:
    """Articles matching the words, each with the content that matched and its score, and how
    many match in all (when asked)."""
    params: dict[str, Any] = {"text": query.text, "retiredState": _RETIRED, "limit": query.limit}
    if query.published:
        params["index"] = ARTICLE_REVISION.fulltext_index
        source = (
            "CALL db.index.fulltext.queryNodes($index, $text) YIELD node, score "
            # From each revision hit along its one relationship: cheaper than an index seek.
            f"MATCH (node)-[:REVISION_OF]->(a:{_ARTICLE}) "
            "WHERE a.revision = node.revision AND a.state <> $retiredState "
            "WITH a, node AS c, score "
        )
    else:
        params["index"] = KNOWLEDGE_ARTICLE.fulltext_index
        source = (
            "CALL db.index.fulltext.queryNodes($index, $text) YIELD node, score "
            f"WITH node AS a, node AS c, score WHERE a:{_ARTICLE} "
        )
    where: list[str] = []
    if query.kinds is not None:
        where.append("c.kind IN $kinds")
        params["kinds"] = list(query.kinds)
    if query.states is not None:
        where.append("a.state IN $states")
        params["states"] = list(query.states)
    if query.ci_ids is not None:
        where.append("EXISTS { MATCH (a)-[:CONCERNS]->(x:CI) WHERE x.id IN $cis }")
        params["cis"] = list(query.ci_ids)
    count_where = list(where)
    if query.after is not None:
        where.append("(score < $afterScore OR (score = $afterScore AND a.id > $afterId))")
        params.update(afterScore=query.after[0], afterId=query.after[1])
    if query.before is not None:
        where.append("(score > $beforeScore OR (score = $beforeScore AND a.id < $beforeId))")
        params.update(beforeScore=query.before[0], beforeId=query.before[1])
    # Backwards, the query walks the ranking reversed and the page is flipped afterwards.
    order = "score ASC, a.id DESC" if query.backward else "score DESC, a.id ASC"
    shown = view(KNOWLEDGE_ARTICLE, "a", shown={name: f"c.{name}" for name in _CONTENT})
    found, total = run_page(
        tx,
        source
        + (f"WITH a, c, score WHERE {' AND '.join(where)} " if where else "")
        + f"WITH a, c, score ORDER BY {order} LIMIT $limit "
        f"RETURN {shown} AS n, score AS position",
        source
        + (f"WITH a, c, score WHERE {' AND '.join(count_where)} " if count_where else "")
        + "RETURN count(*) AS c"
        if query.count
        else None,
        params,
        backward=query.backward,
    )
    return [(article, float(score)) for article, score in found], total
