"""CI list latency: the GraphQL `cis` query over HTTP against hand-written Cypher for the same page.

    .venv/bin/python -m bench.bench_search               # 100,000 CIs
    .venv/bin/python -m bench.bench_search --size 10000

Loads the generated estate with the raw loader, starts the API as deployed (`itsm serve` in its
own process) and, for a few filters and orders, times the first page of 50 CIs and the page after
it (from the first page's cursor), with the total count, against the query a person would write
through the driver: the same filter, ORDER BY the same key then id, SKIP/LIMIT, and a count.
Prints p50 of both and the ratios API/raw.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
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
    partition,
    percentile,
    raw_load,
)
from bench.estate import generate
from graphdb.migrations import migrate

PAGE = 50
LIST_QUERY = """query($f: CIFilter, $o: CIOrder, $after: String) {
  cis(filter: $f, orderBy: $o, first: 50, after: $after) {
    totalCount pageInfo { endCursor } edges { node { id name ciClass } } } }"""

# (label, GraphQL filter, GraphQL order, raw WHERE, raw ORDER BY key)
CASES: list[tuple[str, dict[str, Any], dict[str, str], str, str]] = [
    ("all, by name", {}, {"field": "NAME", "direction": "ASC"}, "", "n.name"),
    ("all, by name desc", {}, {"field": "NAME", "direction": "DESC"}, "", "n.name DESC"),
    (
        "class Server, by name",
        {"ciClass": "Server"},
        {"field": "NAME", "direction": "ASC"},
        "WHERE n.ciClass = 'Server'",
        "n.name",
    ),
    (
        "lifecycle live, by name",
        {"lifecycle": "LIVE"},
        {"field": "NAME", "direction": "ASC"},
        "WHERE n.lifecycle = 'live'",
        "n.name",
    ),
    (
        "all, by creation",
        {},
        {"field": "CREATED_AT", "direction": "ASC"},
        "",
        "n.createdAt",
    ),
]


def timed(fn: Callable[[], Any], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50)


def raw_page(driver: neo4j.Driver, where: str, key: str, skip: int) -> None:
    tie = "n.id DESC" if key.endswith("DESC") else "n.id"

    def work(tx: neo4j.ManagedTransaction) -> None:
        list(
            tx.run(
                f"MATCH (n:CI) {where} RETURN n.id, n.name, n.ciClass "
                f"ORDER BY {key}, {tie} SKIP $skip LIMIT $limit",
                skip=skip,
                limit=PAGE,
            )
        )
        tx.run(f"MATCH (n:CI) {where} RETURN count(n)").single()

    with driver.session(database="neo4j", default_access_mode=neo4j.READ_ACCESS) as session:
        session.execute_read(work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="CIs in the estate")
    parser.add_argument("--times", type=int, default=30, help="timed calls per page")
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args(argv)

    estate = generate(args.size, args.seed)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    rows = []
    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        migrate(store.graph)
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log") as server:
            client = Client(server.url, admin_token(store))
            for label, flt, order, where, key in CASES:
                variables: dict[str, Any] = {"f": flt, "o": order}
                first = client(LIST_QUERY, variables)["cis"]
                second = {**variables, "after": first["pageInfo"]["endCursor"]}
                for _ in range(5):  # warm both up
                    client(LIST_QUERY, variables)
                    raw_page(driver, where, key, 0)
                api1 = timed(lambda v=variables: client(LIST_QUERY, v), args.times)
                api2 = timed(lambda v=second: client(LIST_QUERY, v), args.times)
                raw1 = timed(lambda w=where, k=key: raw_page(driver, w, k, 0), args.times)
                raw2 = timed(lambda w=where, k=key: raw_page(driver, w, k, PAGE), args.times)
                rows.append((label, first["totalCount"], api1, api2, raw1, raw2))
                log(f"{label}: API {api1:.1f}/{api2:.1f} ms, raw {raw1:.1f}/{raw2:.1f} ms")
            client.close()
        driver.close()
        store.graph.close()

    print()
    print(f"estate: {len(estate.items)} CIs; pages of {PAGE}, p50 of {args.times} calls each")
    print(
        f"{'list':<26} {'total':>7}  {'API p1':>8} {'API p2':>8}  {'raw p1':>8} {'raw p2':>8}  "
        f"{'ratio p1':>8} {'ratio p2':>8}"
    )
    for label, total, api1, api2, raw1, raw2 in rows:
        api = f"{api1:>6.1f}ms {api2:>6.1f}ms"
        raw = f"{raw1:>6.1f}ms {raw2:>6.1f}ms"
        print(f"{label:<26} {total:>7}  {api}  {raw}  {api1 / raw1:>8.2f} {api2 / raw2:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
