"""What a contact may be about: the incidents already open that it matches, and the published
knowledge articles that may answer it.

A contact about a CI matches the open incidents on that CI and on every CI it needs, as the
CMDB's impact rules find them walking upstream (the CIs whose failure reaches this one), nearest
first, then by how well the incident's title and description match the words (Neo4j's full-text
score). Articles match by their published words and by the CIs they are about. A contact with no
CI matches open incidents by words alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.access import Actor, Permission
from core.errors import NotFound
from core.incidents import OPEN_STATES
from domain import impact
from domain.cmdb import RELATIONSHIP_TYPES
from domain.knowledge.search import highlights
from domain.search import full_text_errors
from graphdb.cypher import service_desk as cypher
from graphdb.records import fulltext_words
from graphdb.write_path import Store

MAX_INCIDENTS = 5
MAX_ARTICLES = 5

# Words that say nothing about what is broken. The full-text index keeps stop words (its analyzer
# is "standard-no-stop-words"), so a contact's "the" would match every incident.
_NOISE = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "this",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "hi",
        "hello",
        "thanks",
    }
)
MAX_WORDS = 30


@dataclass(frozen=True)
class IncidentMatch:
    incident: dict[str, Any]
    reason: str
    score: float
    hops: int | None  # from the contact's CI to the incident's; None when matched by words


@dataclass(frozen=True)
class ArticleMatch:
    article: dict[str, Any]
    reason: str
    highlight: str | None  # the best passage that matched, HTML-escaped, words in <mark>
    score: float


@dataclass(frozen=True)
class Matches:
    incidents: list[IncidentMatch] = field(default_factory=list)
    articles: list[ArticleMatch] = field(default_factory=list)

    @property
    def best_incident(self) -> IncidentMatch | None:
        return self.incidents[0] if self.incidents else None


def meaningful_words(text: str) -> list[str]:
    words = [w for w in fulltext_words(text) if len(w) > 1 and w not in _NOISE]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def _any_of(words: Sequence[str]) -> str | None:
    """Any of the words, whole or as a prefix: similarity, not a search that needs them all."""
    return " OR ".join(f"{w} OR {w}*" for w in words) or None


def upstream(
    store: Store, actor: Actor, ci_id: str, *, field: str, explain: bool
) -> impact.ImpactReport:
    """What the CI needs, as the impact rules walk upstream; an unknown CI names `field`."""
    try:
        return impact.impact_of(
            store,
            actor,
            ci_id,
            direction=impact.Direction.UPSTREAM,
            max_depth=impact.MAX_DEPTH,
            max_results=impact.HARD_MAX_RESULTS,
            explain=explain,
            ci_properties=("id", "name", "number", "ciClass"),
        )
    except NotFound:
        raise NotFound("CI", ci_id, field=field) from None


def match(store: Store, actor: Actor, text: str, ci_id: str | None) -> Matches:
    actor.require(Permission.READ)
    words = meaningful_words(text)
    lucene = _any_of(words)
    if ci_id is None:
        return _by_words(store, words, lucene)
    needs = upstream(store, actor, ci_id, field="ci", explain=True)
    names = {i: str(c.get("name") or i) for i, c in needs.cis.items()}
    hops = {ci_id: 0, **{r.ci_id: r.depth for r in needs.result.reached}}
    paths = {r.ci_id: r.paths[0] for r in needs.result.reached if r.paths}

    def read(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (
            cypher.open_incidents_on(tx, list(hops), OPEN_STATES, lucene),
            cypher.published_articles(tx, lucene, list(hops), MAX_ARTICLES),
        )

    incidents, articles = store.read(full_text_errors(read, field_name="text"))
    found = [
        IncidentMatch(
            row["incident"],
            _why_incident(row["incident"], row["ci"], ci_id, names, paths.get(row["ci"])),
            row["score"],
            hops[row["ci"]],
        )
        for row in incidents
    ]
    found.sort(key=lambda m: (m.hops, -m.score, m.incident.get("number", "")))
    return Matches(found[:MAX_INCIDENTS], _articles(articles, words, names))


def _by_words(store: Store, words: Sequence[str], lucene: str | None) -> Matches:
    if lucene is None:
        return Matches()

    def read(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (
            cypher.open_incidents_by_text(tx, lucene, OPEN_STATES, MAX_INCIDENTS),
            cypher.published_articles(tx, lucene, [], MAX_ARTICLES),
        )

    incidents, articles = store.read(full_text_errors(read, field_name="text"))
    shown = ", ".join(words[:5])
    return Matches(
        [
            IncidentMatch(
                row["incident"],
                f"{row['incident'].get('number')} is open and its title or description match "
                f"the words ({shown})",
                row["score"],
                None,
            )
            for row in incidents
        ],
        _articles(articles, words, {}),
    )


def _why_incident(
    incident: Mapping[str, Any],
    on: str,
    root: str,
    names: Mapping[str, str],
    path: Sequence[impact.Step] | None,
) -> str:
    number = incident.get("number")
    if on == root:
        return f"{number} is open on {names.get(on, on)}, the CI this contact is about"
    way = _sentence(root, path or [], names)
    return f"{number} is open on {names.get(on, on)}, which {names.get(root, root)} needs: {way}"


def _sentence(root: str, path: Sequence[impact.Step], names: Mapping[str, str]) -> str:
    """The path from the contact's CI to the failed one, as each CI says it of the next."""
    here, parts = root, []
    for step in path:
        there = step.target if step.forward else step.source
        said = RELATIONSHIP_TYPES[step.type].seen_from(step.forward)
        parts.append(f"{names.get(here, here)} {said} {names.get(there, there)}")
        here = there
    return ", ".join(parts)


def _articles(
    rows: Sequence[dict[str, Any]], words: Sequence[str], names: Mapping[str, str]
) -> list[ArticleMatch]:
    out = []
    for row in rows:
        article = row["article"]
        marks = highlights(article, words)
        reasons = []
        if row["cis"]:
            reasons.append("about " + ", ".join(sorted(names.get(c, c) for c in row["cis"])))
        if row["score"] > 0:
            reasons.append("its published text matches the words")
        out.append(
            ArticleMatch(
                article,
                f"{article.get('number')} is {' and '.join(reasons)}",
                marks[0].fragment if marks else None,
                row["score"],
            )
        )
    return out
