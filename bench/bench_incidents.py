"""Incident Management under load: 10,000 open incidents on the 10k estate.

    .venv/bin/python -m bench.bench_incidents                      # every part
    .venv/bin/python -m bench.bench_incidents --parts queues,throughput

Loads the generated estate with the raw loader and the agreements of `bench_governing` in bulk,
then writes 10,000 open incidents in bulk, in the shape the lifecycle writes them (priority, state,
team, due instants, `AFFECTS` the CI, `ASSIGNED_TO` the team, `IMPACTS` the Services that depend on
the CI), so that the queues have something to sort. The incidents the timed parts create or change
go through the API. Parts, each against a baseline measured in the same run:

* **queues**: the incident queues over HTTP (a team's, breaching soon, by service, by priority)
  against the same question as one hand-written Cypher query through the driver; p50/p95 of both
  and the ratios.
* **throughput**: 16 concurrent clients on a mixed load (reads of one incident with its team, CI
  and agreement, pages of a team's queue, and updates of an incident's urgency, which
  re-prioritise it and recompute its clocks) against the raw driver doing the same reads and
  writes (the update with its audit entry) from 16 threads; requests per second of both.
* **escalations**: with two worker processes on a Redis broker and a local SMTP server, incidents
  whose first escalation level falls due a few seconds after they open; the lag from the level's
  due instant to the e-mail reaching the SMTP server, p50 and p99 (target p99 <= 1 s).
* **subscriptions**: 100 subscribers over graphql-transport-ws; the time from a mutation's answer
  (its commit) to each subscriber receiving the change, p50 and p99.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import neo4j

from bench.bench_governing import add_agreements
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
from core.ids import to_global_id
from core.incidents import IncidentState
from core.priority import Priority
from domain.incidents.clock import TIMER_KIND as CLOCK_TIMER
from graphdb.migrations import migrate

OPEN_STATES = (IncidentState.ASSIGNED, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD)
LEVELS = ("high", "medium", "low")


# -- the open incidents ------------------------------------------------------------------------


def services_of(estate: Estate) -> dict[str, list[str]]:
    """For each Application and Database key, the Services that depend on it (through the
    applications for a database): the `IMPACTS` the lifecycle would write."""
    apps_of_db: dict[str, list[str]] = {}
    services_of_app: dict[str, list[str]] = {}
    classes = {i["key"]: i["ciClass"] for i in estate.items}
    for rel in estate.relationships:
        source, target = rel["sourceKey"], rel["targetKey"]
        if rel["type"] != "DEPENDS_ON":
            continue
        if classes[source] == "Service" and classes[target] == "Application":
            services_of_app.setdefault(target, []).append(source)
        if classes[source] == "Application" and classes[target] == "Database":
            apps_of_db.setdefault(target, []).append(source)
    out = dict(services_of_app)
    for db, apps in apps_of_db.items():
        out[db] = sorted({s for a in apps for s in services_of_app.get(a, [])})
    return {k: v for k, v in out.items() if v}


def add_open_incidents(
    driver: neo4j.Driver, estate: Estate, ids: dict[str, str], count: int, seed: int
) -> dict[str, Any]:
    """`count` open incidents on Applications and Databases, in bulk."""
    rng = random.Random(seed)
    reach = services_of(estate)
    keys = sorted(reach)
    with driver.session() as session:
        teams = [r["id"] for r in session.run("MATCH (t:Team) RETURN t.id AS id ORDER BY t.number")]
        now = datetime.now(UTC)
        rows = []
        for n in range(count):
            key = rng.choice(keys)
            priority = rng.choice(list(Priority)).value
            rows.append(
                {
                    "props": {
                        "id": str(uuid.uuid4()),
                        "number": f"INC{n + 1:07d}",
                        "title": f"{key} misbehaves ({n})",
                        "impact": rng.choice(LEVELS),
                        "urgency": rng.choice(LEVELS),
                        "priority": priority,
                        "priorityReason": "bulk",
                        "major": False,
                        "state": rng.choice(OPEN_STATES).value,
                        "reassignmentCount": 0,
                        "responseDueAt": now + timedelta(minutes=rng.randint(-600, 6000)),
                        "resolutionDueAt": now + timedelta(minutes=rng.randint(-600, 20000)),
                        "slaStage": "ok",
                        "version": 1,
                        "createdAt": now,
                        "updatedAt": now,
                    },
                    "ci": ids[key],
                    "team": teams[n % len(teams)],
                    "services": [ids[s] for s in reach[key]],
                }
            )
        for start in range(0, len(rows), 2000):
            session.run(
                "UNWIND $rows AS row CREATE (i:Incident) SET i = row.props "
                "WITH i, row MATCH (c:CI {id: row.ci}) CREATE (i)-[:AFFECTS]->(c) "
                "WITH i, row MATCH (t:Team {id: row.team}) CREATE (i)-[:ASSIGNED_TO]->(t) "
                "WITH i, row UNWIND row.services AS s MATCH (svc:CI {id: s}) "
                "CREATE (i)-[:IMPACTS]->(svc)",
                rows=rows[start : start + 2000],
            ).consume()
        # Each open incident's clock timer is pending, hours ahead, as the lifecycle leaves it:
        # the sweep's due query and the timers' index hold ten thousand of them.
        timers = [
            {
                "id": str(uuid.uuid4()),
                "key": f"Incident:{r['props']['id']}:{CLOCK_TIMER}",
                "recordId": r["props"]["id"],
                "dueAt": now + timedelta(hours=rng.randint(2, 200)),
            }
            for r in rows
        ]
        for start in range(0, len(timers), 5000):
            session.run(
                "UNWIND $rows AS row CREATE (t:Timer) SET t = row, t.kind = $kind, "
                "t.recordLabel = 'Incident', t.state = 'pending', t.setAt = $now, "
                "t.createdAt = $now",
                rows=timers[start : start + 5000],
                kind=CLOCK_TIMER,
                now=now,
            ).consume()
        session.run(
            "MERGE (c:NumberSequence {prefix: 'INC'}) SET c.last = $last", last=count
        ).consume()
    return {
        "incidents": [r["props"]["id"] for r in rows],
        "teams": teams,
        "services": sorted({s for r in rows for s in r["services"]}),
    }


# -- timing helpers ----------------------------------------------------------------------------


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def ratio_row(name: str, api_ms: list[float], raw_ms: list[float]) -> str:
    a50, a95 = percentile(api_ms, 50), percentile(api_ms, 95)
    r50, r95 = percentile(raw_ms, 50), percentile(raw_ms, 95)
    return (
        f"{name:<18}{a50:>8.1f}ms{a95:>8.1f}ms{r50:>8.1f}ms{r95:>8.1f}ms"
        f"{a50 / r50:>10.2f}{a95 / r95:>10.2f}"
    )


RATIO_HEADER = (
    f"{'':<18}{'API p50':>10}{'API p95':>10}{'raw p50':>10}{'raw p95':>10}"
    f"{'p50 ratio':>10}{'p95 ratio':>10}"
)


# -- queues ------------------------------------------------------------------------------------

QUEUE_FIELDS = "edges { node { id number priority state resolutionDueAt } } pageInfo { endCursor }"

PRIORITY_QUEUE = (
    "query($p: [Priority!]) { incidents(filter: {priority: $p}, first: 20, "
    "orderBy: {field: CREATED_AT, direction: DESC}) { " + QUEUE_FIELDS + " } }"
)
RAW_PRIORITY_QUEUE = (
    "MATCH (i:Incident) WHERE i.priority IN $p AND i.createdAt IS NOT NULL "
    "RETURN i {.id, .number, .priority, .state, .resolutionDueAt} AS i "
    "ORDER BY i.createdAt DESC, i.id DESC LIMIT 21"
)


def queues(
    client: Client, driver: neo4j.Driver, made: dict[str, Any], rounds: int, seed: int
) -> list[str]:
    """Each queue over HTTP against its hand-written Cypher, alternating which goes first."""
    rng = random.Random(seed)
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = []
    for _ in range(rounds):
        priority = [rng.choice(list(Priority)).value]
        cases.append(
            (
                "by priority",
                lambda p=priority: client(PRIORITY_QUEUE, {"p": p}),
                lambda p=priority: driver.execute_query(RAW_PRIORITY_QUEUE, p=p),
            )
        )
        cases.extend(extra_queue_cases(client, driver, made, rng))
    timings: dict[str, tuple[list[float], list[float]]] = {}
    for n, (name, api_call, raw_call) in enumerate(cases):
        api_ms, raw_ms = timings.setdefault(name, ([], []))
        if n % 2:
            raw_ms.append(timed(raw_call))
            api_ms.append(timed(api_call))
        else:
            api_ms.append(timed(api_call))
            raw_ms.append(timed(raw_call))
    return [RATIO_HEADER] + [ratio_row(k, *v) for k, v in timings.items()]


def extra_queue_cases(
    client: Client, driver: neo4j.Driver, made: dict[str, Any], rng: random.Random
) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    """The Service Desk's queues (a team's, breaching soon, by service)."""
    team = rng.choice(made["teams"])
    service = rng.choice(made["services"])
    return [
        (
            "team queue",
            lambda: client(TEAM_QUEUE, {"team": to_global_id("Team", team)}),
            lambda: driver.execute_query(RAW_TEAM_QUEUE, team=team),
        ),
        (
            "breaching soon",
            lambda: client(BREACHING_SOON, {"within": 120}),
            lambda: driver.execute_query(
                RAW_BREACHING_SOON, until=datetime.now(UTC) + timedelta(minutes=120)
            ),
        ),
        (
            "by service",
            lambda: client(BY_SERVICE, {"service": to_global_id("CI", service)}),
            lambda: driver.execute_query(RAW_BY_SERVICE, service=service),
        ),
    ]


TEAM_QUEUE = "query($team: ID!) { teamIncidents(team: $team, first: 20) { " + QUEUE_FIELDS + " } }"
RAW_TEAM_QUEUE = (
    "MATCH (:Team {id: $team})<-[:ASSIGNED_TO]-(i:Incident) "
    "WHERE i.state IN ['new', 'assigned', 'in_progress', 'on_hold'] "
    "RETURN i {.id, .number, .priority, .state, .resolutionDueAt} AS i "
    "ORDER BY i.priority, i.createdAt, i.id LIMIT 21"
)
BREACHING_SOON = (
    "query($within: Int!) { incidentsBreachingSoon(within: $within, first: 20) { "
    + QUEUE_FIELDS
    + " } }"
)
RAW_BREACHING_SOON = (
    "MATCH (i:Incident) WHERE i.resolutionDueAt <= $until "
    "AND i.state IN ['new', 'assigned', 'in_progress', 'on_hold'] "
    "RETURN i {.id, .number, .priority, .state, .resolutionDueAt} AS i "
    "ORDER BY i.resolutionDueAt, i.id LIMIT 21"
)
BY_SERVICE = (
    "query($service: ID!) { incidentsByService(service: $service, first: 20) { "
    + QUEUE_FIELDS
    + " } }"
)
RAW_BY_SERVICE = (
    "MATCH (:CI {id: $service})<-[:IMPACTS]-(i:Incident) "
    "WHERE i.state IN ['new', 'assigned', 'in_progress', 'on_hold'] "
    "RETURN i {.id, .number, .priority, .state, .resolutionDueAt} AS i "
    "ORDER BY i.priority, i.createdAt, i.id LIMIT 21"
)


# -- throughput --------------------------------------------------------------------------------

READ_ONE = (
    "query($id: ID!) { incident(id: $id) { id number title state priority version "
    "team { name } ci { name } governedBy { sla { name } } } }"
)
RAW_READ_ONE = (
    "MATCH (i:Incident {id: $id}) OPTIONAL MATCH (i)-[:ASSIGNED_TO]->(t:Team) "
    "OPTIONAL MATCH (i)-[:AFFECTS]->(c:CI) OPTIONAL MATCH (i)-[:GOVERNED_BY]->(s:SLA) "
    "RETURN i {.id, .number, .title, .state, .priority, .version} AS i, t.name AS team, "
    "c.name AS ci, s.name AS sla"
)
UPDATE = (
    "mutation($input: UpdateIncidentInput!) { updateIncident(input: $input) { "
    "userErrors { code message } incident { id version priority } } }"
)
RAW_UPDATE = (
    "MATCH (i:Incident {id: $id}) SET i.urgency = $urgency, i.version = i.version + 1, "
    "i.updatedAt = datetime() "
    "CREATE (a:AuditEntry {id: randomUUID(), action: 'update', recordLabel: 'Incident', "
    "  recordId: $id, at: datetime(), actor: 'bench', before: $before, after: $after})"
    "-[:RECORDS]->(i)"
)


def mixed_load(
    work: Callable[[random.Random, str], None], ids: list[str], clients: int, seconds: float
) -> tuple[int, float, int]:
    """`clients` threads each doing `work(rng, kind)` for `seconds`; (requests, elapsed, errors)."""
    done = [0] * clients
    errors = [0] * clients
    stop = threading.Event()

    def run(n: int) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            kind = rng.choices(("read", "queue", "write"), (6, 2, 2))[0]
            try:
                work(rng, kind)
                done[n] += 1
            except Exception:
                errors[n] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(done), time.perf_counter() - started, sum(errors)


def throughput(
    url: str, token: str, driver: neo4j.Driver, made: dict[str, Any], seconds: float
) -> list[str]:
    incidents = made["incidents"]
    local = threading.local()

    def api(rng: random.Random, kind: str) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = Client(url, token)
        incident = to_global_id("Incident", rng.choice(incidents))
        if kind == "read":
            client(READ_ONE, {"id": incident})
        elif kind == "queue":
            client(PRIORITY_QUEUE, {"p": [rng.choice(list(Priority)).value]})
        else:
            client(UPDATE, {"input": {"id": incident, "urgency": rng.choice(LEVELS).upper()}})

    def raw(rng: random.Random, kind: str) -> None:
        incident = rng.choice(incidents)
        if kind == "read":
            driver.execute_query(RAW_READ_ONE, id=incident)
        elif kind == "queue":
            driver.execute_query(RAW_PRIORITY_QUEUE, p=[rng.choice(list(Priority)).value])
        else:
            urgency = rng.choice(LEVELS)
            # The audit entry as the write path writes it: the changed properties as JSON.
            driver.execute_query(
                RAW_UPDATE,
                id=incident,
                urgency=urgency,
                before=json.dumps({"urgency": None}),
                after=json.dumps({"urgency": urgency}),
            )

    a_n, a_s, a_err = mixed_load(api, incidents, 16, seconds)
    r_n, r_s, r_err = mixed_load(raw, incidents, 16, seconds)
    a_rate, r_rate = a_n / a_s, r_n / r_s
    return [
        f"{'':<10}{'requests':>10}{'seconds':>9}{'errors':>8}{'per second':>12}",
        f"{'API':<10}{a_n:>10}{a_s:>9.1f}{a_err:>8}{a_rate:>12.1f}",
        f"{'raw':<10}{r_n:>10}{r_s:>9.1f}{r_err:>8}{r_rate:>12.1f}",
        f"API/raw throughput: {a_rate / r_rate:.2f}",
    ]


# -- escalations ------------------------------------------------------------------------------


class TimedMail:
    """aiosmtpd's handler that keeps when each message arrived, and its subject."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[float, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        subject = email.message_from_bytes(data, policy=email.policy.default)["subject"] or ""
        with self.lock:
            self.received.append((at, str(subject)))
        return "250 OK"


