"""Knowledge search latency: `searchKnowledge` over HTTP against the bare full-text call.

    .venv/bin/python -m bench.bench_knowledge                 # 10,000 articles
    .venv/bin/python -m bench.bench_knowledge --articles 2000

Loads seeded, generated articles (FAQs and process documents of about 250 words each, one word
in twenty from an ITSM vocabulary and the rest made-up names with a long tail; every article
published once: the article and its revision, as a publish stores them) with the raw loader,
waits for the full-text indexes, starts the API as deployed (`itsm serve` in a process of its
own), and for each of the search phrases times, alternating which goes first:

* **API, agent**: `searchKnowledge(query, first: 20)` as an admin, who searches the working
  copies, asking for each hit's score, highlights and the article's id, number and title;
* **API, viewer**: the same as a viewer, who searches the published revisions;
* **raw**: `CALL db.index.fulltext.queryNodes(index, query, {limit: 20})` through the driver
  over the articles' index, returning id and score: the index alone.

Prints p50/p95 of each over all phrases and rounds, and the ratios API/raw.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import neo4j

from bench.common import (
    ROOT,
    ApiProcess,
    Client,
    admin_token,
    driver_for,
    log,
    neo4j_server,
    open_store,
    percentile,
)
from core.access import SYSTEM
from core.knowledge import KNOWLEDGE_ARTICLE
from domain.search import full_text_search
from domain.tokens import issue_token
from graphdb.migrations import migrate

PAGE = 20
COUNT = "query($q: String!) { searchKnowledge(query: $q, first: 1) { totalCount } }"
SEARCH = """query($q: String!) { searchKnowledge(query: $q, first: 20) {
  edges { node { score highlights { field fragment } article { id number title } } } } }"""

WORDS = [
    "vpn",
    "token",
    "password",
    "reset",
    "printer",
    "queue",
    "mailbox",
    "quota",
    "laptop",
    "docking",
    "monitor",
    "database",
    "failover",
    "backup",
    "restore",
    "replica",
    "certificate",
    "renewal",
    "firewall",
    "rule",
    "proxy",
    "network",
    "outage",
    "storage",
    "volume",
    "snapshot",
    "cluster",
    "node",
    "kubernetes",
    "deployment",
    "rollback",
    "release",
    "change",
    "window",
    "approval",
    "incident",
    "escalation",
    "priority",
    "service",
    "desk",
    "portal",
    "request",
    "access",
    "account",
    "locked",
    "license",
    "software",
    "install",
    "update",
    "patch",
    "windows",
    "linux",
    "server",
    "restart",
    "disk",
    "full",
    "memory",
    "cpu",
    "latency",
    "timeout",
    "dns",
    "domain",
    "email",
    "calendar",
    "meeting",
    "room",
    "phone",
    "headset",
    "wifi",
    "guest",
    "badge",
]
PHRASES = [
    "vpn",
    "printer queue",
    "database failover",
    "password reset",
    "certificate",
    "disk full",
    "kubernetes rollback",
    "mail",
    "wifi guest",
    "escalation priority",
    "backup restore",
    "firewall",
]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """Made-up words (product names, hosts, error codes): what makes real articles differ."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "bra", "dex", "gor", "pli"]
    words = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def articles(count: int, seed: int) -> list[dict[str, Any]]:
    """Articles whose words are one in twenty from the ITSM vocabulary (so a phrase matches a
    few percent to a few tens of percent of them, as in a real knowledge base) and otherwise
    made-up words, drawn with a long tail."""
    rng = random.Random(seed)
    rare = _vocabulary(rng, 4000)
    weights = [1 / (rank + 1) for rank in range(len(rare))]

    def words(k: int, common: float) -> list[str]:
        picked = rng.choices(rare, weights=weights, k=k)
        return [rng.choice(WORDS) if rng.random() < common else w for w in picked]

    out = []
    for i in range(count):
        title = " ".join(words(rng.randint(4, 8), 0.5)).capitalize()
        sentences = [
            " ".join(words(rng.randint(6, 14), 0.05)).capitalize() + "."
            for _ in range(rng.randint(10, 40))
        ]
        out.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "number": f"KB{i + 1:07d}",
                "kind": "faq" if i % 3 else "process_document",
                "title": title,
                "body": " ".join(sentences),
                "keywords": sorted(set(rng.choices(WORDS, k=3))),
            }
        )
    return out


