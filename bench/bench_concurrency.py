"""Throughput under concurrency: the API over HTTP against the driver, at 1, 4 and 16 clients.

    .venv/bin/python -m bench.bench_concurrency                          # 100,000 CIs
    .venv/bin/python -m bench.bench_concurrency --cis 5000 --seconds 5   # a quick look
    .venv/bin/python -m bench.bench_concurrency --profile    # also where the API's time goes

Loads the generated estate with the raw loader and, for two requests,

* **impact**: `impact(direction: DOWNSTREAM, maxDepth: 3)` from seeded-random failing CIs (the
  query and the starts of bench_impact), against the API's own walk run through the driver: the
  one Cypher query of `graphdb.cypher.ci.propagation_reach` with the types the domain follows and
  the properties the query shows (the API may walk again from a redundancy group that is down,
  and reads the services; the raw side stops after the first walk);
* **page**: `cis(first: 50) { edges { node { id name } } }`, against the same ordered page in
  Cypher (`MATCH (n:CI) WHERE n.name IS NOT NULL WITH n ORDER BY n.name, n.id LIMIT 50`),

runs N concurrent clients for `--seconds` (after `--warmup` seconds untimed) and counts requests
per second and the p50/p99 latency. Each client is a process of its own, so that no client
interpreter limits the side it drives: an HTTP client keeps one kept-alive connection
(bench.common.Client: http.client and orjson), a raw client a driver with its own pool, one read
transaction per request. The raw side is measured first, with no API running; then the API as it
is deployed (`itsm serve`, bench.common.ApiProcess) with `--workers 1` and `--workers 2`.
Prints each figure and the API/raw throughput ratio (target: at least 0.7 at 16 clients).

With --profile, py-spy samples the API process (workers 1) during each 16-client run and the
samples are summed by the package of the innermost frame and by function: where the API's CPU
time per request goes. Threads waiting (for Neo4j, for a request) are not sampled.

The machine's cores are shared by Neo4j, the API and every client process: on a small machine
the figures say how the API shares it with the database more than what either could do alone.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j

from bench.bench_impact import IMPACT_QUERY, pick_starts
from bench.common import (
    ROOT,
    ApiProcess,
    Client,
    admin_token,
    count_graph,
    driver_for,
    log,
    neo4j_server,
    open_store,
    partition,
    percentile,
    raw_load,
)
from bench.estate import generate, validate
from domain.cmdb import RELATIONSHIP_TYPES, Propagation
from domain.impact import check_request
from graphdb.cypher import ci as ci_cypher
from graphdb.driver import GraphConfig
from graphdb.migrations import migrate
from schema.cmdb import ConfigurationItem

DEPTH = 3
PAGE_QUERY = "{ cis(first: 50) { edges { node { id name } } } }"
RAW_PAGE = (
    "MATCH (n:CI) WHERE n.name IS NOT NULL WITH n ORDER BY n.name, n.id LIMIT 50 "
    "RETURN n.id AS id, n.name AS name"
)
SCENARIOS = ("impact", "page")
# What the impact query shows of each CI, so that the raw walk reads the same properties.
SHOWN = ConfigurationItem.properties_for({"id", "name", "ciClass"})


def walk_types() -> ci_cypher.Propagating:
    """The relationship types the API's impact walk follows by default, as the domain groups
    them."""
    types = check_request(DEPTH, None)

    def named(p: Propagation) -> tuple[str, ...]:
        return tuple(sorted(t for t in types if RELATIONSHIP_TYPES[t].propagation is p))

    return ci_cypher.Propagating(
        named(Propagation.TO_SOURCE), named(Propagation.TO_TARGET), named(Propagation.BOTH)
    )


TARGET_RATIO = 0.7


@dataclass(frozen=True)
class Job:
    """One client's share of a measurement."""

    side: str  # "api" or "raw"
    scenario: str  # one of SCENARIOS
    url: str
    token: str
    graph: GraphConfig
    ci_ids: tuple[str, ...]
    offset: int  # where in ci_ids this client starts, so that clients ask for different CIs
    start_at: float  # time.time() when every client begins its warm-up
    warmup: float
    seconds: float


