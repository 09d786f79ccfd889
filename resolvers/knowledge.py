"""The knowledge base's queries and mutations: the kernel's fields for articles, with the
process's own rules passed in, and the ranked search."""

from __future__ import annotations

from typing import Annotated

import strawberry

from core.ids import record_id
from core.knowledge import ARTICLE_REVISION, KNOWLEDGE_ARTICLE
from domain.knowledge import articles
from domain.knowledge.search import KnowledgeSearch, search
from resolvers.records import (
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.context import Info
from schema.knowledge import (
    ArticleRevisionNode,
    KnowledgeArticleNode,
    KnowledgeHighlight,
    KnowledgeHighlightField,
    KnowledgeHit,
    KnowledgeSearchFilter,
)
from schema.paging import (
    After,
    Before,
    Connection,
    Edge,
    First,
    Last,
    encode_cursor,
    page_info,
    page_request,
    wants_total,
)
from schema.records import register_node, stored

DEFAULT_SEARCH_PAGE = 20

register_node(ARTICLE_REVISION, ArticleRevisionNode, ArticleRevisionNode.from_props)
_article = KnowledgeArticleNode.from_props


def _stored_list(values: list[object] | None) -> list[str] | None:
    return [stored(v) for v in values] if values is not None else None  # type: ignore[arg-type]


@strawberry.type
class KnowledgeQuery:
    knowledge_article = record_field(KNOWLEDGE_ARTICLE, KnowledgeArticleNode, _article)
    knowledge_articles = connection_field(
        KNOWLEDGE_ARTICLE,
        KnowledgeArticleNode,
        _article,
        description="Knowledge articles, filtered and sorted; readers who do not work records "
        "see published articles only, as last published.",
    )

    @strawberry.field(
        description="Articles ranked by how well their title, keywords and body match the "
        "words (best first, with the passages that match); readers who do not work records "
        f"search the published revisions only. {DEFAULT_SEARCH_PAGE} to a page unless `first` "
        "or `last` says."
    )
    async def search_knowledge(
        self,
        info: Info,
        query: Annotated[
            str,
            strawberry.argument(description="Words to find (prefix match; every word must match)."),
        ],
        filter: Annotated[
            KnowledgeSearchFilter | None,
            strawberry.argument(description="Conditions the articles must meet."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[KnowledgeHit]:
        ctx = info.context
        request = page_request(
            first=first,
            after=after,
            last=last,
            before=before,
            default=DEFAULT_SEARCH_PAGE,
            key_size=2,
        )
        given = filter or KnowledgeSearchFilter()
        wanted = KnowledgeSearch(
            text=query,
            kinds=_stored_list(given.kind),
            states=_stored_list(given.state),
            ci=str(given.ci) if given.ci is not None else None,
            service=str(given.service) if given.service is not None else None,
            after=request.after_key,
            before=request.before_key,
            backward=request.backward,
            limit=request.size + 1,
            count=wants_total(info),
        )
        hits, total = await ctx.run(search, ctx.store, ctx.actor, wanted)
        more = len(hits) > request.size
        chosen = (
            hits[max(0, len(hits) - request.size) :] if request.backward else hits[: request.size]
        )
        loader = ctx.loaders.record(KNOWLEDGE_ARTICLE)
        edges = []
        for hit in chosen:
            # The hit carries the article as this reader sees it, as a load would.
            loader.prime(hit.article["id"], hit.article)
            edges.append(
                Edge(
                    cursor=encode_cursor(hit.score, hit.article["id"]),
                    node=KnowledgeHit(
                        score=hit.score,
                        highlights=[
                            KnowledgeHighlight(
                                field=KnowledgeHighlightField(h.field), fragment=h.fragment
                            )
                            for h in hit.highlights
                        ],
                        article=_article(hit.article),
                    ),
                )
            )
        return Connection(edges=edges, page_info=page_info(request, edges, more=more), total=total)

    @strawberry.field(description="One published revision of an article; null when there is none.")
    async def article_revision(
        self,
        info: Info,
        article_id: Annotated[
            strawberry.ID, strawberry.argument(description="The article's global or stored id.")
        ],
        revision: Annotated[int, strawberry.argument(description="The revision's number.")],
    ) -> ArticleRevisionNode | None:
        ctx = info.context
        stored_id = record_id(str(article_id), KNOWLEDGE_ARTICLE.label, field="articleId")
        found = await ctx.run(articles.revision, ctx.store, ctx.actor, stored_id, revision)
        return ArticleRevisionNode.from_props(found) if found else None


@strawberry.type
class KnowledgeMutation:
    create_knowledge_article = create_field(
        KNOWLEDGE_ARTICLE,
        KnowledgeArticleNode,
        _article,
        create=articles.create_article,
        description="Write a new article, as a draft by you; nothing is written when it is "
        "refused.",
    )
    update_knowledge_article = update_field(
        KNOWLEDGE_ARTICLE,
        KnowledgeArticleNode,
        _article,
        update=articles.update_article,
        description="Change an article: what is given changes, the rest stays; new content for "
        "a published article starts its next draft while the published revision stays "
        "readable. A retired article is not changed.",
    )
    transition_knowledge_article = transition_field(
        KNOWLEDGE_ARTICLE,
        KnowledgeArticleNode,
        _article,
        transition=articles.transition_article,
        description="Move an article through review: submit, send back (with a reason), "
        "publish (by someone other than its author, or a manager; stores the next revision), "
        "revise, retire. Nothing is written when it is refused.",
    )
