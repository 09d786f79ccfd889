"""Change Management latency: the conflict check on saving a change and the causing-change
proposal on opening an incident, over HTTP, against the same traversal as one Cypher query.

    .venv/bin/python -m bench.bench_changes                                  # 10,000 CIs
    .venv/bin/python -m bench.bench_changes --cis 2000 --changes 300 --incidents 100 --rounds 20

Loads the generated estate with the raw loader, adds `--changes` changes (each modifying one
seeded-random CI, planned windows spread over two weeks, half implemented in the last five days)
and `--incidents` incidents on random CIs, then times, per round:

* `updateChange` moving a random change's planned window (the save recomputes risk and
  conflicts) against `graphdb.cypher.changes.conflicts`' query run alone through the driver;
* `createIncident` on a random CI (the lifecycle proposes causing changes) against
  `graphdb.cypher.changes.recent_upstream`'s query alone.

Prints p50/p95 of each and the ratios API/raw from the same run. The API does more than the raw
query (risk terms, the audit, routing and clocks of the incident), so the ratio is the cost of the
whole write around the traversal.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
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
from bench.estate import generate, validate
from core.ids import to_global_id
from domain.changes.lifecycle import not_dependencies
from graphdb.cypher import changes as cypher
from graphdb.migrations import migrate

UPDATE = """mutation($input: UpdateChangeInput!) { updateChange(input: $input) {
  userErrors { code message } change { id conflictCount risk } } }"""
OPEN = """mutation($input: CreateIncidentInput!) { createIncident(input: $input) {
  userErrors { code message } incident { id changeProposals { rank } } } }"""


def seed_changes(
    driver: neo4j.Driver, ci_ids: list[str], changes: int, incidents: int, seed: int
) -> list[str]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = []
    for n in range(changes):
        start = now + timedelta(hours=rng.uniform(-120, 216))
        implemented = now - timedelta(hours=rng.uniform(0, 120)) if n % 2 == 0 else None
        rows.append(
            {
                "id": f"bench-chg-{n}",
                "number": f"CHGB{n:07d}",
                "ci": rng.choice(ci_ids),
                "start": start,
                "end": start + timedelta(hours=rng.uniform(1, 6)),
                "implementedAt": implemented,
                "state": "review" if implemented else "scheduled",
            }
        )
    # The incidents are the estate's history: opened over the last year, as a real one's are,
    # so that the recurrence window holds about a day's worth of them.
    inc = [
        {
            "id": f"bench-inc-{n}",
            "number": f"INCB{n:07d}",
            "ci": rng.choice(ci_ids),
            "at": now - timedelta(days=rng.uniform(0, 365)),
        }
        for n in range(incidents)
    ]
    with driver.session(database="neo4j") as session:
        session.run(
            "UNWIND $rows AS r MATCH (x:CI {id: r.ci}) "
            "CREATE (c:Change {id: r.id, number: r.number, title: 'bench change', "
            "  changeType: 'normal', state: r.state, plannedStart: r.start, plannedEnd: r.end, "
            "  implementedAt: r.implementedAt, version: 1, createdAt: datetime(), "
            "  updatedAt: datetime()})-[:MODIFIES]->(x)",
            rows=rows,
        ).consume()
        session.run(
            "UNWIND $rows AS r MATCH (x:CI {id: r.ci}) "
            "CREATE (i:Incident {id: r.id, number: r.number, title: 'bench incident', "
            "  state: 'new', version: 1, createdAt: r.at, updatedAt: r.at})"
            "-[:AFFECTS]->(x)",
            rows=inc,
        ).consume()
    return [str(r["id"]) for r in rows]


def raw(driver: neo4j.Driver, work: Any) -> float:
    started = time.perf_counter()
    with driver.session(database="neo4j", default_access_mode=neo4j.READ_ACCESS) as session:
        session.execute_read(work)
    return (time.perf_counter() - started) * 1000


def report(name: str, api_ms: list[float], raw_ms: list[float]) -> None:
    a50, a95 = percentile(api_ms, 50), percentile(api_ms, 95)
    r50, r95 = percentile(raw_ms, 50), percentile(raw_ms, 95)
    log(
        f"{name}: API p50 {a50:.1f} ms p95 {a95:.1f} ms; raw p50 {r50:.1f} ms p95 {r95:.1f} ms; "
        f"ratio p50 {a50 / max(r50, 0.001):.1f}x p95 {a95 / max(r95, 0.001):.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cis", type=int, default=10_000, help="CIs in the estate")
    parser.add_argument("--changes", type=int, default=2_000)
    parser.add_argument("--incidents", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=50, help="timed saves and openings")
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args(argv)

    estate = generate(args.cis, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    rng = random.Random(args.seed)
    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        ids, _ = raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        migrate(store.graph)
        ci_ids = list(ids.values())
        change_ids = seed_changes(driver, ci_ids, args.changes, args.incidents, args.seed)
        log(f"{len(ci_ids)} CIs, {args.changes} changes, {args.incidents} incidents loaded")
        skip = not_dependencies()
        save_api: list[float] = []
        save_raw: list[float] = []
        open_api: list[float] = []
        open_raw: list[float] = []
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log") as server:
            client = Client(server.url, admin_token(store))
            now = datetime.now(UTC)
            for n in range(args.rounds):
                change_id = rng.choice(change_ids)
                start = now + timedelta(hours=rng.uniform(-24, 200))
                given = {
                    "id": to_global_id("Change", change_id),
                    "plannedStart": start.isoformat(),
                    "plannedEnd": (start + timedelta(hours=3)).isoformat(),
                }
                t0 = time.perf_counter()
                answer = client(UPDATE, {"input": given})["updateChange"]
                save_api.append((time.perf_counter() - t0) * 1000)
                assert not answer["userErrors"], answer
                save_raw.append(raw(driver, lambda tx, c=change_id: cypher.conflicts(tx, c, skip)))

                ci_id = rng.choice(ci_ids)
                t0 = time.perf_counter()
                opened = client(
                    OPEN,
                    {
                        "input": {
                            "title": f"bench {n}",
                            "ci": ci_id,
                            "impact": "LOW",
                            "urgency": "LOW",
                        }
                    },
                )["createIncident"]
                open_api.append((time.perf_counter() - t0) * 1000)
                assert not opened["userErrors"], opened
                at = datetime.now(UTC)
                open_raw.append(
                    raw(
                        driver,
                        lambda tx, c=ci_id, at=at: cypher.recent_upstream(
                            tx, c, at - timedelta(hours=72), at, skip
                        ),
                    )
                )
            client.close()
        driver.close()
    report("conflict check on save (updateChange)", save_api, save_raw)
    report("causing-change proposal (createIncident)", open_api, open_raw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
