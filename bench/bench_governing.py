"""Which SLA governs this CI at this priority: `governingAgreement` over HTTP against the same
traversal as one hand-written Cypher query.

    .venv/bin/python -m bench.bench_governing               # 100,000 CIs
    .venv/bin/python -m bench.bench_governing --size 10000

Loads the generated estate with the raw loader, then adds the agreements in bulk through the unit
of work (`create_many`, `link_many`): for every Service an SLA (a fifth of them a second one, so
that two SLAs on one Service must be told apart, and one in twenty of the second ones retired),
each with an old terms version and a current one with response and resolution targets at P1 to P4
(P5 left without targets on a third of them); an OLA behind each SLA, provided by one of the
teams, and each team supporting a few Services. Picks seeded-random CIs as bench_impact does
(Storage, Server, Database, VirtualMachine) and a seeded-random priority for each, and times

* **API**: `governingAgreement(ci, priority)` over HTTP, asking for the SLA, its terms, the
  Service, the OLA, the team, the path and the explanation;
* **raw**: one Cypher query through the driver (`raw_query`): the impact walk to the Services at
  their fewest hops, the active SLAs covering them with current terms that set a target at the
  priority, ordered by the stated rule, the first one's best active OLA and its team.

Which one goes first alternates from start to start. Prints p50/p95 of both and the ratios
API/raw. The raw walk ignores redundancy groups, which the API's impact rules honour: where a
group keeps a Service up the raw query may still find an SLA through it, so the benchmark counts
the starts on which both name the same SLA and the ones that differ, with the reason.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import neo4j

from bench.bench_impact import pick_starts, propagation_walk
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
from core.priority import Priority
from domain.service_level.governing import MAX_DEPTH
from graphdb.migrations import migrate
from graphdb.write_path import Store, UnitOfWork

GOVERNING_QUERY = """query($ci: ID!, $priority: Priority!) {
  governingAgreement(ci: $ci, priority: $priority) {
    sla { id number name } terms { version responseMinutes resolutionMinutes }
    service { id name } ola { id name } team { id name }
    path { start { id } type end { id } forward }
    explanation decidedBy noneBecause services { service { id } depth }
  }
}"""

TEAMS = 200
PRIORITIES = [p.value for p in Priority]


def add_agreements(store: Store, estate: Estate, ids: dict[str, str], seed: int) -> dict[str, int]:
    """SLAs, terms, OLAs and teams on the estate's Services, written in bulk in one transaction."""
    rng = random.Random(seed)
    services = [ids[i["key"]] for i in estate.items if i["ciClass"] == "Service"]

    def targets() -> dict[str, Any]:
        out: dict[str, Any] = {}
        response, resolution = rng.choice((15, 30, 60)), rng.choice((60, 120, 240))
        for n, priority in enumerate(PRIORITIES):
            if priority == "P5" and rng.random() < 1 / 3:
                continue
            out[f"response{priority}"] = response * (n + 1)
            out[f"resolution{priority}"] = resolution * (n + 1) * rng.choice((1, 2))
        return out

    def work(uow: UnitOfWork) -> dict[str, int]:
        teams = uow.create_many(
            "Team",
            [
                {"name": f"team-{n:03d}", "number": f"TEAM{n:07d}", "state": "active"}
                for n in range(1, TEAMS + 1)
            ],
        )
        slas, covers, supports_service = [], [], []
        for n, service in enumerate(services):
            team = teams[n % TEAMS]["id"]
            supports_service.append({"s": team, "t": service, "props": {}})
            for second in (False, True) if rng.random() < 0.2 else (False,):
                state = "retired" if second and rng.random() < 0.05 else "active"
                slas.append({"name": f"sla-{n:04d}{'-b' if second else ''}", "state": state})
                covers.append(service)
        created = uow.create_many("SLA", slas)
        uow.link_many(
            "SLA",
            "COVERS",
            "CI",
            [{"s": s["id"], "t": t, "props": {}} for s, t in zip(created, covers, strict=True)],
        )
        uow.link_many("Team", "SUPPORTS_SERVICE", "CI", supports_service)
        olas = uow.create_many(
            "OLA", [{"name": f"ola-{s['name']}", "state": "active"} for s in created]
        )
        uow.link_many(
            "OLA",
            "SUPPORTS",
            "SLA",
            [{"s": o["id"], "t": s["id"], "props": {}} for o, s in zip(olas, created, strict=True)],
        )
        uow.link_many(
            "OLA",
            "PROVIDED_BY",
            "Team",
            [
                {"s": o["id"], "t": teams[(n + rng.randint(0, 1)) % TEAMS]["id"], "props": {}}
                for n, o in enumerate(olas)
            ],
        )
        agreements = [("SLA", s["id"]) for s in created] + [("OLA", o["id"]) for o in olas]
        terms_rows, versions = [], []
        for label, agreement in agreements:
            for version, current in ((1, False), (2, True)):
                terms_rows.append({"current": current, **targets()})
                versions.append((label, agreement, version))
        terms = uow.create_many("AgreementTerms", terms_rows)
        for label in ("SLA", "OLA"):
            uow.link_many(
                label,
                "HAS_TERMS",
                "AgreementTerms",
                [
                    {"s": a, "t": t["id"], "props": {}}
                    for (lbl, a, _), t in zip(versions, terms, strict=True)
                    if lbl == label
                ],
            )
        # A terms node's `version` is its place in the agreement's history.
        uow.tx.run(
            "UNWIND $rows AS row MATCH (t:AgreementTerms {id: row.id}) SET t.version = row.v",
            rows=[{"id": t["id"], "v": v} for (_, _, v), t in zip(versions, terms, strict=True)],
        ).consume()
        return {"SLAs": len(created), "OLAs": len(olas), "teams": TEAMS, "terms": len(terms)}

    return store.write(SYSTEM, work)


