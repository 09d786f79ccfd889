"""The knowledge base's records: articles (FAQs and process documents) and the revisions every
publish keeps.

An article is the working copy people write and review; what readers see is its last published
revision, an `ArticleRevision` that never changes once written. Editing a published article sends
it back to draft (`revise`) while that revision stays readable, until the next publish stores
the next one. The kinds are a closed set that grows: a known error publishes an article of kind
`known_error`, which only the known error writes (`domain.problems.known_errors`).
"""

from __future__ import annotations

import enum

from core import links
from core.access import Role
from core.records import Kind, LinkField, Prop, RecordType, declare, describe
from core.states import StateMachine, Transition


class ArticleKind(enum.StrEnum):
    FAQ = "faq"
    PROCESS_DOCUMENT = "process_document"
    KNOWN_ERROR = "known_error"


describe(
    ArticleKind,
    "What sort of knowledge an article holds.",
    {
        ArticleKind.FAQ: "A question users ask, with its answer.",
        ArticleKind.PROCESS_DOCUMENT: "How a procedure is carried out, step by step.",
        ArticleKind.KNOWN_ERROR: "A known error as published: its symptoms, root cause and "
        "workaround. Written only by its known error, republished whenever that changes.",
    },
)


class ArticleState(enum.StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    RETIRED = "retired"


# Who writes and reviews knowledge: the Service Desk's agents and their managers. Automation
# feeds records but does not author documents people rely on.
WRITERS = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})

# The guards, implemented in domain.knowledge.
PUBLISHER_NOT_AUTHOR = "knowledge_publisher_not_author"
SEND_BACK_REASON = "knowledge_send_back_reason"

_DRAFT, _REVIEW, _PUBLISHED, _RETIRED = (s.value for s in ArticleState)

ARTICLE_STATES = StateMachine(
    initial=_DRAFT,
    states=tuple(s.value for s in ArticleState),
    transitions=(
        Transition(
            "submit", frozenset({_DRAFT}), _REVIEW, WRITERS, description="Ask for a review."
        ),
        Transition(
            "send_back",
            frozenset({_REVIEW}),
            _DRAFT,
            WRITERS,
            guards=(SEND_BACK_REASON,),
            description="Return it to its author, saying why.",
        ),
        Transition(
            "publish",
            frozenset({_REVIEW}),
            _PUBLISHED,
            WRITERS,
            guards=(PUBLISHER_NOT_AUTHOR,),
            description="Make it readable to everyone; stores the next revision.",
        ),
        Transition(
            "revise",
            frozenset({_PUBLISHED}),
            _DRAFT,
            WRITERS,
            description="Start a new draft; the published revision stays readable.",
        ),
        Transition(
            "retire",
            frozenset({_DRAFT, _REVIEW, _PUBLISHED}),
            _RETIRED,
            WRITERS,
            description="Withdraw it for good; its revisions are kept.",
        ),
    ),
    final=frozenset({_RETIRED}),
)

links.register(
    links.LinkType(
        "CONCERNS",
        frozenset({"KnowledgeArticle"}),
        frozenset({"CI"}),
        "the CIs and services an article is about",
    ),
    links.LinkType(
        "REVISION_OF",
        frozenset({"ArticleRevision"}),
        frozenset({"KnowledgeArticle"}),
        "the article a published revision belongs to",
    ),
)

KNOWLEDGE = "Knowledge Management"

KNOWLEDGE_ARTICLE = RecordType(
    "KnowledgeArticle",
    "KB",
    KNOWLEDGE,
    "An FAQ, a process document or a published known error of the knowledge base.",
    properties=(
        Prop(
            "kind",
            Kind.STRING,
            "What sort of article it is.",
            required=True,
            values=ArticleKind,
            indexed=True,
        ),
        Prop("title", Kind.STRING, "What it is about, in a line.", required=True, fulltext=True),
        Prop("body", Kind.TEXT, "The article itself, in Markdown.", fulltext=True, default=""),
        Prop("keywords", Kind.STRINGS, "Words people search for it by.", fulltext=True),
        Prop("state", Kind.STRING, "Where it is in its life.", values=ArticleState, indexed=True),
        Prop(
            "sendBackReason",
            Kind.TEXT,
            "Why the last review sent it back.",
            max_length=2000,
            by_transition=True,
        ),
        Prop("authorId", Kind.STRING, "The id of whoever wrote it.", derived=True, indexed=True),
        Prop("authorName", Kind.STRING, "The name of whoever wrote it.", derived=True),
        Prop("reviewerId", Kind.STRING, "The id of whoever last published it.", derived=True),
        Prop("reviewerName", Kind.STRING, "The name of whoever last published it.", derived=True),
        Prop("reviewerRole", Kind.STRING, "The role it was last published in.", derived=True),
        Prop(
            "revision",
            Kind.INT,
            "The number of its last published revision; null until it is first published.",
            derived=True,
        ),
        Prop("publishedAt", Kind.DATETIME, "When it was last published.", derived=True),
    ),
    states=ARTICLE_STATES,
    link_fields=(
        LinkField(
            "cis",
            "CONCERNS",
            "CI",
            description="The CIs and services the article is about (their CI ids).",
        ),
    ),
)

ARTICLE_REVISION = RecordType(
    "ArticleRevision",
    None,
    KNOWLEDGE,
    "A published revision of a knowledge article, as it was published; never changed.",
    properties=(
        Prop("articleId", Kind.STRING, "The article's stored id.", required=True, indexed=True),
        Prop("revision", Kind.INT, "Its number: 1 for the first publish.", required=True),
        Prop("kind", Kind.STRING, "What sort of article it was.", values=ArticleKind),
        Prop("title", Kind.STRING, "Its title as published.", required=True, fulltext=True),
        Prop("body", Kind.TEXT, "Its body as published, in Markdown.", fulltext=True),
        Prop("keywords", Kind.STRINGS, "Its keywords as published.", fulltext=True),
        Prop("publishedById", Kind.STRING, "The id of whoever published it."),
        Prop("publishedByName", Kind.STRING, "The name of whoever published it."),
        Prop("publishedAt", Kind.DATETIME, "When it was published."),
    ),
)

declare(KNOWLEDGE_ARTICLE, ARTICLE_REVISION)