def _request(job: Job) -> tuple[Callable[[int], object], Callable[[], None]]:
    """The request a client repeats (given its sequence number) and how to close it."""

    def start(n: int) -> str:
        return job.ci_ids[(job.offset + n) % len(job.ci_ids)]

    if job.side == "api":
        client = Client(job.url, job.token)
        if job.scenario == "impact":
            return lambda n: client(IMPACT_QUERY, {"id": start(n), "depth": DEPTH}), client.close
        return lambda n: client(PAGE_QUERY), client.close
    driver = driver_for(job.graph)
    types = walk_types()

    def raw(n: int) -> object:
        def impact(tx: neo4j.ManagedTransaction) -> object:
            return ci_cypher.propagation_reach(
                tx,
                [(start(n), 0)],
                types,
                upstream=False,
                through_groups=False,
                max_depth=DEPTH,
                properties=SHOWN,
            )

        def page(tx: neo4j.ManagedTransaction) -> object:
            return [dict(r) for r in tx.run(RAW_PAGE)]

        with driver.session(database="neo4j", default_access_mode=neo4j.READ_ACCESS) as session:
            return session.execute_read(impact if job.scenario == "impact" else page)

    return raw, driver.close


def client_run(job: Job) -> list[float]:
    """Run in a client process: the latencies (ms) of the requests finished in the window."""
    call, close = _request(job)
    try:
        while time.time() < job.start_at:
            time.sleep(0.01)
        measure_from = job.start_at + job.warmup
        until = measure_from + job.seconds
        latencies: list[float] = []
        n = 0
        # A request counts when it finishes within the window, wherever it began.
        while time.time() < until:
            started = time.perf_counter()
            call(n)
            elapsed = (time.perf_counter() - started) * 1000
            n += 1
            if measure_from <= time.time() <= until:
                latencies.append(elapsed)
        return latencies
    finally:
        close()


def client_ready(_: int) -> None:
    """Run in a client process, to have every process of the pool started and imported."""
    time.sleep(0.2)


@dataclass
class Figure:
    side: str
    scenario: str
    clients: int
    workers: int  # 0 for the raw side
    requests: int
    seconds: float
    p50: float
    p99: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def measure(
    pool: Any,
    side: str,
    scenario: str,
    clients: int,
    workers: int,
    *,
    url: str,
    token: str,
    graph: GraphConfig,
    ci_ids: tuple[str, ...],
    warmup: float,
    seconds: float,
) -> Figure:
    start_at = time.time() + 1.0  # every client process has picked up its job by then
    jobs = [
        Job(side, scenario, url, token, graph, ci_ids, n * 7, start_at, warmup, seconds)
        for n in range(clients)
    ]
    latencies = [ms for share in pool.map(client_run, jobs, chunksize=1) for ms in share]
    figure = Figure(
        side,
        scenario,
        clients,
        workers,
        len(latencies),
        seconds,
        percentile(latencies, 50),
        percentile(latencies, 99),
    )
    label = f"API, workers {workers}" if side == "api" else "raw"
    if not warmup:
        label += " (priming, untimed)"
    log(
        f"{scenario:<6} {clients:>2} clients, {label}: {figure.rps:7.1f} req/s, "
        f"p50 {figure.p50:.1f} ms, p99 {figure.p99:.1f} ms"
    )
    return figure


# -- profile -----------------------------------------------------------------------------------


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(ROOT / ".venv" / "bin" / "py-spy"))
    if not Path(spy).exists():
        log("py-spy is not installed (pip install py-spy): no profile")
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--format",
            "raw",
            "--nonblocking",
            "--rate",
            "200",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Innermost frames where a thread waits rather than works: for Neo4j's answer on the socket, in
# the event loop for the next request, or an idle pool thread for its next job. py-spy counts
# some of these as active.
WAITING = ("_wait_for_io", "Runner.run", "Condition.wait", "_worker (concurrent/futures")


def _package(frame: str) -> str:
    """`function (neo4j/io/_bolt.py:12)` → the package (or the project's folder) it is in."""
    path = frame.rsplit("(", 1)[-1].rstrip(")").split(":")[0]
    first = path.split("/", 1)[0]
    return first.removesuffix(".py") + ("" if first.endswith(".py") else "/")


def summarise_profile(raw: Path, top: int = 12) -> list[str]:
    """The waiting share of the samples; the rest by the innermost frame's package, and the
    busiest functions."""
    waiting = 0
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        if any(w in leaf for w in WAITING):
            waiting += int(count)
            continue
        by_package[_package(leaf)] += int(count)
        by_function[leaf] += int(count)
    busy = sum(by_package.values()) or 1
    lines = [
        f"{busy + waiting} samples, {100 * waiting / max(1, busy + waiting):.0f}% waiting "
        "(socket to Neo4j, event loop, idle threads); of the rest, by innermost package:"
    ]
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in by_package.most_common(top)]
    lines.append("busiest functions (innermost frame), share of the rest:")
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in by_function.most_common(top)]
    return lines


