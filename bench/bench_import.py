"""Import throughput: the `importCis` mutation over HTTP against a raw UNWIND … CREATE load.

    .venv/bin/python -m bench.bench_import --size 10000
    .venv/bin/python -m bench.bench_import --size 100000

Both load the same generated estate into an empty database (schema applied) of one dedicated
Neo4j, in batches of 10,000 items: the raw baseline first, through the driver, then the API, one
`importCis` call per batch. A batch carries the relationships whose later end is in it; ends in
earlier batches are sent as `sourceId`/`targetId` from earlier results. Prints CIs/s for both
and the ratio API/raw, then how fast the background blast-radius refresh that the import
triggers catches up.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import dramatiq

from bench.common import (
    IMPORT_MUTATION,
    ApiServer,
    Batch,
    Client,
    admin_token,
    bench_settings,
    count_graph,
    driver_for,
    log,
    neo4j_server,
    open_store,
    partition,
    raw_load,
    wipe,
)
from bench.estate import generate, validate
from graphdb.migrations import migrate


def api_payload(batch: Batch, ids: dict[str, str], source: str) -> dict[str, Any]:
    here = {item["key"] for item in batch.items}
    rels = []
    for rel in batch.relationships:
        out: dict[str, Any] = {"type": rel["type"], "attributes": rel.get("attributes") or {}}
        for end in ("source", "target"):
            key = rel[f"{end}Key"]
            if key in here:
                out[f"{end}Key"] = key
            else:
                out[f"{end}Id"] = ids[key]
        rels.append(out)
    return {"source": source, "items": batch.items, "relationships": rels}


def api_load(client: Client, batches: list[Batch], source: str) -> tuple[dict[str, str], float]:
    ids: dict[str, str] = {}
    started = time.perf_counter()
    for n, batch in enumerate(batches, 1):
        payload = api_payload(batch, ids, source)
        t0 = time.perf_counter()
        result = client(IMPORT_MUTATION, {"input": payload})["importCis"]
        seconds = time.perf_counter() - t0
        bad_items = [i for i in result["items"] if i["status"] != "CREATED"]
        bad_rels = [r for r in result["relationships"] if r["status"] != "CREATED"]
        if bad_items or bad_rels:
            raise SystemExit(
                f"batch {n}: {len(bad_items)} items and {len(bad_rels)} relationships not "
                f"created, e.g. {(bad_items + bad_rels)[:3]}"
            )
        for item in result["items"]:
            ids[item["key"]] = item["ciId"]
        log(
            f"  API batch {n}/{len(batches)}: {len(batch.items)} items + "
            f"{len(batch.relationships)} relationships in {seconds:.2f} s "
            f"({len(batch.items) / seconds:,.0f} CIs/s)"
        )
    return ids, time.perf_counter() - started


def watch_blast_radius(driver: Any, total: int, seconds: float) -> str:
    """Follow the background refresh the import queued; returns a one-line summary."""
    started = time.perf_counter()
    done = 0
    while True:
        with driver.session(database="neo4j") as session:
            done = session.run(
                "MATCH (n:CI) WHERE n.blastRadius IS NOT NULL RETURN count(n) AS c"
            ).single(strict=True)["c"]
        elapsed = time.perf_counter() - started
        if done >= total or elapsed >= seconds:
            break
        time.sleep(min(10.0, seconds - elapsed))
    rate = done / elapsed if elapsed else 0.0
    finished = "all done" if done >= total else "still running"
    return (
        f"{done}/{total} CIs have a blastRadius {elapsed:.0f} s after the import "
        f"({rate:,.1f} CIs/s, {finished})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="CIs in the estate")
    parser.add_argument("--batch", type=int, default=10_000, help="items per importCis call")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument(
        "--warmup",
        type=int,
        default=2000,
        help="CIs of a smaller estate loaded (and wiped) both ways first, to warm the JVM up",
    )
    parser.add_argument(
        "--watch-seconds",
        type=float,
        default=60,
        help="how long to follow the background blast-radius refresh after the API import",
    )
    args = parser.parse_args(argv)

    estate = generate(args.size, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    batches = partition(estate.items, estate.relationships, args.batch)
    n_items, n_rels = len(estate.items), len(estate.relationships)

    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)

        warm = generate(args.warmup, args.seed + 1) if args.warmup else None
        if warm is not None:
            wipe(driver)
            raw_load(driver, partition(warm.items, warm.relationships, args.batch))
            log(f"raw: warmed up with {args.warmup} CIs")

        wipe(driver)
        log(f"raw: {len(batches)} transactions of up to {args.batch} items")
        t0 = time.perf_counter()
        _, db_seconds = raw_load(driver, batches)
        raw_seconds = time.perf_counter() - t0
        counted = count_graph(driver)
        if counted != (n_items, n_rels):
            raise SystemExit(f"raw load left {counted}, expected {(n_items, n_rels)}")
        log(f"raw: done in {raw_seconds:.2f} s ({db_seconds:.2f} s in the database)")

        wipe(driver)
        with ApiServer(bench_settings(graph)) as server:
            client = Client(server.url, admin_token(store))
            if warm is not None:
                api_load(client, partition(warm.items, warm.relationships, args.batch), "warmup")
                # Let the refresh the warm-up queued run out before wiping under it.
                dramatiq.get_broker().join("default", timeout=600_000)
                wipe(driver)
                client.close()
                client = Client(server.url, admin_token(store))  # the wipe took the token
                log(f"API: warmed up with {args.warmup} CIs")
            log(f"API: {len(batches)} importCis calls of up to {args.batch} items")
            _, api_seconds = api_load(client, batches, "bench")
            counted = count_graph(driver)
            if counted != (n_items, n_rels):
                raise SystemExit(f"API import left {counted}, expected {(n_items, n_rels)}")
            log(f"API: done in {api_seconds:.2f} s")
            background = watch_blast_radius(driver, n_items, args.watch_seconds)
            client.close()
            # The in-process worker may still be busy; its errors once Neo4j stops are noise.
            logging.getLogger("dramatiq").setLevel(logging.CRITICAL)
        driver.close()
        store.graph.close()

    raw_rate = n_items / raw_seconds
    api_rate = n_items / api_seconds
    print()
    print(f"estate: {n_items} CIs, {n_rels} relationships, batches of {args.batch} items")
    print(
        f"raw Cypher (UNWIND CREATE): {raw_seconds:8.2f} s  {raw_rate:10,.0f} CIs/s  "
        f"{n_rels / raw_seconds:10,.0f} relationships/s"
    )
    print(
        f"API importCis over HTTP:    {api_seconds:8.2f} s  {api_rate:10,.0f} CIs/s  "
        f"{n_rels / api_seconds:10,.0f} relationships/s"
    )
    print(
        f"ratio API/raw (CIs/s):      {api_rate / raw_rate:.3f}  "
        f"(raw is {raw_rate / api_rate:.1f}x faster)"
    )
    print(f"background blast-radius refresh: {background}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
