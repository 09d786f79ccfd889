"""The monitoring endpoints and mutations at the edge, against the real API over HTTP, the real
Neo4j (CIs named by id, identification keys or name) and the real Redis broker: what a `202`
answers is what the `ingest` queue holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from core.access import SYSTEM
from core.ids import to_global_id
from domain import cmdb, configuration
from domain.availability import INGEST_METRICS, MetricSample
from domain.events import INGEST_EVENTS, IncomingEvent
from graphdb.write_path import Store
from itsm.config import Settings
from tests.conftest import Api

SEND_EVENTS = """
mutation($events: [EventInput!]!) {
  sendEvents(input: {events: $events}) {
    accepted dedupKeys rejected { index field code message } userErrors { code field message }
  }
}"""
RECORD_METRICS = """
mutation($samples: [MetricSampleInput!]!) {
  recordMetrics(input: {samples: $samples}) {
    accepted rejected { index field code message } userErrors { code field message }
  }
}"""


@pytest.fixture
def queue(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.broker_url or "")
    client.flushdb()
    yield client
    client.flushdb()


def queued(client: redis.Redis, actor: str) -> list[list[dict[str, Any]]]:
    """The batches the `ingest` queue holds for `actor`, in order (Dramatiq's Redis layout)."""
    ids = client.lrange("dramatiq:ingest", 0, -1)
    if not ids:
        return []
    messages = [json.loads(m) for m in client.hmget("dramatiq:ingest.msgs", ids) if m]
    return [m["args"][0] for m in messages if m["actor_name"] == actor]


@pytest.fixture
def estate(store: Store) -> dict[str, str]:
    def ci(name: str, ci_class: str, **attributes: str) -> str:
        new = cmdb.NewCI(ci_class=ci_class, name=name, attributes=attributes)
        return str(configuration.register_ci(store, SYSTEM, new)["id"])

    return {
        "db": ci("db-1", "Server", fqdn="db1.example.com", serialNumber="SN-DB1"),
        "web": ci("web-1", "Server", fqdn="web1.example.com"),
        "twin-a": ci("twin", "Server"),
        "twin-b": ci("twin", "Application"),
    }


def post(api: Api, path: str, body: Any, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"Bearer {api.token}", **headers}
    return httpx.post(f"{api.url}{path}", json=body, headers=sent, timeout=60)


def trigger(ci: Any = None, **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": "disk full",
        "source": "nagios",
        "severity": "critical",
        "timestamp": "2026-12-02T06:00:00Z",
        **payload,
    }
    if ci is not None:
        body["ci"] = ci
    return {"event_action": "trigger", "payload": body}


def test_a_batch_accepts_the_valid_events_and_rejects_each_bad_one_by_field(
    api: Api, estate: dict[str, str], queue: redis.Redis
) -> None:
    events = [
        {**trigger(estate["db"]), "dedup_key": "db-disk"},
        trigger({"ciClass": "Server", "fqdn": "WEB1.example.com"}, component="/var"),
        trigger(source="web-1", timestamp="2026-12-02T07:00:00+01:00"),
        trigger(estate["db"], severity="fatal"),
        trigger(source="nowhere"),
        trigger(source="twin"),
        trigger(estate["db"], timestamp="2026-12-02T06:00:00"),
        {"event_action": "resolve"},
        "not an event",
        {"event_action": "acknowledge", "dedup_key": "db-disk"},
        trigger(to_global_id("CI", estate["web"])),
    ]
    response = post(api, "/v1/events", {"events": events})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 5
    assert [(r["index"], r["field"], r["code"]) for r in body["rejected"]] == [
        (3, "events[3].payload.severity", "UNKNOWN_SEVERITY"),
        (4, "events[4].payload.source", "UNKNOWN_CI"),
        (5, "events[5].payload.source", "AMBIGUOUS_CI"),
        (6, "events[6].payload.timestamp", "TIME_WITHOUT_ZONE"),
        (7, "events[7].dedup_key", "REQUIRED"),
        (8, "events[8]", "NOT_AN_OBJECT"),
    ]
    assert all(r["message"] for r in body["rejected"])
    keys = body["dedupKeys"]
    assert keys[0] == "db-disk" and keys[3] == "db-disk"
    assert len(set(keys[1:3] + keys[4:])) == 3  # triggers without a key got new ones

    [batch] = queued(queue, INGEST_EVENTS)
    accepted = [IncomingEvent.from_wire(wire) for wire in batch]
    assert [e.dedup_key for e in accepted] == keys
    assert [e.ci_id for e in accepted] == [
        estate["db"],
        estate["web"],
        estate["web"],
        None,
        estate["web"],
    ]
    assert [e.action.value for e in accepted][3] == "acknowledge"
    assert accepted[1].custom_details == {"component": "/var"}
    assert accepted[2].at.isoformat() == "2026-12-02T06:00:00+00:00"
    assert len({e.id for e in accepted}) == 5


def test_a_batch_with_nothing_valid_is_a_400_and_queues_nothing(
    api: Api, estate: dict[str, str], queue: redis.Redis
) -> None:
    response = post(api, "/v1/events", {"events": [trigger(source="nowhere"), {}]})
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0 and body["dedupKeys"] == []
    assert [r["code"] for r in body["rejected"]] == ["UNKNOWN_CI", "REQUIRED"]
    assert queued(queue, INGEST_EVENTS) == []

    for refused in ({"events": []}, {"events": "x"}, {"samples": []}, [1]):
        assert post(api, "/v1/events", refused).status_code == 400
    too_many = {"events": [trigger(estate["db"])] * 1001}
    response = post(api, "/v1/events", too_many)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert queued(queue, INGEST_EVENTS) == []


def test_metric_samples_are_checked_one_by_one(
    api: Api, estate: dict[str, str], queue: redis.Redis
) -> None:
    samples = [
        {"ciId": estate["db"], "metric": "cpu", "value": 91.5, "time": "2026-12-02T06:00:00Z"},
        {"ci": {"ciClass": "Server", "serialNumber": "sn-db1"}, "metric": "cpu", "value": 3,
         "time": "2026-12-02T06:01:00+00:00"},
        {"ci": "web-1", "metric": "cpu", "value": 1, "time": "2026-12-02T06:02:00Z"},
        {"ciId": estate["db"], "metric": "cpu", "value": "high", "time": "2026-12-02T06:00:00Z"},
        {"ciId": estate["db"], "metric": "cpu", "value": True, "time": "2026-12-02T06:00:00Z"},
        {"ciId": estate["db"], "metric": "", "value": 1, "time": "2026-12-02T06:00:00Z"},
        {"ciId": estate["db"], "metric": "cpu", "value": 1, "time": "yesterday"},
        {"ciId": estate["db"], "metric": "cpu", "value": 1},
        {"ci": {"ciClass": "Server"}, "metric": "cpu", "value": 1, "time": "2026-12-02T06:00Z"},
        {"ci": {"ciClass": "Toaster", "name": "p"}, "metric": "cpu", "value": 1,
         "time": "2026-12-02T06:00:00Z"},
        {"ciId": "no-such-ci", "metric": "cpu", "value": 1, "time": "2026-12-02T06:00:00Z"},
        {"metric": "cpu", "value": 1, "time": "2026-12-02T06:00:00Z"},
        {"ciId": estate["db"], "metric": "cpu", "value": 1, "time": "2026-12-02T06:00:00Z",
         "padding": "x" * 20_000},
    ]  # fmt: skip
    response = post(api, "/v1/metrics", {"samples": samples})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 3 and "dedupKeys" not in body
    assert [(r["field"], r["code"]) for r in body["rejected"]] == [
        ("samples[3].value", "NOT_A_NUMBER"),
        ("samples[4].value", "NOT_A_NUMBER"),
        ("samples[5].metric", "EMPTY"),
        ("samples[6].time", "NOT_A_TIME"),
        ("samples[7].time", "REQUIRED"),
        ("samples[8].ci", "NO_IDENTIFICATION"),
        ("samples[9].ci.ciClass", "UNKNOWN_CLASS"),
        ("samples[10].ciId", "UNKNOWN_CI"),
        ("samples[11].ci", "REQUIRED"),
        ("samples[12]", "ITEM_TOO_LARGE"),
    ]
    [batch] = queued(queue, INGEST_METRICS)
    accepted = [MetricSample.from_wire(wire) for wire in batch]
    assert [(s.ci_id, s.value, s.at.minute) for s in accepted] == [
        (estate["db"], 91.5, 0),
        (estate["db"], 3.0, 1),
        (estate["web"], 1.0, 2),
    ]


def test_the_pagerduty_endpoint_takes_the_token_as_routing_key(
    api: Api, estate: dict[str, str], queue: redis.Redis
) -> None:
    event = {**trigger(estate["db"]), "routing_key": api.token, "dedup_key": "pd-1"}
    response = httpx.post(f"{api.url}/v2/enqueue", json=event, timeout=60)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "pd-1",
    }
    anonymous = {**trigger(estate["db"]), "routing_key": "itsm_unknown"}
    response = httpx.post(f"{api.url}/v2/enqueue", json=anonymous, timeout=60)
    assert response.status_code == 401
    # A bearer token serves too, and an invalid event is answered as PagerDuty does.
    response = post(api, "/v2/enqueue", trigger(estate["db"], severity="loud"))
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["errors"] == ["payload.severity: one of: critical, error, warning, info"]
    response = post(api, "/v2/enqueue", trigger(estate["db"]))
    assert response.status_code == 202
    assert len(response.json()["dedup_key"]) == 32
    assert [len(b) for b in queued(queue, INGEST_EVENTS)] == [1, 1]


