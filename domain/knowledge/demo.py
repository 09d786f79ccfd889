"""The demo's knowledge base: an FAQ and a process document about the shop, published, so that
a fresh install's search finds something and shows what an article is linked to."""

from __future__ import annotations

from collections.abc import Mapping

from core.access import SYSTEM
from core.knowledge import KNOWLEDGE_ARTICLE, ArticleKind, ArticleState
from domain import records
from domain.knowledge import articles
from domain.records import RecordSearch
from graphdb.write_path import Store

# (title, kind, keywords, body, the demo CI keys it concerns)
ARTICLES: tuple[tuple[str, ArticleKind, list[str], str, list[str]], ...] = (
    (
        "Checkout says 'payment declined' although the card is fine",
        ArticleKind.FAQ,
        ["checkout", "payment", "declined", "card"],
        "Customers see **payment declined** when the payment gateway cannot reach the card "
        "network, not only when the card is refused.\n\n"
        "1. Ask the customer to wait five minutes and try again.\n"
        "2. If several customers report it, check the `payment-gateway` alerts and open an "
        "incident on the Payments service.\n",
        ["paygw", "payments"],
    ),
    (
        "Failing over orders-db to its replica",
        ArticleKind.PROCESS_DOCUMENT,
        ["failover", "database", "postgresql", "replica", "orders"],
        "When `orders-db` is down and will not come back within the Online Shop's resolution "
        "target, promote `orders-db-replica`:\n\n"
        "1. Stop writes: put `checkout-api` into maintenance.\n"
        "2. Promote the replica (`pg_ctl promote`).\n"
        "3. Point `checkout-api` at the replica and take it out of maintenance.\n"
        "4. Record the failover on the incident and open a problem for the root cause.\n",
        ["ordersdb", "ordersdb2", "shop"],
    ),
)


def load_demo_articles(store: Store, cis: Mapping[str, str]) -> int:
    """Write and publish the demo articles that are not there yet (found by title); returns
    how many were added. They go through the knowledge base's own rules."""
    rows, _ = records.page(store, SYSTEM, KNOWLEDGE_ARTICLE, RecordSearch(limit=500, count=False))
    present = {props.get("title") for props, _ in rows}
    added = 0
    for title, kind, keywords, body, about in ARTICLES:
        if title in present:
            continue
        draft = articles.create_article(
            store,
            SYSTEM,
            KNOWLEDGE_ARTICLE,
            {"title": title, "kind": kind.value, "keywords": keywords, "body": body},
            {"cis": [cis[key] for key in about]},
        )
        for state in (ArticleState.REVIEW, ArticleState.PUBLISHED):
            draft = articles.transition_article(
                store,
                SYSTEM,
                KNOWLEDGE_ARTICLE,
                draft["id"],
                state.value,
                version=draft["version"],
                changes={},
            )
        added += 1
    return added