def raw_query() -> str:
    """The governing SLA as a person would write it in one query: the walk of bench_impact's
    raw query down to the Services (depth 0 when the CI is one), the candidates ordered by the
    stated rule, then the OLA and the team."""
    never = 2**62
    return (
        "MATCH (failed:CI {id: $id}) "
        f"{propagation_walk(0, MAX_DEPTH, 'svc:Service')} "
        "WITH svc, min(size(r)) AS depth "
        "MATCH (sla:SLA {state: 'active'})-[:COVERS]->(svc) "
        "MATCH (sla)-[:HAS_TERMS]->(t:AgreementTerms {current: true}) "
        "WHERE t[$response] IS NOT NULL OR t[$resolution] IS NOT NULL "
        "WITH sla, t, svc, depth "
        f"ORDER BY coalesce(t[$resolution], {never}), coalesce(t[$response], {never}), depth, "
        "  sla.number LIMIT 1 "
        "CALL (sla, svc) { "
        "  OPTIONAL MATCH (ola:OLA {state: 'active'})-[:SUPPORTS]->(sla) "
        "  OPTIONAL MATCH (ola)-[:PROVIDED_BY]->(team:Team) "
        "  OPTIONAL MATCH (ola)-[:HAS_TERMS]->(ot:AgreementTerms {current: true}) "
        "  RETURN ola, team "
        "  ORDER BY CASE WHEN EXISTS { (team)-[:SUPPORTS_SERVICE]->(svc) } THEN 0 ELSE 1 END, "
        f"    coalesce(ot[$resolution], {never}), ola.number LIMIT 1 }} "
        "RETURN sla.id AS sla, sla.number AS number, t.version AS version, svc.id AS service, "
        "  depth, ola.id AS ola, coalesce(team.id, head(COLLECT { "
        "    MATCH (st:Team {state: 'active'})-[:SUPPORTS_SERVICE]->(svc) "
        "    RETURN st.id ORDER BY st.number })) AS team"
    )


