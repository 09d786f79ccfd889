"""Impact latency: the GraphQL `impact` query over HTTP against one hand-written Cypher query.

    .venv/bin/python -m bench.bench_impact               # 100,000 CIs
    .venv/bin/python -m bench.bench_impact --size 10000

Loads the generated estate with the raw loader (the migrations are applied first, so that the
loader's MATCH by id uses the unique index), picks seeded-random failing CIs (Storage, Server,
Database, VirtualMachine) and, for each at maxDepth 3 and 6, times `impact(direction: DOWNSTREAM)`
over HTTP and the same traversal as one Cypher query through the driver: from the failed CI,
against the direction of the types that propagate to their source (DEPENDS_ON, RUNS_ON, HOSTED_ON,
STORED_ON, CONNECTS_TO), both ways along SYNCS_WITH and along PART_OF, as the registry in
domain/cmdb.py declares, up to the depth, returning each distinct CI with its minimum depth.
Prints p50/p95 for both and the ratios API/raw. Targets: at depth 3 the API's p50 within the raw
p50 plus twice the API's floor; every p95 and the depth-6 p50 at most 1.5x raw.

The API runs as it is deployed, `itsm serve` in a process of its own (bench.common.ApiProcess).
The query asks for each affected CI's depth, id, name and class; with --explain it also asks for
the reasons and paths, which cost the API a second read of every affected CI's relationships.

The Cypher query ignores redundancy groups, which the API honours, so it returns a superset of the
API's affected CIs; the benchmark checks that it is one.

It also prints the API's floor, the p50 of `{ __typename }` over the same connection: what every
request costs in HTTP, GraphQL and the client before any database work. With --domain it times
the domain's `impact_of` called in the benchmark's own process as well, so that the API's time
splits into the analysis and what the HTTP and GraphQL layers add.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import neo4j

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
from bench.estate import Estate, generate, validate
from core.access import SYSTEM
from core.ids import record_id
from domain.cmdb import RELATIONSHIP_TYPES, Propagation
from domain.impact import impact_of
from graphdb.migrations import migrate
from graphdb.write_path import Store
from schema.cmdb import ConfigurationItem

IMPACT_QUERY = """query($id: ID!, $depth: Int!) {
  impact(ciId: $id, direction: DOWNSTREAM, maxDepth: $depth, maxResults: 100000) {
    affected { depth ci { id name ciClass } }
    spared { ci { id } reason }
    services { id name }
  }
}"""
EXPLAINED_QUERY = IMPACT_QUERY.replace(
    "affected { depth ci { id name ciClass } }",
    "affected { depth ci { id name ciClass } reason paths { sourceId type targetId } }",
)


def _types(propagation: Propagation) -> list[str]:
    return sorted(n for n, r in RELATIONSHIP_TYPES.items() if r.propagation is propagation)


def raw_query(depth: int) -> str:
    """All trails from the failed CI along the propagation, each CI once at its shortest depth.

    Written out from the registry: a TO_SOURCE type is followed against its direction, TO_TARGET
    along it, BOTH either way. With today's registry that is

        MATCH (failed:CI {id: $id})
        MATCH (failed)(
          (a)-[r:CONNECTS_TO|DEPENDS_ON|HOSTED_ON|RUNS_ON|STORED_ON|SYNCS_WITH|PART_OF]-(b)
          WHERE CASE type(r) WHEN 'SYNCS_WITH' THEN true WHEN 'PART_OF' THEN startNode(r) = a
                ELSE endNode(r) = a END
        ){1,6}(hit:CI)
        WHERE hit <> failed
        WITH hit, min(size(r)) AS depth
        RETURN hit.id AS id, hit.name AS name, hit.ciClass AS ciClass, depth

    (`ANY SHORTEST` with the same predicate was tried too: on the 10,000-CI estate it took 15 to
    115 s per start at depth 6, against well under a second for this form.)
    """
    return (
        "MATCH (failed:CI {id: $id}) "
        f"{propagation_walk(1, depth, 'hit:CI')} "
        "WHERE hit <> failed "
        "WITH hit, min(size(r)) AS depth "
        "RETURN hit.id AS id, hit.name AS name, hit.ciClass AS ciClass, depth"
    )


def propagation_walk(min_hops: int, max_hops: int, end: str) -> str:
    """`MATCH (failed)(…){min,max}(end)`: every trail a failure of `failed` travels along."""
    incoming = _types(Propagation.TO_SOURCE)
    both = _types(Propagation.BOTH)
    outgoing = _types(Propagation.TO_TARGET)
    cases = [f"WHEN '{t}' THEN true" for t in both]
    cases += [f"WHEN '{t}' THEN startNode(r) = a" for t in outgoing]
    return (
        f"MATCH (failed)((a)-[r:{'|'.join(incoming + both + outgoing)}]-(b) "
        f"  WHERE CASE type(r) {' '.join(cases)} ELSE endNode(r) = a END"
        f"){{{int(min_hops)},{int(max_hops)}}}({end})"
    )


SHARE_OF_STARTS = {"Storage": 0.16, "Server": 0.28, "Database": 0.24, "VirtualMachine": 0.32}


def pick_starts(estate: Estate, count: int, seed: int) -> list[dict[str, Any]]:
    """Seeded-random failing CIs, stratified by class so that the few arrays are represented."""
    rng = random.Random(seed)
    picks: list[dict[str, Any]] = []
    classes = list(SHARE_OF_STARTS)
    for n, ci_class in enumerate(classes):
        pool = [i for i in estate.items if i["ciClass"] == ci_class]
        want = (
            count - len(picks)
            if n == len(classes) - 1
            else round(count * SHARE_OF_STARTS[ci_class])
        )
        picks += rng.sample(pool, min(want, len(pool)))
    rng.shuffle(picks)
    return picks


@dataclass
class Series:
    api_ms: list[float] = field(default_factory=list)
    raw_ms: list[float] = field(default_factory=list)
    domain_ms: list[float] = field(default_factory=list)
    api_affected: list[int] = field(default_factory=list)
    api_spared: list[int] = field(default_factory=list)
    raw_reached: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_api(
    client: Client, ci_id: str, depth: int, query: str = IMPACT_QUERY
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    data = client(query, {"id": ci_id, "depth": depth})["impact"]
    return (time.perf_counter() - started) * 1000, data


def run_domain(store: Store, ci_id: str, depth: int, explain: bool) -> float:
    """The analysis the API runs, called directly with the properties the query shows."""
    started = time.perf_counter()
    impact_of(
        store,
        SYSTEM,
        ci_id,
        max_depth=depth,
        max_results=100_000,
        explain=explain,
        ci_properties=ConfigurationItem.properties_for({"id", "name", "ciClass"}),
    )
    return (time.perf_counter() - started) * 1000


def run_raw(driver: neo4j.Driver, ci_id: str, depth: int) -> tuple[float, list[dict[str, Any]]]:
    query = raw_query(depth)

    def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
        return [dict(r) for r in tx.run(query, id=ci_id)]

    started = time.perf_counter()
    with driver.session(database="neo4j", default_access_mode=neo4j.READ_ACCESS) as session:
        rows = session.execute_read(work)
    return (time.perf_counter() - started) * 1000, rows


def request_floor(client: Client, count: int = 300) -> float:
    """What any request costs before it reads anything: the fixed part of every API time."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        client("{ __typename }")
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 50)


