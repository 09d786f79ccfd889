"""An alert storm: a parent CI with N dependants (DEPENDS_ON it, through the CMDB), all alerting in
random order, in batches across two worker processes through a Redis broker.

Checks the outcome (exactly one incident, one notification, N symptoms linked to the parent's
root alert) and reports how long the storm took to settle: from the first batch queued until the
root had acted and every symptom was linked. The baseline, measured in the same run, is the same
number of events on as many CIs that depend on nothing, each only recorded (severity info): the
pipeline without correlation or actions.

    .venv/bin/python -m bench.bench_alert_storm --dependants 200
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.bench_incidents import WorkerProcesses
from bench.common import ROOT, driver_for, log, neo4j_server, open_store
from core.access import SYSTEM
from core.events import EventAction, Severity
from domain.events import INGEST_EVENTS, IncomingEvent
from domain.events import policy as event_policy
from domain.ingest import enqueue
from domain.reconciliation import ImportItem, ImportRelationship, import_cis
from graphdb.migrations import migrate
from graphdb.write_path import Store, UnitOfWork
from tests.processes import RedisServer
from workers.broker import install_broker


def estate(store: Store, prefix: str, dependants: int, *, linked: bool) -> dict[str, str]:
    items = [ImportItem("Database", f"{prefix}-parent", key="parent")]
    items += [
        ImportItem("Application", f"{prefix}-{i:03d}", key=f"d{i}") for i in range(dependants)
    ]
    rels = (
        [
            ImportRelationship("DEPENDS_ON", source_key=f"d{i}", target_key="parent")
            for i in range(dependants)
        ]
        if linked
        else []
    )
    result = import_cis(store, SYSTEM, "bench", items, rels)
    return {str(r.key): str(r.ci_id) for r in result.items}


def storm(
    cis: dict[str, str], prefix: str, severity: Severity, batch: int, seed: int
) -> list[list[dict[str, Any]]]:
    now = datetime.now(UTC)
    events = [
        IncomingEvent(
            id=str(uuid.uuid4()),
            action=EventAction.TRIGGER,
            dedup_key=f"{prefix}:{key}",
            at=now,
            received_at=now,
            ci_id=ci,
            severity=severity,
            summary=f"{key} is down",
            source="bench",
        ).to_wire()
        for key, ci in cis.items()
    ]
    random.Random(seed).shuffle(events)
    return [events[i : i + batch] for i in range(0, len(events), batch)]


def settled(store: Store, prefix: str, total: int, correlated: bool) -> dict[str, int] | None:
    def read(tx: Any) -> dict[str, int]:
        row = tx.run(
            "MATCH (a:Alert) WHERE a.dedupKey STARTS WITH $p "
            "OPTIONAL MATCH (a)-[:SYMPTOM_OF]->(r:Alert) "
            "RETURN count(a) AS alerts, count(r) AS symptoms, "
            "  count(CASE WHEN a.role = 'root' AND a.actedAt IS NOT NULL THEN 1 END) AS acted",
            p=f"{prefix}:",
        ).single()
        return dict(row)

    found = store.read(read)
    if found["alerts"] < total:
        return None
    if correlated and (found["symptoms"] < total - 1 or found["acted"] < 1):
        return None
    return found


def outcome(store: Store, prefix: str) -> dict[str, int]:
    def read(tx: Any) -> dict[str, int]:
        incidents = tx.run(
            "MATCH (a:Alert)-[:RAISED]->(i:Incident) WHERE a.dedupKey STARTS WITH $p "
            "RETURN count(DISTINCT i) AS n, "
            "  count(DISTINCT CASE WHEN NOT i.state IN ['resolved', 'closed'] THEN i END) AS open",
            p=f"{prefix}:",
        ).single()
        notes = tx.run(
            "MATCH (n:Notification)-[:NOTIFIES_ABOUT]->(a:Alert) WHERE a.dedupKey STARTS WITH $p "
            "RETURN count(n) AS n",
            p=f"{prefix}:",
        ).single()
        return {"incidents": incidents["n"], "open": incidents["open"], "notifications": notes["n"]}

    return store.read(read)


def run(
    store: Store, prefix: str, dependants: int, *, linked: bool, batch: int, seed: int
) -> tuple[float, dict[str, int]]:
    cis = estate(store, prefix, dependants, linked=linked)
    severity = Severity.CRITICAL if linked else Severity.INFO
    batches = storm(cis, prefix, severity, batch, seed)
    start = time.monotonic()
    for wires in batches:
        enqueue(INGEST_EVENTS, wires)
    deadline = start + 600
    while time.monotonic() < deadline:
        found = settled(store, prefix, len(cis), linked)
        if found is not None:
            return time.monotonic() - start, {**found, **outcome(store, prefix)}
        time.sleep(0.1)
    raise RuntimeError(f"{prefix}: the storm did not settle in 600 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dependants", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10, help="events per broker message")
    parser.add_argument("--window", type=int, default=10, help="correlationWindowSeconds")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    redis_server = RedisServer().start()
    try:
        with neo4j_server(heap="1g", pagecache="256m") as graph:
            store = open_store(graph)
            migrate(store.graph)
            install_broker(redis_server.url)

            def team(uow: UnitOfWork) -> str:
                return str(
                    uow.create(
                        "Team",
                        {
                            "name": "DBAs",
                            "number": uow.next_number("TEAM"),
                            "email": "dbas@example.com",
                            "state": "active",
                        },
                    )["id"]
                )

            fallback = store.write(SYSTEM, team)
            event_policy.set_policy(
                store,
                SYSTEM,
                {
                    "correlationWindowSeconds": args.window,
                    "severityActions": ["critical=both", "info=record"],
                },
                {"fallbackTeam": [fallback]},
                version=None,
            )
            env = {"BROKER_URL": redis_server.url}
            log_file = ROOT / ".itsm" / "bench-alert-storm-workers.log"
            with WorkerProcesses(graph, env, log_file, processes=2):
                base_s, base = run(
                    store, "base", args.dependants, linked=False, batch=args.batch, seed=args.seed
                )
                log(f"baseline: {base_s:.2f} s {base}")
                storm_s, found = run(
                    store, "storm", args.dependants, linked=True, batch=args.batch, seed=args.seed
                )
                log(f"storm: {storm_s:.2f} s {found}")
            driver_for(graph).close()
    finally:
        redis_server.close()
    events = args.dependants + 1
    acting = storm_s - args.window
    print(f"alert storm: 1 parent + {args.dependants} dependants, {events} events in random order,")
    print(
        f"  {args.batch} per broker message, two worker processes, "
        f"correlation window {args.window} s"
    )
    print(
        f"{'':>12}{'settled':>10}{'minus window':>14}{'alerts':>8}{'symptoms':>10}"
        f"{'incidents':>11}{'notified':>10}"
    )
    print(
        f"{'baseline':>12}{base_s:>9.2f}s{'':>14}{base['alerts']:>8}{base['symptoms']:>10}"
        f"{base['incidents']:>11}{base['notifications']:>10}"
    )
    print(
        f"{'storm':>12}{storm_s:>9.2f}s{acting:>13.2f}s{found['alerts']:>8}"
        f"{found['symptoms']:>10}{found['incidents']:>11}{found['notifications']:>10}"
    )
    print(
        f"storm / baseline: {storm_s / base_s:.2f}x (window included), "
        f"{max(acting, 0) / base_s:.2f}x (window excluded)"
    )
    ok = (
        found["incidents"] == 1
        and found["notifications"] == 1
        and found["symptoms"] == args.dependants
    )
    print(
        "outcome:", "exactly one incident, one notification, all symptoms linked" if ok else "WRONG"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