def run_api(client: Client, ci_id: str, priority: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    data = client(GOVERNING_QUERY, {"ci": ci_id, "priority": priority})["governingAgreement"]
    return (time.perf_counter() - started) * 1000, data


def run_raw(
    driver: neo4j.Driver, query: str, ci_id: str, priority: str
) -> tuple[float, dict[str, Any] | None]:
    def work(tx: neo4j.ManagedTransaction) -> dict[str, Any] | None:
        record = tx.run(
            query, id=ci_id, response=f"response{priority}", resolution=f"resolution{priority}"
        ).single()
        return dict(record) if record else None

    started = time.perf_counter()
    with driver.session(database="neo4j", default_access_mode=neo4j.READ_ACCESS) as session:
        row = session.execute_read(work)
    return (time.perf_counter() - started) * 1000, row


def agreement(api: dict[str, Any], raw: dict[str, Any] | None) -> str:
    """'same' when both name the same SLA (or none), else why they differ."""
    api_sla = record_id(api["sla"]["id"], "SLA") if api["sla"] else None
    raw_sla = raw["sla"] if raw else None
    if api_sla == raw_sla:
        return "same"
    reached = {record_id(s["service"]["id"], "CI"): s["depth"] for s in api["services"]}
    if raw is not None and raw["service"] not in reached:
        return "raw's Service kept up by a redundancy group (the API does not reach it)"
    if raw is not None and reached[raw["service"]] != raw["depth"]:
        return "raw's Service nearer by its walk (through a redundancy group) than the API's"
    return "different"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="CIs in the estate")
    parser.add_argument("--starts", type=int, default=50, help="CIs to time")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--warmup", type=int, default=30, help="untimed starts run first")
    parser.add_argument(
        "--rounds", type=int, default=5, help="times each start is timed (all rounds count)"
    )
    args = parser.parse_args(argv)

    estate = generate(args.size, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    rng = random.Random(args.seed + 2)
    starts = [(i, rng.choice(PRIORITIES)) for i in pick_starts(estate, args.starts, args.seed)]
    warm = pick_starts(estate, args.warmup, args.seed + 1) if args.warmup else []
    query = raw_query()

    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        t0 = time.perf_counter()
        ids, _ = raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        loaded = count_graph(driver)
        log(f"raw load: {loaded} (CIs, relationships) in {time.perf_counter() - t0:.1f} s")
        migrate(store.graph)
        t0 = time.perf_counter()
        added = add_agreements(store, estate, ids, args.seed)
        log(f"agreements: {added} in {time.perf_counter() - t0:.1f} s")

        api_ms: list[float] = []
        raw_ms: list[float] = []
        outcomes: dict[str, int] = {}
        governed = 0
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log") as server:
            client = Client(server.url, admin_token(store))
            for item in warm:
                run_api(client, ids[item["key"]], "P2")
                run_raw(driver, query, ids[item["key"]], "P2")
            log(f"warmed up with {len(warm)} starts; timing {len(starts)}, {args.rounds} rounds")
            for n, (item, priority) in enumerate(starts * args.rounds):
                ci_id = ids[item["key"]]
                # Alternate which goes first, so neither always finds a warmer cache.
                if n % 2 == 0:
                    a_ms, api = run_api(client, ci_id, priority)
                    r_ms, raw = run_raw(driver, query, ci_id, priority)
                else:
                    r_ms, raw = run_raw(driver, query, ci_id, priority)
                    a_ms, api = run_api(client, ci_id, priority)
                api_ms.append(a_ms)
                raw_ms.append(r_ms)
                if n < len(starts):
                    verdict = agreement(api, raw)
                    outcomes[verdict] = outcomes.get(verdict, 0) + 1
                    governed += api["sla"] is not None
            client.close()
        driver.close()
        store.graph.close()

    a50, a95 = percentile(api_ms, 50), percentile(api_ms, 95)
    r50, r95 = percentile(raw_ms, 50), percentile(raw_ms, 95)
    print()
    print(
        f"estate: {len(estate.items)} CIs, {len(estate.relationships)} relationships, {added}; "
        f"{len(starts)} CIs, each timed {args.rounds} times"
    )
    columns = ("API p50", "API p95", "", "raw p50", "raw p95", "", "p50 ratio", "p95 ratio")
    print(" ".join(f"{c:>9}" if c else "" for c in columns))
    print(
        f"{a50:>7.1f}ms {a95:>7.1f}ms  {r50:>7.1f}ms {r95:>7.1f}ms  "
        f"{a50 / r50:>9.2f} {a95 / r95:>9.2f}"
    )
    print(f"governed by an SLA (API): {governed} of {len(starts)} CIs")
    print("API against raw: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
