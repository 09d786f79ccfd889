"""The knowledge search: articles ranked by Neo4j's full-text score over title, keywords and body,
filtered by kind, state, CI and service, with the passages that matched.

Writers search the articles as they are written; every other reader searches the last published
revisions of the articles they may read, so a word of an unpublished draft finds nothing for
them. A service filter finds the articles about the service or about any CI it depends on, as
the CMDB's dependency walk (`domain.impact`, upstream) finds them. The kinds are the
declaration's closed set, so a kind added to it (known errors) is searched with the rest.

Highlights are computed here, from the words the index was asked for: each is a fragment of
the title, a keyword or the body (its Markdown source), HTML-escaped, with every matching word
in `<mark>…</mark>`, so that a page can show it as it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.access import Actor, Permission
from core.errors import NotFound
from core.ids import record_id
from core.knowledge import KNOWLEDGE_ARTICLE
from core.records import check_value
from domain import impact
from domain.knowledge.articles import sees_drafts
from domain.search import full_text_errors, full_text_search
from graphdb.cypher import knowledge as cypher
from graphdb.records import fulltext_words
from graphdb.write_path import Store

FRAGMENT_CONTEXT = 60  # characters of body shown either side of a match
MAX_FRAGMENTS = 3  # passages of the body per hit


@dataclass(frozen=True)
class KnowledgeSearch:
    text: str
    kinds: Sequence[str] | None = None
    states: Sequence[str] | None = None
    ci: str | None = None  # articles about this CI (global or stored id)
    service: str | None = None  # about this service or any CI it depends on
    after: tuple[float, str] | None = None
    before: tuple[float, str] | None = None
    backward: bool = False
    limit: int = 20
    count: bool = True


@dataclass(frozen=True)
class Highlight:
    field: str  # title, keywords or body
    fragment: str  # HTML-escaped text with the matching words in <mark>


@dataclass
class Hit:
    article: dict[str, Any]
    score: float
    highlights: list[Highlight] = field(default_factory=list)


def search(store: Store, actor: Actor, query: KnowledgeSearch) -> tuple[list[Hit], int | None]:
    """A page of hits, best first, and how many articles match in all (when asked)."""
    actor.require(Permission.READ)
    lucene = full_text_search(query.text, field_name="query")
    words = fulltext_words(query.text)
    ci_ids = _concerning(store, actor, query)
    request = cypher.SearchQuery(
        text=lucene,
        published=not sees_drafts(actor),
        kinds=_checked(query.kinds, "kind"),
        states=_checked(query.states, "state"),
        ci_ids=ci_ids,
        after=query.after,
        before=query.before,
        backward=query.backward,
        limit=query.limit,
        count=query.count,
    )
    rows, total = store.read(
        full_text_errors(lambda tx: cypher.search(tx, request), field_name="query")
    )
    hits = [Hit(article, score, highlights(article, words)) for article, score in rows]
    return hits, total


def _checked(values: Sequence[str] | None, name: str) -> list[str] | None:
    if values is None:
        return None
    prop = KNOWLEDGE_ARTICLE.by_name[name]
    return [check_value(prop, v, f"filter.{name}") for v in values]


def _concerning(store: Store, actor: Actor, query: KnowledgeSearch) -> list[str] | None:
    """The CIs the articles must concern (any of them), or None for no such condition."""
    wanted: set[str] | None = None
    if query.ci is not None:
        wanted = {record_id(query.ci, "CI", field="filter.ci")}
    if query.service is not None:
        service = record_id(query.service, "CI", field="filter.service")
        try:
            needs = impact.impact_of(
                store,
                actor,
                service,
                direction=impact.Direction.UPSTREAM,
                max_depth=impact.MAX_DEPTH,
                max_results=impact.HARD_MAX_RESULTS,
                explain=False,
                ci_properties=("id", "name"),  # the walk reads no more than it needs
            )
        except NotFound:
            raise NotFound("CI", service, field="filter.service") from None
        reached = set(needs.cis)
        wanted = reached if wanted is None else wanted & reached
    return sorted(wanted) if wanted is not None else None


# -- highlights ---------------------------------------------------------------------------------


def _matcher(words: Sequence[str]) -> re.Pattern[str] | None:
    """Words as the index matched them: case-insensitive prefixes of whole words."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*", re.IGNORECASE)


def _marked(text: str, matcher: re.Pattern[str]) -> str:
    out, at = [], 0
    for found in matcher.finditer(text):
        out.append(html.escape(text[at : found.start()]))
        out.append(f"<mark>{html.escape(found.group())}</mark>")
        at = found.end()
    out.append(html.escape(text[at:]))
    return "".join(out)


def _passages(text: str, matcher: re.Pattern[str]) -> list[tuple[int, int]]:
    """Windows of the text around its matches, merged where they overlap, snapped to spaces."""
    windows: list[tuple[int, int]] = []
    for found in matcher.finditer(text):
        start = max(0, found.start() - FRAGMENT_CONTEXT)
        end = min(len(text), found.end() + FRAGMENT_CONTEXT)
        if start > 0:
            space = text.find(" ", start, found.start())
            start = space + 1 if space != -1 else start
        if end < len(text):
            space = text.rfind(" ", found.end(), end)
            end = space if space != -1 else end
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        elif len(windows) < MAX_FRAGMENTS:
            windows.append((start, end))
        else:
            break
    return windows


def highlights(article: Mapping[str, Any], words: Sequence[str]) -> list[Highlight]:
    """The passages of an article's title, keywords and body that match the words."""
    matcher = _matcher(words)
    if matcher is None:
        return []
    out: list[Highlight] = []
    title = str(article.get("title") or "")
    if matcher.search(title):
        out.append(Highlight("title", _marked(title, matcher)))
    for keyword in article.get("keywords") or []:
        if matcher.search(keyword):
            out.append(Highlight("keywords", _marked(keyword, matcher)))
    body = " ".join(str(article.get("body") or "").split())
    for start, end in _passages(body, matcher):
        fragment = _marked(body[start:end], matcher)
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(body) else ""
        out.append(Highlight("body", f"{prefix}{fragment}{suffix}"))
    return out
