"""Sustained events per second end to end, against the raw cost of the same writes.

    .venv/bin/python -m bench.bench_events --events 6000 --batch 100

* **API**: monitoring clients post batches of events to `POST /v1/events` of `itsm serve`; each
  accepted batch is one message on Redis; two `itsm worker` processes record them through
  `process_events` (events recorded once by id, de-duplicated per locked dedup key into alerts,
  counted, correlation and the event policy consulted). Timed from the first post until the last
  Event record is in the graph.
* **raw**: the same Event nodes and alert updates as hand-written UNWIND Cypher through the
  driver, one transaction per batch, from two threads (one per worker process): create the
  Events, merge the alert key, create or count the Alert, link FEEDS and ABOUT.

Both sides run in the same process on the same Neo4j, one after the other, on fresh dedup keys.
The events are `info` and `warning` triggers on CIs without dependencies: the event policy
records them, so that the run measures the event pipeline and not notification delivery.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import neo4j

from bench.bench_incidents import Report, WorkerProcesses
from bench.common import ROOT, ApiProcess, admin_token, driver_for, log, neo4j_server, open_store
from core.access import SYSTEM
from domain import cmdb, configuration
from domain.events import policy as event_policy
from graphdb.migrations import migrate

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

RAW_EVENTS = (
    "UNWIND $rows AS row "
    "MERGE (k:AlertKey {key: row.key}) "
    "WITH k, row "
    "CALL (k, row) { "
    "  OPTIONAL MATCH (open:Alert {id: k.openAlert}) "
    "  WITH k, row, open "
    "  CALL (k, row, open) { "
    "    WITH k, row, open WHERE open IS NULL "
    "    CREATE (a:Alert {id: randomUUID(), dedupKey: row.key, state: 'triggered', count: 1, "
    "      severity: row.severity, summary: row.summary, firstSeenAt: row.at, lastSeenAt: row.at, "
    "      createdAt: $now, updatedAt: $now, version: 1}) "
    "    SET k.openAlert = a.id "
    "    WITH a, row MATCH (c:CI {id: row.ci}) CREATE (a)-[:ABOUT]->(c) "
    "    RETURN a "
    "    UNION "
    "    WITH open, row WHERE open IS NOT NULL "
    "    SET open.count = open.count + 1, open.lastSeenAt = row.at, open.updatedAt = $now, "
    "      open.version = open.version + 1 "
    "    RETURN open AS a "
    "  } "
    "  RETURN a "
    "} "
    "CREATE (e:Event {id: row.id, action: 'trigger', dedupKey: row.key, severity: row.severity, "
    "  summary: row.summary, source: 'bench', at: row.at, receivedAt: $now, origin: 'monitoring', "
    "  createdAt: $now, updatedAt: $now, version: 1}) "
    "CREATE (e)-[:FEEDS]->(a) "
    "WITH e, row MATCH (c:CI {id: row.ci}) CREATE (e)-[:ABOUT]->(c)"
)


def events(
    cis: list[str], count: int, keys: int, prefix: str, seed: int
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        key = rng.randrange(keys)
        yield {
            "event_action": "trigger",
            "dedup_key": f"{prefix}{key}",
            "payload": {
                "summary": f"check {key} failing",
                "source": "bench",
                "severity": "info" if n % 3 else "warning",
                "timestamp": (T0 + timedelta(seconds=n)).isoformat(),
                "ci": cis[key % len(cis)],
            },
        }


def batches(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def recorded(driver: neo4j.Driver, prefix: str) -> int:
    with driver.session() as session:
        row = session.run(
            "MATCH (e:Event) WHERE e.dedupKey STARTS WITH $p RETURN count(e) AS c", p=prefix
        ).single(strict=True)
    return int(row["c"])


def api_side(
    url: str, token: str, driver: neo4j.Driver, work: list[list[dict[str, Any]]], prefix: str
) -> float:
    """Events per second through HTTP, Redis and the workers, with four posting clients."""
    total = sum(len(b) for b in work)
    queue = list(work)
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    batch = queue.pop()
                answer = http.post(f"{url}/v1/events", json={"events": batch})
                if answer.status_code != 202 or answer.json()["rejected"]:
                    failures.append(answer.text[:300])

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = time.perf_counter() - started
    log(f"api: {total} events accepted in {accepted:.1f} s ({total / accepted:.0f}/s at the edge)")
    if failures:
        raise RuntimeError(f"refused: {failures[:3]}")
    deadline = time.monotonic() + 900
    while recorded(driver, prefix) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {recorded(driver, prefix)} of {total} events recorded")
        time.sleep(0.2)
    return total / (time.perf_counter() - started)


def raw_side(driver: neo4j.Driver, work: list[list[dict[str, Any]]]) -> float:
    """The same writes through the driver alone, from two threads."""
    total = sum(len(b) for b in work)
    queue = list(work)
    lock = threading.Lock()

    def writer() -> None:
        with driver.session() as session:
            while True:
                with lock:
                    if not queue:
                        return
                    batch = queue.pop()
                rows = [
                    {
                        "id": str(uuid.uuid4()),
                        "key": e["dedup_key"],
                        "ci": e["payload"]["ci"],
                        "severity": e["payload"]["severity"],
                        "summary": e["payload"]["summary"],
                        "at": datetime.fromisoformat(e["payload"]["timestamp"]),
                    }
                    for e in batch
                ]
                # Rows of one key in one transaction, as the worker locks each key once.
                rows.sort(key=lambda r: r["key"])
                session.execute_write(
                    lambda tx, rows=rows: tx.run(
                        RAW_EVENTS, rows=rows, now=datetime.now(UTC)
                    ).consume()
                )

    started = time.perf_counter()
    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=6000, help="events per side")
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    parser.add_argument("--keys", type=int, default=300, help="distinct dedup keys")
    parser.add_argument("--cis", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=400, help="events sent before timing")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)

    from tests.processes import RedisServer

    report = Report()
    with neo4j_server(heap="1g", pagecache="256m") as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        cis = [
            str(
                configuration.register_ci(
                    store, SYSTEM, cmdb.NewCI(ci_class="Server", name=f"srv-{n}")
                )["id"]
            )
            for n in range(args.cis)
        ]
        event_policy.set_policy(store, SYSTEM, {"correlationWindowSeconds": 0}, None, version=None)
        token = admin_token(store)
        redis_server = RedisServer().start()
        env = {"BROKER_URL": redis_server.url}
        try:
            workers = WorkerProcesses(graph, env, ROOT / ".itsm" / "bench-workers.log", 2)
            with workers, ApiProcess(graph, ROOT / ".itsm" / "bench-api.log", env=env) as server:
                warm = list(events(cis, args.warmup, args.keys, "warm:", args.seed))
                api_side(server.url, token, driver, batches(warm, args.batch), "warm:")
                api_work = batches(
                    list(events(cis, args.events, args.keys, "api:", args.seed)), args.batch
                )
                api_rate = api_side(server.url, token, driver, api_work, "api:")
        finally:
            redis_server.close()
        raw_work = batches(list(events(cis, args.events, args.keys, "raw:", args.seed)), args.batch)
        raw_rate = raw_side(driver, raw_work)
        driver.close()
        store.graph.close()
    report += [
        "",
        f"events end to end ({args.events} per side, batches of {args.batch}, {args.keys} dedup "
        f"keys on {args.cis} CIs; two worker processes against two raw writer threads):",
        f"{'side':>8}{'events/s':>10}",
        f"{'api':>8}{api_rate:>10.0f}",
        f"{'raw':>8}{raw_rate:>10.0f}",
        f"ratio api/raw: {api_rate / raw_rate:.2f} (target >= 0.50)",
    ]
    print("\n".join(report.lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
