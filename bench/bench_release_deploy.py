"""Release deployment latency: one `deployRelease` over HTTP that implements `--changes` changes
and, through the known errors they fix and the problems those document, resolves `--incidents`
incidents, against the same writes as one hand-written Cypher transaction.

    .venv/bin/python -m bench.bench_release_deploy                       # 50 changes, 500 incidents
    .venv/bin/python -m bench.bench_release_deploy --changes 5 --incidents 20 --rounds 2

Loads a small generated estate with the raw loader, then through the API: the incidents (no CI,
so that no trigger opens problems of its own), one problem per change with a root cause known,
causing an equal share of the incidents, a known error documenting each, and a catalogue entry.
Each round adds `--changes` scheduled standard changes (raw, each fixing one known error and
modifying one CI) and a built release including them, then times:

* the baseline: the deployment's writes as one Cypher transaction through the driver (states,
  resolution fields, versions, one audit entry per record), undone again untimed;
* `deployRelease` over HTTP, then `rollbackRelease` (timed too, reported apart), after which the
  problems are put back at root_cause_known, untimed, for the next round.

Prints p50/p95 of each and the ratio API/baseline from the same run. The API does more than the
baseline: each change's risk and conflicts, each incident's clocks, reopen timer and feed event,
the audit entries of every step.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
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
from core.ids import parse_global_id, to_global_id
from graphdb.migrations import migrate

CREATE = """mutation($input: Create{label}Input!) {{ create{label}(input: $input) {{
  userErrors {{ code message }} {field} {{ id }} }} }}"""
STEP = """mutation($input: Transition{label}Input!) {{ transition{label}(input: $input) {{
  userErrors {{ code message }} }} }}"""
DEPLOY = """mutation($input: ReleaseStepInput!) { deployRelease(input: $input) {
  userErrors { code message } release { state incidents { id } } } }"""
ROLLBACK = """mutation($input: ReleaseStepInput!) { rollbackRelease(input: $input) {
  userErrors { code message } release { state } } }"""


def create(client: Client, label: str, **values: Any) -> str:
    field = label[0].lower() + label[1:]
    answer = client(CREATE.format(label=label, field=field), {"input": values})[f"create{label}"]
    assert not answer["userErrors"], answer
    return str(answer[field]["id"])


def step(client: Client, label: str, node_id: str, state: str) -> None:
    answer = client(STEP.format(label=label), {"input": {"id": node_id, "state": state}})
    assert not answer[f"transition{label}"]["userErrors"], answer


def stored(global_id: str) -> str:
    parsed = parse_global_id(global_id)
    assert parsed is not None, global_id
    return parsed[1]


def seed_changes(
    driver: neo4j.Driver, round_no: int, ke_ids: list[str], ci_ids: list[str], rng: random.Random
) -> list[str]:
    """Scheduled standard changes, one per known error, each on a random CI, through Cypher."""
    start = datetime.now(UTC) + timedelta(days=30 + round_no)
    rows = [
        {
            "id": f"bench-rel-{round_no}-chg-{n}",
            "number": f"CHGR{round_no:03d}{n:05d}",
            "ke": ke,
            "ci": rng.choice(ci_ids),
            "start": start,
            "end": start + timedelta(hours=2),
        }
        for n, ke in enumerate(ke_ids)
    ]
    with driver.session(database="neo4j") as session:
        session.run(
            "MATCH (t:ChangeTemplate) WITH t LIMIT 1 "
            "UNWIND $rows AS r MATCH (x:CI {id: r.ci}) MATCH (k:KnownError {id: r.ke}) "
            "CREATE (c:Change {id: r.id, number: r.number, title: 'bench change', "
            "  changeType: 'standard', state: 'scheduled', plannedStart: r.start, "
            "  plannedEnd: r.end, version: 1, createdAt: datetime(), updatedAt: datetime()}) "
            "CREATE (c)-[:MODIFIES]->(x) CREATE (c)-[:FIXES]->(k) "
            "CREATE (c)-[:USES_TEMPLATE]->(t)",
            rows=rows,
        ).consume()
    return [str(r["id"]) for r in rows]


def _baseline_work(tx: neo4j.ManagedTransaction, release_id: str, at: datetime) -> int:
    """The deployment's writes, hand-written: what the API's transaction ends up storing."""
    audit = (
        "CREATE (:AuditEntry {id: randomUUID(), action: 'bench_baseline', at: $at, "
        "  recordLabel: $label, recordId: n.id, after: $why})-[:RECORDS]->(n)"
    )
    why = '{"release": "bench"}'
    tx.run(
        "MATCH (r:Release {id: $id}) SET r.state = 'deployed', r.deployedAt = $at, "
        "  r.version = r.version + 1 WITH r AS n " + audit,
        id=release_id,
        at=at,
        label="Release",
        why=why,
    ).consume()
    tx.run(
        "MATCH (:Release {id: $id})-[:INCLUDES]->(n:Change) "
        "SET n.state = 'review', n.outcome = 'successful', n.implementedAt = $at, "
        "  n.version = n.version + 2 " + audit,
        id=release_id,
        at=at,
        label="Change",
        why=why,
    ).consume()
    tx.run(
        "MATCH (r:Release {id: $id})-[:UPDATES]->(n:CatalogEntry) "
        "SET n.offeringVersion = r.releaseVersion, n.version = n.version + 1 " + audit,
        id=release_id,
        at=at,
        label="CatalogEntry",
        why=why,
    ).consume()
    tx.run(
        "MATCH (r:Release {id: $id})-[:INCLUDES]->(:Change)-[:MODIFIES]->(n:CI) "
        "WITH DISTINCT r, n SET n.attr_version = r.releaseVersion, n.version = n.version + 1 "
        + audit,
        id=release_id,
        at=at,
        label="CI",
        why=why,
    ).consume()
    tx.run(
        "MATCH (:Release {id: $id})-[:INCLUDES]->(:Change)-[:FIXES]->(n:KnownError) "
        "WITH DISTINCT n SET n.state = 'fixed', n.version = n.version + 1 " + audit,
        id=release_id,
        at=at,
        label="KnownError",
        why=why,
    ).consume()
    tx.run(
        "MATCH (:Release {id: $id})-[:INCLUDES]->(:Change)-[:FIXES]->(:KnownError)"
        "-[:DOCUMENTS]->(n:Problem) WITH DISTINCT n "
        "SET n.state = 'resolved', n.resolvedAt = $at, n.version = n.version + 1 " + audit,
        id=release_id,
        at=at,
        label="Problem",
        why=why,
    ).consume()
    record = tx.run(
        "MATCH (:Release {id: $id})-[:INCLUDES]->(:Change)-[:FIXES]->(:KnownError)"
        "-[:DOCUMENTS]->(:Problem)<-[:CAUSED_BY]-(n:Incident) "
        "WHERE n.state IN ['new', 'assigned', 'in_progress', 'on_hold'] WITH DISTINCT n "
        "SET n.state = 'resolved', n.resolutionCode = 'resolved_by_change', "
        "  n.resolutionNotes = 'Fixed by release bench', n.resolvedAt = $at, "
        "  n.version = n.version + 1 " + audit + " RETURN count(*) AS n",
        id=release_id,
        at=at,
        label="Incident",
        why=why,
    ).single(strict=True)
    return int(record["n"])


def baseline(driver: neo4j.Driver, release_id: str) -> tuple[float, int]:
    """Time the hand-written deployment, then undo it (untimed) from a snapshot."""
    with driver.session(database="neo4j") as session:
        snapshot = session.run(
            "MATCH (r:Release {id: $id}) "
            "CALL (r) { MATCH (r)-[:INCLUDES]->(c:Change) "
            "  OPTIONAL MATCH (c)-[:MODIFIES|FIXES]->(x) "
            "  OPTIONAL MATCH (x)-[:DOCUMENTS]->(p:Problem) "
            "  OPTIONAL MATCH (p)<-[:CAUSED_BY]-(i:Incident) "
            "  UNWIND [c, x, p, i] AS n WITH n WHERE n IS NOT NULL RETURN DISTINCT n "
            "  UNION MATCH (r)-[:UPDATES]->(n:CatalogEntry) RETURN n "
            "  UNION RETURN r AS n } "
            "RETURN n.id AS id, properties(n) AS props",
            id=release_id,
        ).data()
        started = time.perf_counter()
        resolved = session.execute_write(_baseline_work, release_id, datetime.now(UTC))
        elapsed = (time.perf_counter() - started) * 1000
        session.run(
            "UNWIND $rows AS row MATCH (n {id: row.id}) SET n = row.props",
            rows=snapshot,
        ).consume()
        session.run("MATCH (a:AuditEntry {action: 'bench_baseline'}) DETACH DELETE a").consume()
    return elapsed, resolved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cis", type=int, default=500, help="CIs in the estate")
    parser.add_argument("--changes", type=int, default=50, help="changes in each release")
    parser.add_argument("--incidents", type=int, default=500, help="incidents they resolve")
    parser.add_argument("--rounds", type=int, default=5, help="timed deployments")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    if args.incidents < args.changes:
        parser.error("--incidents must be at least --changes (each problem causes some)")

    estate = generate(args.cis, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    rng = random.Random(args.seed)
    deploy_api: list[float] = []
    rollback_api: list[float] = []
    raw_ms: list[float] = []
    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        ids, _ = raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        migrate(store.graph)
        ci_ids = list(ids.values())
        with driver.session(database="neo4j") as session:
            service = session.run("MATCH (s:Service) RETURN s.id AS id LIMIT 1").single()
        assert service is not None, "the generated estate has no Service"
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log") as server:
            client = Client(server.url, admin_token(store))
            log(f"seeding {args.incidents} incidents, {args.changes} problems and known errors")
            incidents = [
                create(client, "Incident", title=f"bench {n}", impact="LOW", urgency="LOW")
                for n in range(args.incidents)
            ]
            share = args.incidents // args.changes
            problems: list[str] = []
            known_errors: list[str] = []
            for n in range(args.changes):
                caused = incidents[n * share : (n + 1) * share]
                if n == args.changes - 1:
                    caused = incidents[n * share :]
                problem = create(
                    client, "Problem", title=f"bench {n}", rootCause="bench", incidents=caused
                )
                step(client, "Problem", problem, "ROOT_CAUSE_KNOWN")
                problems.append(problem)
                known_errors.append(
                    create(client, "KnownError", title=f"bench {n}", problem=problem)
                )
            entry = create(
                client,
                "CatalogEntry",
                name="bench offering",
                offeringVersion="0",
                service=to_global_id("CI", str(service["id"])),
            )
            create(client, "ChangeTemplate", name="bench template")
            ke_ids = [stored(k) for k in known_errors]
            for n in range(args.rounds):
                change_ids = seed_changes(driver, n, ke_ids, ci_ids, rng)
                release = create(
                    client,
                    "Release",
                    title=f"bench release {n}",
                    releaseVersion=f"bench.{n}.{uuid.uuid4().hex[:6]}",
                    changes=[to_global_id("Change", c) for c in change_ids],
                    catalogEntries=[entry],
                )
                step(client, "Release", release, "BUILT")
                elapsed, resolved = baseline(driver, stored(release))
                raw_ms.append(elapsed)

                t0 = time.perf_counter()
                answer = client(DEPLOY, {"input": {"id": release}})["deployRelease"]
                deploy_api.append((time.perf_counter() - t0) * 1000)
                assert not answer["userErrors"], answer
                closed = len(answer["release"]["incidents"])
                assert closed == resolved == args.incidents, (closed, resolved)

                t0 = time.perf_counter()
                answer = client(ROLLBACK, {"input": {"id": release}})["rollbackRelease"]
                rollback_api.append((time.perf_counter() - t0) * 1000)
                assert not answer["userErrors"], answer
                with driver.session(database="neo4j") as session:
                    session.run(
                        "MATCH (p:Problem) WHERE p.id IN $ids SET p.state = 'root_cause_known'",
                        ids=[stored(p) for p in problems],
                    ).consume()
                log(
                    f"round {n + 1}: deploy {deploy_api[-1]:.0f} ms, rollback "
                    f"{rollback_api[-1]:.0f} ms, baseline {raw_ms[-1]:.0f} ms ({closed} incidents)"
                )
            client.close()
        driver.close()
    d50, d95 = percentile(deploy_api, 50), percentile(deploy_api, 95)
    b50, b95 = percentile(raw_ms, 50), percentile(raw_ms, 95)
    r50 = percentile(rollback_api, 50)
    log(
        f"deployRelease ({args.changes} changes, {args.incidents} incidents): API p50 {d50:.0f} ms "
        f"p95 {d95:.0f} ms; baseline p50 {b50:.0f} ms p95 {b95:.0f} ms; ratio p50 "
        f"{d50 / max(b50, 0.001):.1f}x p95 {d95 / max(b95, 0.001):.1f}x"
    )
    log(f"rollbackRelease: API p50 {r50:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
