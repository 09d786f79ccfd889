"""Events through the real broker and real worker processes: a broker that goes down loses
nothing it accepted, a worker killed in the middle of a batch loses no event and duplicates
nothing, a message delivered twice leaves the graph as one delivery does, and a flapping signal
pages at most twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from core.access import SYSTEM
from core.ids import record_id
from domain import cmdb, configuration, ingest
from domain.events import INGEST_EVENTS
from domain.events import policy as event_policy
from domain.tokens import issue_token
from graphdb.write_path import Store
from itsm.background import free_port
from itsm.config import Settings
from tests.conftest import Api
from tests.notify_servers import PushReceiver, SmtpServer, notification_env
from tests.processes import ItsmProcess, RedisServer, start_itsm, start_worker, wait_for
from tests.test_escalations import kill_with_its_workers
from tests.test_notifications import person
from tests.test_service_level import made

# A killed worker's messages come back within a few seconds.
FAST_REDELIVERY = {"ITSM_BROKER_HEARTBEAT_MS": "2000", "ITSM_BROKER_MAINTENANCE_CHANCE": "1000000"}
T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def until(condition: Any, what: str, *processes: ItsmProcess, timeout: float = 60) -> Any:
    """`wait_for`, telling what the processes logged when it times out."""
    try:
        return wait_for(condition, timeout, processes, what)
    except AssertionError as failed:
        logs = "\n".join(p.output()[-3000:] for p in processes)
        raise AssertionError(f"{failed}\n{logs}") from None


def register(store: Store, *names: str) -> dict[str, str]:
    return {
        name: str(
            configuration.register_ci(store, SYSTEM, cmdb.NewCI(ci_class="Server", name=name))["id"]
        )
        for name in names
    }


def trigger(ci: str, key: str, at: datetime, severity: str = "critical") -> dict[str, Any]:
    return {
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": f"{key} is down",
            "source": "probe",
            "severity": severity,
            "timestamp": at.isoformat(),
            "ci": ci,
        },
    }


def resolve(key: str, at: datetime) -> dict[str, Any]:
    return {"event_action": "resolve", "dedup_key": key, "payload": {"timestamp": at.isoformat()}}


def count(store: Store, query: str, **params: Any) -> int:
    return int(store.read(lambda tx: tx.run(query, **params).single(strict=True)[0]))


def events_recorded(store: Store, keys: list[str]) -> int:
    return count(store, "MATCH (e:Event) WHERE e.dedupKey IN $keys RETURN count(e)", keys=keys)


def outcome(store: Store, prefix: str = "") -> dict[str, Any]:
    """What a user sees of the alerts under keys starting with `prefix`: alerts with their event
    counts and states, the events feeding them, the incidents they raised, the notifications."""

    def read(tx: Any) -> dict[str, Any]:
        alerts = tx.run(
            "MATCH (a:Alert) WHERE a.dedupKey STARTS WITH $p "
            "OPTIONAL MATCH (e:Event)-[:FEEDS]->(a) "
            "OPTIONAL MATCH (a)-[:RAISED]->(i:Incident) "
            "RETURN substring(a.dedupKey, size($p)) AS key, a.state AS state, a.count AS count, "
            "a.severity AS severity, a.firstSeenAt AS first, a.lastSeenAt AS last, "
            "count(DISTINCT e) AS events, count(DISTINCT i) AS incidents "
            "ORDER BY key, first",
            p=prefix,
        ).data()
        events = tx.run(
            "MATCH (e:Event) WHERE e.dedupKey STARTS WITH $p "
            "RETURN substring(e.dedupKey, size($p)) AS key, e.action AS action, e.at AS at "
            "ORDER BY key, at, action",
            p=prefix,
        ).data()
        notifications = tx.run(
            "MATCH (a:Alert)<-[:NOTIFIES_ABOUT]-(n:Notification) WHERE a.dedupKey STARTS WITH $p "
            "RETURN substring(a.dedupKey, size($p)) AS key, n.channel AS channel, "
            "n.address AS address ORDER BY key, channel, address",
            p=prefix,
        ).data()
        return {"alerts": alerts, "events": events, "notifications": notifications}

    return store.read(read)


@pytest.fixture
def on_call(api: Api, store: Store, push_receiver: PushReceiver) -> str:
    """A fallback team whose one member is paged by e-mail and push; alerts act at once."""
    manager = api.as_role(store, "manager")
    team = made(manager, "Team", name="Operations")
    person(manager, "Oda", pushUrl=push_receiver.url, teams=[team["id"]])
    event_policy.set_policy(
        store,
        SYSTEM,
        {"correlationWindowSeconds": 0},
        {"fallbackTeam": [record_id(team["id"], "Team")]},
        version=None,
    )
    return "oda@example.com"


def post_events(url: str, token: str, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


# -- the broker down ----------------------------------------------------------------------------


class KeptRedis(RedisServer):
    """A broker that keeps its data over a restart, as a production Redis does: stopped with
    SHUTDOWN SAVE, it loads the snapshot from its directory when it starts again."""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            redis.Redis.from_url(self.url).shutdown(save=True)
            self.proc.wait(timeout=30)


@pytest.fixture
def kept_redis() -> Iterator[KeptRedis]:
    server = KeptRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_with_the_broker_down_nothing_is_accepted_and_nothing_accepted_is_lost(
    store: Store,
    settings: Settings,
    # Set up before the processes, so torn down after them: they stop while their broker is up.
    kept_redis: KeptRedis,
    itsm_processes: list[ItsmProcess],
    on_call: str,
) -> None:
    cis = register(store, "db-1", "db-2")
    token = issue_token(store, SYSTEM, "automation", "monitoring").secret
    port = free_port()
    serve = start_itsm(
        itsm_processes,
        settings,
        "serve",
        ready="Application startup complete",
        broker_url=kept_redis.url,
        env={"ITSM_PORT": str(port)},
    )
    url = f"http://127.0.0.1:{port}"
    before = [trigger(cis["db-1"], "before-1", T0), trigger(cis["db-2"], "before-2", T0)]
    assert post_events(url, token, before).status_code == 202

    kept_redis.stop()
    during = [trigger(cis["db-1"], "during-1", T0), {"event_action": "bogus"}]
    refused = post_events(url, token, during)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["errors"][0]["extensions"]["code"] == "BROKER_UNAVAILABLE"
    single = httpx.post(f"{url}/v2/enqueue", json={**during[0], "routing_key": token}, timeout=60)
    assert single.status_code == 503
    mutation = httpx.post(
        f"{url}/graphql",
        json={
            "query": "mutation($e: [EventInput!]!) { sendEvents(input: {events: $e}) "
            "{ accepted } }",
            "variables": {
                "e": [
                    {
                        "eventAction": "TRIGGER",
                        "dedupKey": "during-2",
                        "summary": "down",
                        "source": "probe",
                        "severity": "CRITICAL",
                        "ciId": cis["db-2"],
                    }
                ]
            },
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert mutation.status_code == 503
    assert mutation.json()["errors"][0]["extensions"]["code"] == "BROKER_UNAVAILABLE"

    kept_redis.start()
    worker = start_worker(itsm_processes, settings, broker_url=kept_redis.url)
    keys = ["before-1", "before-2", "during-1", "during-2"]
    until(lambda: events_recorded(store, keys) >= 2, "the batch", worker, serve, timeout=90)
    time.sleep(1)
    assert [a["key"] for a in outcome(store)["alerts"]] == ["before-1", "before-2"]
    # Sent again once the broker is back, the refused batch is taken whole.
    answer = post_events(url, token, during)
    assert answer.status_code == 202 and answer.json()["accepted"] == 1
    until(lambda: events_recorded(store, keys) == 3, "the resent batch", worker, serve)
    assert [a["incidents"] for a in outcome(store)["alerts"]] == [1, 1, 1]


# -- a worker killed in the middle of a batch ---------------------------------------------------


def test_a_worker_killed_mid_batch_loses_no_event_and_duplicates_nothing(
    api: Api,
    store: Store,
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    on_call: str,
) -> None:
    cis = register(store, *(f"app-{n}" for n in range(20)))
    keys = [f"app-{n}/down" for n in range(20)]
    # Ten batches of twenty: each key gets one event in each batch, a minute apart.
    batches = [
        [trigger(cis[f"app-{n}"], keys[n], T0 + timedelta(minutes=b)) for n in range(20)]
        for b in range(10)
    ]
    first = start_worker(itsm_processes, settings, env=FAST_REDELIVERY)
    automation = api.as_role(store, "automation")
    for batch in batches:
        assert post_events(api.url, automation.token or "", batch).status_code == 202
    until(lambda: events_recorded(store, keys) > 0, "the first batch", first)
    kill_with_its_workers(first)
    recorded_at_kill = events_recorded(store, keys)
    assert recorded_at_kill < 200, "the worker was killed after the last batch"

    second = start_worker(itsm_processes, settings, env=FAST_REDELIVERY)
    until(lambda: events_recorded(store, keys) == 200, "every event", second, timeout=90)
    until(lambda: count(store, "MATCH (n:Notification) RETURN count(n)") >= 40, "pages", second)
    time.sleep(2)  # anything duplicated would show by now
    seen = outcome(store)
    assert len(seen["events"]) == 200
    assert [(a["key"], a["count"], a["events"], a["incidents"]) for a in seen["alerts"]] == [
        (key, 10, 10, 1) for key in sorted(keys)
    ]
    assert count(store, "MATCH (i:Incident) RETURN count(i)") == 20
    # One e-mail and one push per alert, each recorded once.
    assert len(seen["notifications"]) == 40
    assert len({(n["key"], n["channel"]) for n in seen["notifications"]}) == 40


# -- every message delivered twice -------------------------------------------------------------


def drained(client: redis.Redis) -> bool:
    """No batch queued on `ingest`, and none fetched but unacknowledged."""
    pending = client.llen("dramatiq:ingest")
    unacked = sum(client.scard(k) for k in client.scan_iter("dramatiq:__acks__.*.ingest"))
    return pending + unacked == 0


def test_every_message_delivered_twice_leaves_the_graph_as_one_delivery(
    store: Store,
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    smtp_server: SmtpServer,
    on_call: str,
) -> None:
    client = redis.Redis.from_url(settings.broker_url or "")
    worker = start_worker(itsm_processes, settings, env=notification_env(smtp_server))

    def run(prefix: str, deliveries: int) -> dict[str, Any]:
        cis = register(store, *(f"{prefix}web-{n}" for n in range(4)))
        items: list[dict[str, Any]] = []
        for n in range(4):
            key = f"{prefix}web-{n}/http"
            items += [
                trigger(cis[f"{prefix}web-{n}"], key, T0, "critical" if n % 2 else "warning"),
                trigger(cis[f"{prefix}web-{n}"], key, T0 + timedelta(minutes=1)),
            ]
            if n == 3:
                items.append(resolve(key, T0 + timedelta(minutes=2)))
        # One half after the other: the copies of a batch race each other, the halves do not.
        for half in (items[:5], items[5:]):
            batch = ingest.check_events(store, half)
            assert batch.rejected == []
            for _ in range(deliveries):
                ingest.enqueue(INGEST_EVENTS, [e.to_wire() for e in batch.events])
            until(lambda: drained(client), "the queue to drain", worker, timeout=120)
        time.sleep(1)
        return outcome(store, prefix)

    once = run("once:", 1)
    twice = run("twice:", 2)
    assert len(once["alerts"]) == 4 and len(once["events"]) == 9
    assert once["notifications"], "the critical alerts paged"
    assert twice == once


# -- a flapping signal ---------------------------------------------------------------------------


def test_a_signal_flapping_for_half_an_hour_opens_one_incident_and_pages_twice_at_most(
    api: Api,
    store: Store,
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    smtp_server: SmtpServer,
    push_receiver: PushReceiver,
    on_call: str,
) -> None:
    cis = register(store, "lb-1")
    worker = start_worker(itsm_processes, settings, env=notification_env(smtp_server))
    automation = api.as_role(store, "automation")
    # Down and up every minute for thirty minutes of the signal's own time, sent at once.
    for minute in range(31):
        at = T0 + timedelta(minutes=minute)
        event = (
            trigger(cis["lb-1"], "lb-1/ping", at) if minute % 2 == 0 else resolve("lb-1/ping", at)
        )
        answer = httpx.post(
            f"{api.url}/v2/enqueue",
            json={**event, "routing_key": automation.token},
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
    until(lambda: events_recorded(store, ["lb-1/ping"]) == 31, "the events", worker)
    until(lambda: smtp_server.received() or push_receiver.snapshot()[0], "a page", worker)
    time.sleep(3)  # a third page would have gone by now
    incidents = count(store, "MATCH (i:Incident) RETURN count(i)")
    assert incidents <= 1
    mails = smtp_server.to(on_call)
    pushes = push_receiver.snapshot()[0]
    assert 1 <= len(mails) <= 2 and len(pushes) <= 2, (mails, pushes)