def compare(api: dict[str, Any], raw: list[dict[str, Any]], label: str) -> list[str]:
    """The API's affected CIs must be among the raw ones, no shallower than the raw minimum."""
    raw_depth = {r["id"]: r["depth"] for r in raw}
    problems = []
    for a in api["affected"]:
        ci_id = record_id(a["ci"]["id"], "CI")  # the API answers global ids
        if ci_id not in raw_depth:
            problems.append(
                f"{label}: API says {a['ci']['name']} is affected, raw never reaches it"
            )
        elif a["depth"] < raw_depth[ci_id]:
            problems.append(
                f"{label}: API depth {a['depth']} for {a['ci']['name']}, "
                f"shortest propagation path is {raw_depth[ci_id]}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="CIs in the estate")
    parser.add_argument("--starts", type=int, default=50, help="failing CIs to time")
    parser.add_argument("--depths", default="3,6", help="maxDepth values, comma-separated")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--warmup", type=int, default=30, help="untimed starts run first")
    parser.add_argument(
        "--rounds", type=int, default=5, help="times each start is timed (all rounds count)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="also ask for each affected CI's reason and paths"
    )
    parser.add_argument(
        "--domain",
        action="store_true",
        help="also time the domain's impact_of in this process, to split the API's time into "
        "the analysis and what HTTP and GraphQL add to it",
    )
    args = parser.parse_args(argv)
    query = EXPLAINED_QUERY if args.explain else IMPACT_QUERY
    depths = [int(d) for d in args.depths.split(",")]

    estate = generate(args.size, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    starts = pick_starts(estate, args.starts, args.seed)
    warm = pick_starts(estate, args.warmup, args.seed + 1) if args.warmup else []

    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        t0 = time.perf_counter()
        ids, _ = raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        loaded = count_graph(driver)
        log(f"raw load: {loaded} (CIs, relationships) in {time.perf_counter() - t0:.1f} s")
        migrate(store.graph)

        results: dict[int, Series] = {d: Series() for d in depths}
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log") as server:
            client = Client(server.url, admin_token(store))
            for item in warm:
                for depth in depths:
                    run_api(client, ids[item["key"]], depth, query)
                    run_raw(driver, ids[item["key"]], depth)
            log(
                f"warmed up with {len(warm)} starts; timing {len(starts)} starts at {depths}, "
                f"{args.rounds} rounds"
            )
            floor = request_floor(client)
            for depth in depths:
                series = results[depth]
                for n, item in enumerate(starts * args.rounds):
                    ci_id = ids[item["key"]]
                    # Alternate which goes first, so neither always finds a warmer cache.
                    if n % 2 == 0:
                        api_ms, api = run_api(client, ci_id, depth, query)
                        raw_ms, raw = run_raw(driver, ci_id, depth)
                    else:
                        raw_ms, raw = run_raw(driver, ci_id, depth)
                        api_ms, api = run_api(client, ci_id, depth, query)
                    series.api_ms.append(api_ms)
                    series.raw_ms.append(raw_ms)
                    if args.domain:
                        series.domain_ms.append(run_domain(store, ci_id, depth, args.explain))
                    series.api_affected.append(len(api["affected"]))
                    series.api_spared.append(len(api["spared"]))
                    series.raw_reached.append(len(raw))
                    series.problems += compare(api, raw, f"{item['name']} depth {depth}")
                log(
                    f"maxDepth {depth}: API p50 {percentile(series.api_ms, 50):.1f} ms, "
                    f"raw p50 {percentile(series.raw_ms, 50):.1f} ms"
                )
            client.close()
        driver.close()
        store.graph.close()

    print()
    print(
        f"estate: {len(estate.items)} CIs, {len(estate.relationships)} relationships; "
        f"{len(starts)} failing CIs ({', '.join(f'{c} {n}' for c, n in _count(starts).items())}), "
        f"each timed {args.rounds} times"
    )
    header = (
        f"{'maxDepth':>8}  {'API p50':>9} {'API p95':>9}  {'raw p50':>9} {'raw p95':>9}  "
        f"{'p50 ratio':>9} {'p95 ratio':>9}  {'affected (med/max)':>18} {'spared med':>10} "
        f"{'raw reached (med/max)':>21}"
    )
    print(header)
    verdicts: list[str] = []
    for depth, s in results.items():
        a50, a95 = percentile(s.api_ms, 50), percentile(s.api_ms, 95)
        r50, r95 = percentile(s.raw_ms, 50), percentile(s.raw_ms, 95)
        verdicts += _verdicts(depth, a50, a95, r50, r95, floor)
        print(
            f"{depth:>8}  {a50:>7.1f}ms {a95:>7.1f}ms  {r50:>7.1f}ms {r95:>7.1f}ms  "
            f"{a50 / r50:>9.2f} {a95 / r95:>9.2f}  "
            f"{statistics.median(s.api_affected):>9.0f}/{max(s.api_affected):<8} "
            f"{statistics.median(s.api_spared):>10.0f} "
            f"{statistics.median(s.raw_reached):>11.0f}/{max(s.raw_reached):<9}"
        )
    for depth, s in results.items():
        if s.domain_ms:
            print(
                f"maxDepth {depth}: domain impact_of in-process p50 "
                f"{percentile(s.domain_ms, 50):.1f} ms, p95 {percentile(s.domain_ms, 95):.1f} ms"
            )
    print(
        f"the API's floor, `{{ __typename }}` over the same connection: p50 {floor:.2f} ms "
        "(HTTP, GraphQL and the client, no database)"
    )
    for verdict in verdicts:
        print(verdict)
    problems = [p for s in results.values() for p in s.problems]
    if problems:
        print(f"{len(problems)} disagreement(s) between the API and the raw traversal, e.g.:")
        for p in problems[:10]:
            print(f"  {p}")
    else:
        print("the API's affected CIs are within the raw traversal, none shallower: consistent")
    return 0


def _verdicts(
    depth: int, a50: float, a95: float, r50: float, r95: float, floor: float
) -> list[str]:
    """The targets: at depth 3 (small answers) the API's p50 within the raw p50 plus twice the
    API's floor, measured in this run; every p95, and the depth-6 p50, within 1.5x raw."""
    out = []
    if depth <= 3:
        bound = r50 + 2 * floor
        out.append(
            f"target depth {depth} p50 <= raw p50 + 2 x floor ({bound:.1f} ms): "
            f"{'met' if a50 <= bound else 'missed'} ({a50:.1f} ms)"
        )
    else:
        out.append(
            f"target depth {depth} p50 <= 1.5x raw: {'met' if a50 / r50 <= 1.5 else 'missed'} "
            f"({a50 / r50:.2f})"
        )
    out.append(
        f"target depth {depth} p95 <= 1.5x raw: {'met' if a95 / r95 <= 1.5 else 'missed'} "
        f"({a95 / r95:.2f})"
    )
    return out


def _count(items: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i["ciClass"]] = out.get(i["ciClass"], 0) + 1
    return out


if __name__ == "__main__":
    raise SystemExit(main())
