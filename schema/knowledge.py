"""The knowledge base's GraphQL types: articles, their published revisions, and search hits."""

# Without postponed annotations: the node types are annotated with enums made at run time from
# the declaration (`schema.records`), which Strawberry must see as objects.

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry

from core.errors import Forbidden
from core.knowledge import ARTICLE_REVISION, KNOWLEDGE_ARTICLE, ArticleKind
from core.records import Direction, RecordType
from domain.cmdb import history_entry
from domain.knowledge import articles
from domain.knowledge.render import body_html
from schema.cmdb import HISTORY_LIMIT, ConfigurationItem
from schema.common import AuditEntry, Node
from schema.context import Context, Info
from schema.paging import After, Before, Connection, First, Last, page_of_sorted, page_request
from schema.records import described, node_values, state_enum, values_enum

if TYPE_CHECKING:
    from schema.known_errors import KnownErrorNode

KnownError = Annotated["KnownErrorNode", strawberry.lazy("schema.known_errors")]
KnowledgeKind = values_enum(ArticleKind)
KnowledgeState = state_enum(KNOWLEDGE_ARTICLE)


@strawberry.type(description="Who did something, named as the audit trail names them.")
class Identity:
    id: str = strawberry.field(description="The id of the API token (or system) that acted.")
    name: str = strawberry.field(description="Its name.")


def _identity(props: dict[str, Any], prefix: str) -> Identity | None:
    found = props.get(f"{prefix}Id")
    return Identity(id=found, name=props.get(f"{prefix}Name") or found) if found else None


N = TypeVar("N")


def _keeping_props(record: RecordType, node_type: type[N], props: dict[str, Any]) -> N:
    """The node of a record as read, keeping what was read for the fields that derive from it."""
    node = node_values(record, node_type, props)
    node.props = props  # type: ignore[attr-defined]
    return node


_HTML = (
    "The body as HTML, rendered from its Markdown and sanitised (no scripts, no script links); "
    "rendered only when asked for."
)