REGISTER = """mutation {
  registerCi(input: {ciClass: "Service", name: "Escalation bench"}) {
    userErrors { message } ci { id } } }"""
ESCALATION_SETUP = """mutation($service: ID!) {
  team: createTeam(input: {name: "Escalation desk", services: [$service]}) {
    userErrors { message } team { id } }
  sla: createSLA(input: {name: "Escalation bench", services: [$service]}) {
    userErrors { message } sla { id version } }
}"""
PERSON = """mutation($team: ID!, $email: String!) {
  createPerson(input: {name: "Duty manager", email: $email, teams: [$team]}) {
    userErrors { message } person { id } } }"""
ACTIVATE = """mutation($sla: ID!) {
  transitionSLA(input: {id: $sla, state: ACTIVE}) { userErrors { message } } }"""
TERMS = """mutation($sla: ID!, $person: ID!) {
  setAgreementTerms(input: {agreement: $sla,
    response: [{priority: P3, minutes: 30}], resolution: [{priority: P3, minutes: 240}],
    calendar: {timezone: "UTC", always: true},
    escalation: [{clock: RESPONSE, afterMinutes: 1, notify: [$person]}]}) {
    userErrors { field message } } }"""
OPEN = """mutation($ci: ID!) {
  createIncident(input: {title: "bench escalation", ci: $ci, impact: MEDIUM, urgency: MEDIUM}) {
    userErrors { message } incident { number createdAt } } }"""