# -- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cis", type=int, default=100_000, help="CIs in the estate")
    parser.add_argument("--clients", default="1,4,16", help="concurrent clients, comma-separated")
    parser.add_argument("--workers", default="1,2", help="API worker processes, comma-separated")
    parser.add_argument("--seconds", type=float, default=10, help="timed seconds per figure")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds before each")
    parser.add_argument("--starts", type=int, default=50, help="failing CIs the impact clients use")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument(
        "--profile", action="store_true", help="sample the API with py-spy at the most clients"
    )
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]

    estate = generate(args.cis, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    starts = pick_starts(estate, args.starts, args.seed)
    figures: list[Figure] = []
    profiles: dict[str, list[str]] = {}
    spawn = multiprocessing.get_context("spawn")

    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        t0 = time.perf_counter()
        ids, _ = raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        loaded = count_graph(driver)
        log(f"raw load: {loaded} (CIs, relationships) in {time.perf_counter() - t0:.1f} s")
        driver.close()
        migrate(store.graph)
        token = admin_token(store)
        store.graph.close()
        ci_ids = tuple(ids[item["key"]] for item in starts)
        common = {
            "token": token,
            "graph": graph,
            "ci_ids": ci_ids,
            "warmup": args.warmup,
            "seconds": args.seconds,
        }
        prime = {**common, "warmup": 0, "seconds": 2 * args.warmup}
        with spawn.Pool(max(counts)) as pool:
            # Each of the pool's processes holds one of these for a while, so all have started.
            pool.map(client_ready, range(max(counts)), chunksize=1)
            for scenario in SCENARIOS:
                # Untimed: query plans compiled and caches filled before the first figure.
                measure(pool, "raw", scenario, max(counts), 0, url="", **prime)
                for clients in counts:
                    figures.append(measure(pool, "raw", scenario, clients, 0, url="", **common))
            for workers in worker_counts:
                log_file = ROOT / ".itsm" / "bench-api.log"
                with ApiProcess(graph, log_file, workers=workers) as server:
                    for scenario in SCENARIOS:
                        measure(
                            pool, "api", scenario, max(counts), workers, url=server.url, **prime
                        )
                        for clients in counts:
                            spy = None
                            raw_profile = Path(tempfile.mkstemp(suffix=".txt")[1])
                            profiling = args.profile and workers == 1 and clients == max(counts)
                            if profiling:
                                assert server.process is not None
                                # Starts with the clients' warm-up, samples the timed window.
                                spy = start_profile(
                                    server.process.pid, args.warmup + args.seconds + 1, raw_profile
                                )
                            figures.append(
                                measure(
                                    pool,
                                    "api",
                                    scenario,
                                    clients,
                                    workers,
                                    url=server.url,
                                    **common,
                                )
                            )
                            if spy is not None:
                                spy.wait(timeout=120)
                                profiles[scenario] = summarise_profile(raw_profile)
                            raw_profile.unlink(missing_ok=True)

    print()
    print(
        f"estate: {len(estate.items)} CIs, {len(estate.relationships)} relationships; "
        f"impact at maxDepth {DEPTH} from {len(starts)} failing CIs, page = cis(first: 50); "
        f"{args.seconds:g} s per figure after {args.warmup:g} s warm-up; each client a process"
    )
    raw = {(f.scenario, f.clients): f for f in figures if f.side == "raw"}
    print(
        f"{'request':<7} {'clients':>7} {'side':<12} {'req/s':>8} {'p50':>9} {'p99':>9} "
        f"{'API/raw':>8}"
    )
    verdicts = []
    for scenario in SCENARIOS:
        for clients in counts:
            base = raw[(scenario, clients)]
            print(
                f"{scenario:<7} {clients:>7} {'raw':<12} {base.rps:>8.1f} "
                f"{base.p50:>7.1f}ms {base.p99:>7.1f}ms"
            )
            for f in figures:
                if f.side == "api" and f.scenario == scenario and f.clients == clients:
                    ratio = f.rps / base.rps if base.requests else math.nan
                    print(
                        f"{'':<7} {'':>7} {f'API, {f.workers} wkr':<12} {f.rps:>8.1f} "
                        f"{f.p50:>7.1f}ms {f.p99:>7.1f}ms {ratio:>8.2f}"
                    )
                    if clients == max(counts):
                        met = "met" if ratio >= TARGET_RATIO else "missed"
                        verdicts.append(
                            f"{scenario}, {clients} clients, workers {f.workers}: "
                            f"{ratio:.2f}x raw, target {TARGET_RATIO}: {met}"
                        )
    print()
    for verdict in verdicts:
        print(verdict)
    for scenario, lines in profiles.items():
        print()
        print(f"where the API's CPU time goes ({scenario}, {max(counts)} clients, workers 1):")
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