async def _load_revisions(ctx: Context, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
    found = await ctx.run(articles.revisions_of, ctx.store, ctx.actor, ids)
    return [found[i] for i in ids]


DEFAULT_REVISIONS_PAGE = 20


@strawberry.type(name="KnowledgeArticle", description=KNOWLEDGE_ARTICLE.description)
class KnowledgeArticleNode(Node):
    number: str = described(KNOWLEDGE_ARTICLE, "number")
    kind: KnowledgeKind = described(KNOWLEDGE_ARTICLE, "kind")  # type: ignore[valid-type]
    title: str = described(KNOWLEDGE_ARTICLE, "title")
    body: str | None = described(KNOWLEDGE_ARTICLE, "body")
    keywords: list[str] | None = described(KNOWLEDGE_ARTICLE, "keywords")
    state: KnowledgeState = described(KNOWLEDGE_ARTICLE, "state")  # type: ignore[valid-type]
    send_back_reason: str | None = described(KNOWLEDGE_ARTICLE, "sendBackReason")
    revision: int | None = described(KNOWLEDGE_ARTICLE, "revision")
    published_at: datetime | None = described(KNOWLEDGE_ARTICLE, "publishedAt")
    version: int = described(KNOWLEDGE_ARTICLE, "version")
    created_at: datetime | None = described(KNOWLEDGE_ARTICLE, "createdAt")
    updated_at: datetime | None = described(KNOWLEDGE_ARTICLE, "updatedAt")
    state_changed_at: datetime | None = described(KNOWLEDGE_ARTICLE, "stateChangedAt")
    props: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> "KnowledgeArticleNode":
        return _keeping_props(KNOWLEDGE_ARTICLE, cls, props)

    @strawberry.field(description="Who wrote it: whoever created it.")
    def author(self) -> Identity | None:
        return _identity(self.props, "author")

    @strawberry.field(description="Who last published it; null until it is first published.")
    def reviewer(self) -> Identity | None:
        return _identity(self.props, "reviewer")

    @strawberry.field(description=_HTML)
    def body_html(self) -> str:
        return body_html(self.props.get("body"))

    @strawberry.field(description="The CIs and services it is about, by name.")
    async def cis(self, info: Info) -> list[ConfigurationItem]:
        loader = info.context.loaders.linked(KNOWLEDGE_ARTICLE, "CONCERNS", Direction.OUT, "CI")
        return [ConfigurationItem.from_props(p) for p in await loader.load(self.props["id"])]

    @strawberry.field(
        description="The known error it publishes, for an article of kind KNOWN_ERROR (edited "
        "there, never here); null for other kinds."
    )
    async def known_error(self, info: Info) -> KnownError | None:
        from schema.known_errors import KnownErrorNode

        loader = info.context.loaders.linked(
            KNOWLEDGE_ARTICLE, "PUBLISHED_AS", Direction.IN, "KnownError"
        )
        rows = await loader.load(self.props["id"])
        return KnownErrorNode.from_props(rows[0]) if rows else None

    @strawberry.field(
        description="Every published revision, newest first; "
        f"{DEFAULT_REVISIONS_PAGE} to a page unless `first` or `last` says."
    )
    async def revisions(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection["ArticleRevisionNode"]:
        request = page_request(
            first=first,
            after=after,
            last=last,
            before=before,
            default=DEFAULT_REVISIONS_PAGE,
            key_size=1,
        )
        loader = info.context.loaders.keyed("knowledge.revisions", _load_revisions)
        rows = await loader.load(self.props["id"])
        # Newest first: the key is the negated number, so the sort is ascending as paging needs.
        edges, page = page_of_sorted(
            [ArticleRevisionNode.from_props(r) for r in rows],
            [(-int(r["revision"]),) for r in rows],
            request,
        )
        return Connection(edges=edges, page_info=page, total=len(rows))

    @strawberry.field(
        description=f"Who changed what, newest first (up to {HISTORY_LIMIT}); for those who "
        "work records, since it holds unpublished drafts."
    )
    async def history(self, info: Info) -> list[AuditEntry]:
        if not articles.sees_drafts(info.context.actor):
            raise Forbidden(
                "an article's history holds its drafts: it is for those who work records"
            )
        rows = await info.context.loaders.history.load(self.props["id"])
        return [AuditEntry.from_props(history_entry(r)) for r in rows]


@strawberry.type(name="ArticleRevision", description=ARTICLE_REVISION.description)
class ArticleRevisionNode(Node):
    revision: int = described(ARTICLE_REVISION, "revision")
    kind: KnowledgeKind | None = described(ARTICLE_REVISION, "kind")  # type: ignore[valid-type]
    title: str = described(ARTICLE_REVISION, "title")
    body: str | None = described(ARTICLE_REVISION, "body")
    keywords: list[str] | None = described(ARTICLE_REVISION, "keywords")
    published_at: datetime | None = described(ARTICLE_REVISION, "publishedAt")
    props: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> "ArticleRevisionNode":
        return _keeping_props(ARTICLE_REVISION, cls, props)

    @strawberry.field(description="Who published it.")
    def published_by(self) -> Identity | None:
        return _identity(self.props, "publishedBy")

    @strawberry.field(description=_HTML)
    def body_html(self) -> str:
        return body_html(self.props.get("body"))

    @strawberry.field(description="The article it is a revision of.")
    async def article(self, info: Info) -> KnowledgeArticleNode | None:
        props = await info.context.loaders.record(KNOWLEDGE_ARTICLE).load(self.props["articleId"])
        return KnowledgeArticleNode.from_props(props) if props else None


@strawberry.enum(description="Which part of an article a highlight comes from.")
class KnowledgeHighlightField(enum.Enum):
    TITLE = strawberry.enum_value("title", description="The title.")
    KEYWORDS = strawberry.enum_value("keywords", description="One of its keywords.")
    BODY = strawberry.enum_value("body", description="A passage of the body's Markdown source.")


@strawberry.type(description="A passage of an article that matches the search.")
class KnowledgeHighlight:
    field: KnowledgeHighlightField = strawberry.field(description="Where the passage is.")
    fragment: str = strawberry.field(
        description="The passage, HTML-escaped, with each matching word in <mark>…</mark>; "
        "'…' where it is cut from a longer text."
    )


@strawberry.type(description="An article the search found, with how well and where it matched.")
class KnowledgeHit:
    score: float = strawberry.field(
        description="The full-text index's relevance score; hits come best first."
    )
    highlights: list[KnowledgeHighlight] = strawberry.field(
        description="The passages of the title, keywords and body that match."
    )
    article: KnowledgeArticleNode = strawberry.field(
        description="The article, as the reader may see it (the published revision for readers "
        "who do not see drafts)."
    )


@strawberry.input(description="Conditions on the articles a search finds; all must hold.")
class KnowledgeSearchFilter:
    kind: list[KnowledgeKind] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only articles of these kinds."
    )
    state: list[KnowledgeState] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only articles in these states (of those you may read)."
    )
    ci: strawberry.ID | None = strawberry.field(
        default=None, description="Only articles about this CI (its id)."
    )
    service: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only articles about this service or about any CI it depends on, as "
        "`dependencies` finds them (its CI id).",
    )