def test_tokens_media_types_and_body_limits(
    api: Api, store: Store, estate: dict[str, str], queue: redis.Redis
) -> None:
    body = {"events": [trigger(estate["db"])]}
    for path in ("/v1/events", "/v1/metrics", "/v2/enqueue"):
        response = httpx.post(f"{api.url}{path}", json=body, timeout=60)
        assert response.status_code == 401, path
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    viewer = api.as_role(store, "viewer")
    response = post(viewer, "/v1/events", body)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    automation = api.as_role(store, "automation")
    assert post(automation, "/v1/events", body).status_code == 202

    response = httpx.post(
        f"{api.url}/v1/events",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "text/plain"},
        timeout=60,
    )
    assert response.status_code == 415
    huge = {"events": [trigger(estate["db"], summary="x" * 1000)] * 4500}
    response = post(api, "/v1/events", huge)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    response = httpx.post(
        f"{api.url}/v1/events",
        content=b"{not json",
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400
    assert httpx.get(f"{api.url}/v1/events", timeout=60).status_code == 405
    assert len(queued(queue, INGEST_EVENTS)) == 1  # only the automation's


def test_the_mutations_check_and_queue_the_same_way(
    api: Api, store: Store, estate: dict[str, str], queue: redis.Redis
) -> None:
    events = [
        {"eventAction": "TRIGGER", "summary": "down", "source": "probe", "severity": "ERROR",
         "ciId": to_global_id("CI", estate["db"]), "timestamp": "2026-12-02T06:00:00Z",
         "class": "ping"},
        {"eventAction": "TRIGGER", "summary": "down", "source": "probe", "severity": "ERROR",
         "ci": {"ciClass": "Server", "fqdn": "nowhere.example.com"}},
        {"eventAction": "TRIGGER", "summary": "down", "severity": "ERROR", "ciId": estate["web"]},
        {"eventAction": "RESOLVE", "dedupKey": "k-1"},
    ]  # fmt: skip
    data = api.ok(SEND_EVENTS, {"events": events})["sendEvents"]
    assert data["accepted"] == 2 and data["userErrors"] == []
    assert data["dedupKeys"][1] == "k-1"
    assert [(r["index"], r["field"], r["code"]) for r in data["rejected"]] == [
        (1, "events[1].ci", "UNKNOWN_CI"),
        (2, "events[2].source", "REQUIRED"),
    ]
    [batch] = queued(queue, INGEST_EVENTS)
    first = IncomingEvent.from_wire(batch[0])
    assert first.ci_id == estate["db"] and first.custom_details == {"class": "ping"}

    samples = [
        {"ciId": estate["db"], "metric": "cpu", "value": 5, "time": "2026-12-02T06:00:00Z"},
        {"ci": {"ciClass": "Server", "name": "WEB-1"}, "metric": "cpu", "value": 5,
         "time": "2026-12-02T06:00:00"},
    ]  # fmt: skip
    data = api.ok(RECORD_METRICS, {"samples": samples})["recordMetrics"]
    assert data["accepted"] == 1
    assert [(r["field"], r["code"]) for r in data["rejected"]] == [
        ("samples[1].time", "TIME_WITHOUT_ZONE")
    ]
    assert len(queued(queue, INGEST_METRICS)) == 1

    data = api.ok(RECORD_METRICS, {"samples": samples[:1] * 1001})["recordMetrics"]
    assert data["accepted"] == 0
    assert data["userErrors"] == [
        {
            "code": "LIMIT_EXCEEDED",
            "field": ["input", "samples"],
            "message": "at most 1000 items per batch: split it",
        }
    ]
    response = api.as_role(store, "viewer").post(SEND_EVENTS, {"events": events[:1]})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len(queued(queue, INGEST_EVENTS)) == 1
