"""From a threshold crossing to the notification leaving: p50 and p99.

Two `itsm worker` processes on a Redis broker, a local SMTP server (aiosmtpd) and a dedicated
Neo4j. A threshold (above 90, fires at once, action notify, one person named) watches `--count`
CIs. Each crossing is one `ingest_metrics` message with one sample above the limit on a CI of its
own, sent to the broker as the metrics endpoint does once a batch is accepted; the latency is from
`send` returning to the e-mail arriving at the SMTP server: the worker evaluates the sample,
raises the trigger event, opens the alert and queues its notification in one transaction, and a
worker sends it (a second broker hop). Crossings go one at a time, each after the previous e-mail.

The event policy's correlation window is set to 0: a root alert waits that window before it
acts, so a non-zero window adds itself to this latency.

The baseline, in the same run and through the same broker and workers: a notification queued
directly (one transaction, then the `send_notification` message) to the same person, timed from
before its transaction to the e-mail arriving; that is the crossing path's last hop alone.

    .venv/bin/python -m bench.bench_thresholds --count 300
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

import dramatiq

from bench.bench_incidents import TimedMail, WorkerProcesses
from bench.common import ROOT, log, neo4j_server, percentile
from core.access import SYSTEM
from core.events import THRESHOLD
from domain import cmdb, configuration
from domain.availability import INGEST_METRICS, MetricSample
from domain.availability.thresholds import THRESHOLD_RULES
from domain.events import policy
from domain.notifications import Addressee, notify
from graphdb.driver import Graph, GraphConfig
from graphdb.migrations import migrate
from graphdb.write_path import Store, UnitOfWork
from workers.broker import install_broker, publish

ROOT_LOG = "bench-thresholds-workers.log"


def _estate(store: Store, count: int) -> tuple[list[str], str, str]:
    """`count` servers, an active SLA, a person with an e-mail address, and the threshold."""
    cis = [
        configuration.register_ci(store, SYSTEM, cmdb.NewCI("Server", f"bench-server-{i:04d}"))[
            "id"
        ]
        for i in range(count)
    ]

    def agreement(uow: UnitOfWork) -> tuple[str, str]:
        sla = uow.create("SLA", {"name": "Bench SLA", "state": "active"})["id"]
        person = uow.create(
            "Person", {"name": "Bench duty", "email": "duty@example.com", "state": "active"}
        )["id"]
        return sla, person

    sla, person = store.write(SYSTEM, agreement)
    threshold = THRESHOLD_RULES.create(
        store,
        SYSTEM,
        THRESHOLD,
        {
            "name": "bench cpu",
            "metric": "cpu",
            "operator": "gt",
            "value": 90.0,
            "clearValue": 50.0,
            "forSeconds": 0,
            "action": "notify",
        },
        {"sla": [sla], "cis": cis, "notifyPeople": [person]},
    )
    _no_correlation_wait(store)
    return cis, person, str(threshold["id"])


def _no_correlation_wait(store: Store) -> None:
    policy.set_policy(store, SYSTEM, {"correlationWindowSeconds": 0}, None, version=None)


def _wait_for_mail(mail: TimedMail, seen: int, timeout: float = 30) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with mail.lock:
            if len(mail.received) > seen:
                return mail.received[seen][0]
        time.sleep(0.002)
    return None


def _timed(mail: TimedMail, count: int, one: Callable[[int], float]) -> tuple[list[float], int]:
    """Run `one(i)` (which returns its start time) `count` times, each after the previous mail;
    the latencies in ms and how many never arrived."""
    lags, missing = [], 0
    for i in range(count):
        with mail.lock:
            seen = len(mail.received)
        started = one(i)
        arrived = _wait_for_mail(mail, seen)
        if arrived is None:
            missing += 1
            continue
        lags.append((arrived - started) * 1000)
    return lags, missing


def run(graph: GraphConfig, count: int, warmup: int) -> list[str]:
    from aiosmtpd.controller import Controller

    from itsm.background import free_port
    from tests.processes import RedisServer

    redis_server = RedisServer().start()
    broker = install_broker(redis_server.url)
    store = Store(Graph(graph), publish)
    migrate(store.graph)
    cis, person, threshold = _estate(store, count + warmup)
    log(f"{len(cis)} servers watched by one threshold")
    mail = TimedMail()
    smtp_port = free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = {
        "BROKER_URL": redis_server.url,
        "ITSM_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "ITSM_MAIL_FROM": "bench@example.com",
    }
    ingest = broker.get_actor(INGEST_METRICS)
    assert isinstance(ingest, dramatiq.Actor)

    def crossing(i: int) -> float:
        now = datetime.now(UTC)
        sample = MetricSample(cis[i], "cpu", 99.0, now, now)
        started = time.time()
        ingest.send([sample.to_wire()])
        return started

    def baseline(i: int) -> float:
        def queue(uow: UnitOfWork) -> None:
            notify(
                uow,
                about_label="Threshold",
                about_id=threshold,
                to=[Addressee("Person", person)],
                subject=f"baseline {i}",
                body="bench",
                reason="bench baseline",
                key=f"baseline:{i}",
            )

        started = time.time()
        store.write(SYSTEM, queue)
        return started

    try:
        with WorkerProcesses(graph, env, ROOT / ".itsm" / ROOT_LOG, processes=2):
            _timed(mail, warmup, lambda i: crossing(count + i))
            _timed(mail, warmup, lambda i: baseline(count + i))
            log(f"measuring {count} notifications queued directly, then {count} crossings")
            base, base_missing = _timed(mail, count, baseline)
            lags, missing = _timed(mail, count, crossing)
    finally:
        smtp.stop()
        store.graph.close()
        redis_server.close()
    rows = [
        f"{'':<24}{'sent':>6}{'missing':>9}{'p50':>9}{'p99':>9}{'max':>9}"
        f"{'p50 ratio':>11}{'p99 ratio':>11}"
    ]
    for name, values, lost in (
        ("notification (baseline)", base, base_missing),
        ("threshold crossing", lags, missing),
    ):
        if not values:
            rows.append(f"{name:<24}{count:>6}{lost:>9}  nothing arrived (see .itsm/{ROOT_LOG})")
            continue
        p50, p99 = percentile(values, 50), percentile(values, 99)
        ratio50 = p50 / percentile(base, 50) if base else float("nan")
        ratio99 = p99 / percentile(base, 99) if base else float("nan")
        rows.append(
            f"{name:<24}{count:>6}{lost:>9}{p50:>7.0f}ms{p99:>7.0f}ms"
            f"{max(values):>7.0f}ms{ratio50:>10.2f}x{ratio99:>10.2f}x"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=300, help="crossings (and baseline sends)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed ones of each first")
    args = parser.parse_args(argv)
    with neo4j_server(heap="1g", pagecache="256m") as graph:
        for line in run(graph, args.count, args.warmup):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