def ok(answer: dict[str, Any]) -> dict[str, Any]:
    for value in answer.values():
        errors = value.get("userErrors") if isinstance(value, dict) else None
        if errors:
            raise RuntimeError(f"refused: {errors}")
    return answer


def escalations(
    graph: Any, token: str, made: dict[str, Any], count: int, spread: float
) -> list[str]:
    """`count` incidents opened over `spread` seconds, each with an escalation level one minute
    after it opens; the lag of each level's e-mail behind its due instant."""
    from aiosmtpd.controller import Controller

    from itsm.background import free_port
    from tests.processes import RedisServer

    mail = TimedMail()
    smtp_port = free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    redis_server = RedisServer().start()
    env = {
        "BROKER_URL": redis_server.url,
        "ITSM_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "ITSM_MAIL_FROM": "bench@example.com",
    }
    workers = WorkerProcesses(graph, env, ROOT / ".itsm" / "bench-workers.log", processes=2)
    try:
        with workers, ApiProcess(graph, ROOT / ".itsm" / "bench-api.log", env=env) as server:
            client = Client(server.url, token)
            # A Service of its own, so that no SLA of the estate's competes with the bench's.
            registered = ok(client(REGISTER, {}))["registerCi"]
            service = registered["ci"]["id"]
            setup = ok(client(ESCALATION_SETUP, {"service": service}))
            team = setup["team"]["team"]["id"]
            sla = setup["sla"]["sla"]["id"]
            person = ok(client(PERSON, {"team": team, "email": "duty@example.com"}))
            person_id = person["createPerson"]["person"]["id"]
            ok(client(ACTIVATE, {"sla": sla}))
            ok(client(TERMS, {"sla": sla, "person": person_id}))
            due: dict[str, float] = {}
            for _ in range(count):
                opened = ok(client(OPEN, {"ci": service}))["createIncident"]["incident"]
                created = datetime.fromisoformat(opened["createdAt"]).timestamp()
                due[opened["number"]] = created + 60
                time.sleep(spread / count)
            log(f"escalations: {count} incidents open; waiting for their first level")
            deadline = time.time() + 60 + 120
            while time.time() < deadline:
                with mail.lock:
                    got = {n for _, subject in mail.received for n in due if n in subject}
                if len(got) == len(due):
                    break
                time.sleep(1)
            client.close()
    finally:
        smtp.stop()
        redis_server.close()
    lags: list[float] = []
    with mail.lock:
        first: dict[str, float] = {}
        for at, subject in mail.received:
            for number in due:
                if number in subject and "escalat" in subject.lower():
                    first.setdefault(number, at)
    lags = [(first[n] - due[n]) * 1000 for n in first]
    missing = len(due) - len(first)
    if not lags:
        return [f"no escalation e-mail arrived for {count} incidents (see the worker log)"]
    return [
        f"{'incidents':>10}{'arrived':>9}{'missing':>9}{'p50 lag':>10}{'p99 lag':>10}{'max':>10}",
        f"{count:>10}{len(lags):>9}{missing:>9}{percentile(lags, 50):>8.0f}ms"
        f"{percentile(lags, 99):>8.0f}ms{max(lags):>8.0f}ms",
    ]