def raw_load(driver: neo4j.Driver, rows: list[dict[str, Any]]) -> None:
    """Published articles, each with its first revision, in batches."""
    now = datetime.now(UTC)
    with driver.session(database="neo4j") as session:
        for start in range(0, len(rows), 2000):
            session.run(
                "UNWIND $rows AS row "
                "CREATE (a:KnowledgeArticle) SET a = row, a.state = 'published', a.revision = 1, "
                "  a.version = 1, a.createdAt = $at, a.updatedAt = $at, a.publishedAt = $at, "
                "  a.authorId = 'bench', a.authorName = 'bench' "
                "CREATE (r:ArticleRevision {id: row.id + '-1', articleId: row.id, revision: 1, "
                "  kind: row.kind, title: row.title, body: row.body, keywords: row.keywords, "
                "  publishedAt: $at, publishedById: 'bench', publishedByName: 'bench', "
                "  version: 1, createdAt: $at, updatedAt: $at})-[:REVISION_OF]->(a)",
                rows=rows[start : start + 2000],
                at=now,
            ).consume()
        session.run("CALL db.awaitIndexes(600)").consume()


def raw_search(driver: neo4j.Driver, text: str) -> None:
    def work(tx: neo4j.ManagedTransaction) -> None:
        list(
            tx.run(
                "CALL db.index.fulltext.queryNodes($index, $text, {limit: $limit}) "
                "YIELD node, score RETURN node.id AS id, score",
                index=KNOWLEDGE_ARTICLE.fulltext_index,
                text=text,
                limit=PAGE,
            )
        )

    with driver.session(database="neo4j", default_access_mode=neo4j.READ_ACCESS) as session:
        session.execute_read(work)


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000, help="articles to search")
    parser.add_argument("--rounds", type=int, default=10, help="timed calls per phrase and side")
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args(argv)

    rows = articles(args.articles, args.seed)
    log(f"{len(rows)} articles (seed {args.seed}), about {len(rows[0]['body'].split())} words each")
    samples: dict[str, list[float]] = {"agent": [], "viewer": [], "raw": []}
    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        raw_load(driver, rows)
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log") as server:
            agent = Client(server.url, admin_token(store))
            viewer = Client(server.url, issue_token(store, SYSTEM, "viewer", "bench").secret)
            sides: dict[str, Callable[[str], Any]] = {
                "agent": lambda q: agent(SEARCH, {"q": q}),
                "viewer": lambda q: viewer(SEARCH, {"q": q}),
                "raw": lambda q: raw_search(driver, full_text_search(q)),
            }
            for phrase in PHRASES:  # warm every side up
                for run in sides.values():
                    run(phrase)
            for round_ in range(args.rounds):
                for i, phrase in enumerate(PHRASES):
                    order = list(sides) if (round_ + i) % 2 == 0 else list(reversed(sides))
                    for name in order:
                        samples[name].append(timed(lambda n=name, p=phrase: sides[n](p)))
            hits = agent(COUNT, {"q": PHRASES[0]})["searchKnowledge"]["totalCount"]
            agent.close()
            viewer.close()
        driver.close()
        store.graph.close()

    raw50, raw95 = percentile(samples["raw"], 50), percentile(samples["raw"], 95)
    print()
    print(
        f"{len(rows)} articles; {len(PHRASES)} phrases x {args.rounds} rounds per side; "
        f"pages of {PAGE} ({hits} articles match {PHRASES[0]!r})"
    )
    print(f"{'side':<12} {'p50':>8} {'p95':>8}  {'p50 ratio':>9} {'p95 ratio':>9}")
    for name in ("agent", "viewer", "raw"):
        p50, p95 = percentile(samples[name], 50), percentile(samples[name], 95)
        print(f"{name:<12} {p50:>6.1f}ms {p95:>6.1f}ms  {p50 / raw50:>9.2f} {p95 / raw95:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