class WorkerProcesses:
    """`itsm worker --processes N` against the benchmark's Neo4j and broker."""

    def __init__(self, graph: Any, env: dict[str, str], log_file: Any, processes: int) -> None:
        self.command = [
            sys.executable,
            "-m",
            "itsm.cli",
            "worker",
            "--processes",
            str(processes),
            "--threads",
            "4",
        ]
        self.env = {**os.environ, "NEO4J_URI": graph.uri, "NEO4J_USER": graph.user, **env}
        if graph.password:
            self.env["NEO4J_PASSWORD"] = graph.password
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WorkerProcesses:
        out = self.log_file.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        time.sleep(8)  # the workers boot while the API starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


# -- subscriptions ----------------------------------------------------------------------------

SUBSCRIBE = "subscription { incidentChanges { kind version incident { id number } } }"
RETITLE = """mutation($id: ID!, $title: String!) {
  updateIncident(input: {id: $id, title: $title}) {
    userErrors { message } incident { id number version } } }"""


def subscriptions(
    url: str, token: str, made: dict[str, Any], subscribers: int, changes: int
) -> list[str]:
    """`subscribers` websockets on the API; `changes` updates through HTTP, one at a time; the
    time from each update's answer (its commit is before it) to each subscriber hearing it."""
    import asyncio

    from websockets.asyncio.client import connect

    heard: list[dict[tuple[str, int], float]] = [{} for _ in range(subscribers)]
    ready = threading.Event()
    stop = threading.Event()
    connected = [0]
    ws_url = url.replace("http://", "ws://") + "/graphql"

    async def subscriber(n: int) -> None:
        async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            ack = json.loads(await ws.recv())
            assert ack["type"] == "connection_ack", ack
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            )
            connected[0] += 1
            if connected[0] == subscribers:
                ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                at = time.time()
                message = json.loads(raw)
                if message.get("type") == "next":
                    change = message["payload"]["data"]["incidentChanges"]
                    heard[n][(change["incident"]["number"], change["version"])] = at

    def run() -> None:
        async def everyone() -> None:
            await asyncio.gather(*(subscriber(n) for n in range(subscribers)))

        asyncio.run(everyone())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(120):
        stop.set()
        return [f"only {connected[0]} of {subscribers} subscribers connected"]
    time.sleep(2)  # every subscription registered with the feed
    client = Client(url, token)
    committed: dict[tuple[str, int], float] = {}
    for n in range(changes):
        incident = to_global_id("Incident", made["incidents"][n])
        done = client(RETITLE, {"id": incident, "title": f"retitled {n}"})["updateIncident"]
        at = time.time()
        committed[(done["incident"]["number"], done["incident"]["version"])] = at
        time.sleep(0.2)
    time.sleep(5)
    stop.set()
    thread.join(timeout=30)
    client.close()
    lags = [(got[key] - at) * 1000 for key, at in committed.items() for got in heard if key in got]
    expected = len(committed) * subscribers
    if not lags:
        return ["no subscriber heard any change"]
    return [
        f"{'deliveries':>11}{'expected':>10}{'p50':>9}{'p99':>9}{'max':>9}",
        f"{len(lags):>11}{expected:>10}{percentile(lags, 50):>7.0f}ms"
        f"{percentile(lags, 99):>7.0f}ms{max(lags):>7.0f}ms",
    ]


def subscriptions_run(
    graph: Any, token: str, made: dict[str, Any], subscribers: int, changes: int
) -> list[str]:
    """The subscribers on `itsm serve --workers 2` with a Redis broker, so that a change made
    in one API process reaches the subscribers of the other through the feed."""
    from tests.processes import RedisServer

    redis_server = RedisServer().start()
    env = {"BROKER_URL": redis_server.url}
    try:
        with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log", workers=2, env=env) as server:
            return subscriptions(server.url, token, made, subscribers, changes)
    finally:
        redis_server.close()


# -- the run -----------------------------------------------------------------------------------


class Report:
    """The lines of the final report, each part's also logged as soon as it is measured, so that a
    part that fails later loses nothing measured before it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __iadd__(self, lines: list[str]) -> Report:
        self.lines += lines
        for line in lines:
            log(line)
        return self


PARTS = ("queues", "throughput", "escalations", "subscriptions")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="CIs in the estate")
    parser.add_argument("--incidents", type=int, default=10_000, help="open incidents")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds of each queue")
    parser.add_argument("--seconds", type=float, default=30, help="per side of the mixed load")
    parser.add_argument("--escalations", type=int, default=200, help="incidents escalated")
    parser.add_argument("--spread", type=float, default=30, help="seconds they open over")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--changes", type=int, default=50, help="updates the subscribers hear")
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts, comma-separated")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")

    estate = generate(args.size, args.seed)
    validate(estate)
    log(f"estate (seed {args.seed}): {estate.describe()}")
    report = Report()
    with neo4j_server() as graph:
        store = open_store(graph)
        migrate(store.graph)
        driver = driver_for(graph)
        ids, _ = raw_load(driver, partition(estate.items, estate.relationships, 10_000))
        log(f"raw load: {count_graph(driver)} (CIs, relationships)")
        migrate(store.graph)
        log(f"agreements: {add_agreements(store, estate, ids, args.seed)}")
        made = add_open_incidents(driver, estate, ids, args.incidents, args.seed)
        log(f"{len(made['incidents'])} open incidents on {len(made['teams'])} teams")
        token = admin_token(store)
        if "queues" in parts or "throughput" in parts:
            with ApiProcess(graph, ROOT / ".itsm" / "bench-api.log", workers=2) as server:
                client = Client(server.url, token)
                if "queues" in parts:
                    for _ in range(5):  # warm up every query once or twice
                        queues(client, driver, made, 1, args.seed + 99)
                if "queues" in parts:
                    log(f"queues: {args.rounds} rounds")
                    report += ["", "queues (pages of 20 open incidents):"]
                    report += queues(client, driver, made, args.rounds, args.seed)
                if "throughput" in parts:
                    log(f"throughput: 16 clients, {args.seconds:.0f} s per side")
                    report += [
                        "",
                        "mixed load, 16 concurrent clients (60% reads, 20% queue "
                        "pages, 20% updates):",
                    ]
                    report += throughput(server.url, token, driver, made, args.seconds)
                client.close()
        if "subscriptions" in parts:
            report += ["", "subscription delivery (update answered -> each subscriber heard it):"]
            report += subscriptions_run(graph, token, made, args.subscribers, args.changes)
        if "escalations" in parts:
            report += ["", "escalation lag (level due -> e-mail at the SMTP server), two workers:"]
            report += escalations(graph, token, made, args.escalations, args.spread)
        driver.close()
        store.graph.close()
    print()
    print(
        f"estate: {len(estate.items)} CIs, {len(estate.relationships)} relationships, "
        f"{args.incidents} open incidents"
    )
    print("\n".join(report.lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
