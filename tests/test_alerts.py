"""Events into alerts: recorded once by id, de-duplicated by key into one open alert,
acknowledged and resolved by events and through the API, flapping by the events' own times,
suppressed in maintenance, acted on (notifications, incidents), announced to subscribers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.access import SYSTEM
from core.events import EventAction, Severity
from core.ids import to_global_id
from domain import events
from domain.events import IncomingEvent, policy
from domain.reconciliation import ImportItem, ImportRelationship, import_cis
from graphdb import feed
from graphdb.write_path import Store, UnitOfWork
from itsm.config import Settings
from tests.conftest import Api, RunningServer
from tests.notify_servers import PushReceiver, SmtpServer, notification_env
from tests.processes import ItsmProcess, start_worker, wait_for
from tests.test_subscriptions import close_websockets, open_connection, started  # noqa: F401

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def estate(
    store: Store,
    items: Sequence[tuple[str, str]],
    rels: Sequence[tuple[str, str, str, dict[str, Any]]] = (),
    *,
    lifecycle: dict[str, str] | None = None,
) -> dict[str, str]:
    """CIs (key, class) and relationships (source, type, target, attributes): stored ids by key."""
    result = import_cis(
        store,
        SYSTEM,
        "test",
        [ImportItem(c, k, key=k, lifecycle=(lifecycle or {}).get(k, "live")) for k, c in items],
        [ImportRelationship(t, source_key=s, target_key=d, attributes=a) for s, t, d, a in rels],
    )
    assert all(r.ci_id for r in result.items), result
    return {str(r.key): str(r.ci_id) for r in result.items}


def event(
    key: str,
    action: EventAction = EventAction.TRIGGER,
    *,
    ci: str | None = None,
    at: datetime = T0,
    severity: Severity = Severity.ERROR,
    summary: str = "it broke",
    event_id: str | None = None,
    **details: Any,
) -> IncomingEvent:
    return IncomingEvent(
        id=event_id or str(uuid.uuid4()),
        action=action,
        dedup_key=key,
        at=at,
        received_at=at,
        ci_id=ci,
        severity=severity,
        summary=summary,
        source="monitor-1",
        custom_details=details,
    )


def process(store: Store, batch: Sequence[IncomingEvent]) -> list[str]:
    return store.write(SYSTEM, lambda uow: events.process_events(uow, batch))


def set_policy(store: Store, links: dict[str, list[str]] | None = None, **values: Any) -> None:
    policy.set_policy(store, SYSTEM, values, links, version=None)


def read(store: Store, query: str, **params: Any) -> list[dict[str, Any]]:
    return store.read(lambda tx: [dict(r) for r in tx.run(query, **params)])


def alerts(store: Store) -> list[dict[str, Any]]:
    return read(
        store,
        "MATCH (a:Alert) OPTIONAL MATCH (a)-[:ABOUT]->(c:CI) "
        "RETURN a.number AS number, a.dedupKey AS key, a.state AS state, a.count AS count, "
        "  a.role AS role, a.firstSeenAt AS first, a.lastSeenAt AS last, a.summary AS summary, "
        "  a.customDetails AS details, a.suppressed AS suppressed, "
        "  a.suppressionReason AS suppressionReason, a.actionReason AS actionReason, "
        "  a.correlationReason AS correlationReason, a.id AS id, c.name AS ci "
        "ORDER BY a.number",
    )


def graph_snapshot(store: Store) -> list[Any]:
    return read(
        store,
        "MATCH (n) WHERE NOT n:AuditEntry AND NOT n:OutboxMessage "
        "OPTIONAL MATCH (n)-[r]->(m) "
        "RETURN labels(n) AS l, n.id AS id, n.count AS count, n.state AS state, "
        "  n.version AS version, type(r) AS r, m.id AS m ORDER BY id, r, m",
    )


@pytest.fixture
def web(store: Store) -> dict[str, str]:
    set_policy(store, correlationWindowSeconds=0)
    return estate(store, [("web1", "Server"), ("web2", "Server")])


def test_triggers_under_one_key_are_one_alert_counted_with_first_and_last_seen(
    store: Store, web: dict[str, str]
) -> None:
    first = process(store, [event("disk", ci=web["web1"], at=T0, used=91)])
    more = process(
        store,
        [
            event("disk", ci=web["web1"], at=T0 + timedelta(minutes=2), used=95),
            event("disk", ci=web["web1"], at=T0 + timedelta(minutes=1), used=93),
        ],
    )
    assert len(set(first + more)) == 1
    (alert,) = alerts(store)
    assert alert["count"] == 3 and alert["state"] == "triggered" and alert["ci"] == "web1"
    assert alert["first"].to_native() == T0
    assert alert["last"].to_native() == T0 + timedelta(minutes=2)
    assert '"used": 95' in alert["details"]
    linked = read(
        store, "MATCH (e:Event)-[:FEEDS]->(:Alert) MATCH (e)-[:ABOUT]->(c:CI) RETURN count(e) AS n"
    )
    assert linked == [{"n": 3}]


def test_a_redelivered_batch_changes_nothing(store: Store, web: dict[str, str]) -> None:
    batch = [
        event("disk", ci=web["web1"], at=T0),
        event("disk", ci=web["web1"], at=T0 + timedelta(seconds=5)),
        event("cpu", ci=web["web2"], at=T0),
        event("disk", EventAction.RESOLVE, at=T0 + timedelta(seconds=9)),
    ]
    first = process(store, batch)
    before = graph_snapshot(store)
    again = process(store, batch)
    assert again == first
    assert graph_snapshot(store) == before
    assert read(store, "MATCH (e:Event) RETURN count(e) AS n") == [{"n": 4}]
    audited = read(store, "MATCH (a:AuditEntry {recordLabel: 'Event'}) RETURN count(a) AS n")
    assert audited == [{"n": 0}]


def test_acknowledge_and_resolve_events_and_a_trigger_after_resolution_opens_a_new_alert(
    store: Store, web: dict[str, str]
) -> None:
    (first,) = process(store, [event("disk", ci=web["web1"])])
    process(store, [event("disk", EventAction.ACKNOWLEDGE, at=T0 + timedelta(minutes=1))])
    assert [a["state"] for a in alerts(store)] == ["acknowledged"]
    process(store, [event("disk", EventAction.RESOLVE, at=T0 + timedelta(minutes=2))])
    assert [a["state"] for a in alerts(store)] == ["resolved"]
    (second,) = process(store, [event("disk", ci=web["web1"], at=T0 + timedelta(minutes=3))])
    assert second != first
    assert [(a["state"], a["count"]) for a in alerts(store)] == [("resolved", 3), ("triggered", 1)]


def test_two_workers_on_one_key_at_once_open_one_alert(store: Store, web: dict[str, str]) -> None:
    results: list[list[str]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        try:
            start.wait()
            batch = [event("net", ci=web["web1"], at=T0 + timedelta(seconds=n))]
            results.append(process(store, batch))
        except BaseException as failed:  # reported below
            failures.append(failed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len({r[0] for r in results}) == 1
    assert [(a["count"], a["state"]) for a in alerts(store)] == [(4, "triggered")]


def test_a_flapping_signal_for_30_simulated_minutes_is_one_incident_and_two_pages(
    store: Store, web: dict[str, str]
) -> None:
    team = store.write(
        SYSTEM,
        lambda uow: uow.create(
            "Team",
            {
                "name": "Ops",
                "number": uow.next_number("TEAM"),
                "email": "ops@x.test",
                "state": "active",
            },
        )["id"],
    )
    set_policy(
        store,
        flapChanges=3,
        flapWindowSeconds=600,
        flapQuietSeconds=300,
        severityActions=["error=both"],
        links={"fallbackTeam": [team]},
    )
    for minute in range(30):
        action = EventAction.TRIGGER if minute % 2 == 0 else EventAction.RESOLVE
        process(store, [event("link", action, ci=web["web1"], at=T0 + timedelta(minutes=minute))])
    states = [a["state"] for a in alerts(store)]
    assert states[-1] == "flapping" and len(states) == 2
    # Quiet for the policy's time by the events' own clock: the last event said resolve.
    process(store, [event("link", EventAction.RESOLVE, at=T0 + timedelta(minutes=40))])
    assert [a["state"] for a in alerts(store)] == ["resolved", "resolved"]
    incidents = read(store, "MATCH (i:Incident) RETURN count(i) AS n")
    pages = read(store, "MATCH (n:Notification)-[:NOTIFIES_ABOUT]->(:Alert) RETURN count(n) AS n")
    assert incidents == [{"n": 1}] and pages == [{"n": 2}]
    raised = read(store, "MATCH (a:Alert)-[:RAISED]->(i:Incident) RETURN count(DISTINCT a) AS n")
    assert raised == [{"n": 2}]


def test_an_alert_on_a_ci_in_maintenance_is_recorded_but_acts_on_nothing(store: Store) -> None:
    set_policy(store, correlationWindowSeconds=0, severityActions=["error=both"])
    cis = estate(
        store,
        [("app", "Application"), ("host", "Server"), ("spare", "Server")],
        [("app", "RUNS_ON", "host", {})],
        lifecycle={"spare": "maintenance"},
    )
    store.write(
        SYSTEM,
        lambda uow: [
            uow.create(
                "MaintenanceWindow",
                {
                    "title": "Patch host",
                    "start": T0 - timedelta(hours=1),
                    "end": T0 + timedelta(hours=1),
                },
            ),
            uow.tx.run(
                "MATCH (w:MaintenanceWindow), (c:CI {id: $id}) CREATE (w)-[:SCHEDULED_FOR]->(c)",
                id=cis["host"],
            ).consume(),
        ],
    )
    process(store, [event("spare-down", ci=cis["spare"]), event("app-down", ci=cis["app"])])
    # After the window: acted on.
    process(store, [event("app-late", ci=cis["app"], at=T0 + timedelta(hours=2))])
    found = {a["key"]: a for a in alerts(store)}
    assert (
        found["spare-down"]["suppressed"]
        and "lifecycle" in found["spare-down"]["suppressionReason"]
    )
    assert found["app-down"]["suppressed"]
    assert "Patch host" in found["app-down"]["suppressionReason"]
    assert "host, which it depends on" in found["app-down"]["suppressionReason"]
    assert not found["app-late"]["suppressed"]
    assert read(store, "MATCH (a:Alert)-[:RAISED]->(i:Incident) RETURN a.dedupKey AS k") == [
        {"k": "app-late"}
    ]


# -- through the API ------------------------------------------------------------------------------

ALERT_FIELDS = """id number state count role severity suppressed actionReason correlationReason
  version ci { name inMaintenance alerts(open: true) { number } }
  rootCause { number } symptoms { number } incident { number alerts { number } }
  events(first: 2) { action at } notifications { channel address }"""
ACK = (
    "mutation($input: AlertStepInput!) { acknowledgeAlert(input: $input) { "
    "userErrors { code field message } alert { " + ALERT_FIELDS + " } } }"
)
RESOLVE = (
    "mutation($input: AlertStepInput!) { resolveAlert(input: $input) { "
    "userErrors { code field message } alert { " + ALERT_FIELDS + " } } }"
)
LIST = (
    "query($filter: AlertFilter) { alerts(filter: $filter, orderBy: {field: NUMBER}) { "
    "totalCount edges { node { number state role } } } }"
)


def test_acknowledge_and_resolve_through_the_api_with_typed_refusals(
    api: Api, store: Store, web: dict[str, str]
) -> None:
    (alert_id,) = process(store, [event("disk", ci=web["web1"], severity=Severity.WARNING)])
    process(store, [event("disk", ci=web["web1"], at=T0 + timedelta(seconds=1))])
    agent = api.as_role(store, "agent")
    found = agent.ok(
        "query($id: ID) { alert(id: $id) { " + ALERT_FIELDS + " } }", {"id": alert_id}
    )["alert"]
    assert found["count"] == 2 and found["state"] == "TRIGGERED" and found["role"] == "ROOT"
    assert found["ci"] == {
        "name": "web1",
        "inMaintenance": False,
        "alerts": [{"number": found["number"]}],
    }
    assert [e["at"] for e in found["events"]] == [
        (T0 + timedelta(seconds=1)).isoformat(),
        T0.isoformat(),
    ]
    stale = agent.ok(ACK, {"input": {"id": found["id"], "version": found["version"] - 1}})
    assert [e["code"] for e in stale["acknowledgeAlert"]["userErrors"]] == ["CONFLICT"]
    acked = agent.ok(ACK, {"input": {"id": found["id"], "version": found["version"]}})
    assert acked["acknowledgeAlert"]["alert"]["state"] == "ACKNOWLEDGED"
    resolved = agent.ok(RESOLVE, {"input": {"id": found["id"]}})["resolveAlert"]
    assert resolved["alert"]["state"] == "RESOLVED" and resolved["alert"]["ci"]["alerts"] == []
    again = agent.ok(ACK, {"input": {"id": found["id"]}})["acknowledgeAlert"]
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_TRANSITION"]
    missing = agent.ok(RESOLVE, {"input": {"id": str(uuid.uuid4())}})["resolveAlert"]
    assert [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]
    # The next trigger under the key is a new alert.
    (second,) = process(store, [event("disk", ci=web["web1"], at=T0 + timedelta(minutes=5))])
    assert second != alert_id
    listed = agent.ok(LIST, {"filter": {"state": "TRIGGERED"}})["alerts"]
    assert listed["totalCount"] == 1


def test_maintenance_windows_and_the_event_policy_through_the_api(
    api: Api, store: Store, web: dict[str, str]
) -> None:
    manager = api.as_role(store, "manager")
    create = (
        "mutation($input: CreateMaintenanceWindowInput!) { createMaintenanceWindow(input: $input) "
        "{ userErrors { code field message } maintenanceWindow { number title cis { name } } } }"
    )
    now = datetime.now(UTC)
    given = {"title": "Patch", "cis": [web["web1"]], "start": now.isoformat()}
    backwards = manager.ok(
        create, {"input": {**given, "end": (now - timedelta(hours=1)).isoformat()}}
    )
    assert backwards["createMaintenanceWindow"]["userErrors"][0]["field"] == ["input", "end"]
    made = manager.ok(create, {"input": {**given, "end": (now + timedelta(hours=1)).isoformat()}})
    assert made["createMaintenanceWindow"]["maintenanceWindow"]["cis"] == [{"name": "web1"}]
    flags = manager.ok("{ cis(first: 10) { edges { node { name inMaintenance } } } }")["cis"][
        "edges"
    ]
    assert {e["node"]["name"]: e["node"]["inMaintenance"] for e in flags} == {
        "web1": True,
        "web2": False,
    }
    policy_set = (
        "mutation($input: SetEventPolicyInput!) { setEventPolicy(input: $input) { "
        "userErrors { code field message } policy { correlationWindowSeconds flapChanges "
        "severityActions isDefault } } }"
    )
    bad = manager.ok(policy_set, {"input": {"severityActions": ["urgent=both"]}})
    assert bad["setEventPolicy"]["userErrors"][0]["field"] == ["input", "severityActions", "0"]
    good = manager.ok(policy_set, {"input": {"flapChanges": 6}})["setEventPolicy"]["policy"]
    assert good["flapChanges"] == 6 and good["correlationWindowSeconds"] == 0
    assert not good["isDefault"]


# -- a real worker ---------------------------------------------------------------------------------


def test_a_worker_acts_on_a_root_after_the_correlation_window_notifying_and_opening_an_incident(
    store: Store,
    settings: Settings,
    itsm_processes: list[ItsmProcess],
    smtp_server: SmtpServer,
    push_receiver: PushReceiver,
) -> None:
    cis = estate(
        store, [("db", "Database"), ("app", "Application")], [("app", "DEPENDS_ON", "db", {})]
    )

    def people(uow: UnitOfWork) -> None:
        team = uow.create(
            "Team", {"name": "DBAs", "number": uow.next_number("TEAM"), "state": "active"}
        )
        ana = uow.create(
            "Person",
            {
                "name": "Ana",
                "email": "ana@example.com",
                "pushUrl": push_receiver.url,
                "state": "active",
            },
        )
        uow.link("Person", ana["id"], "MEMBER_OF", "Team", team["id"])
        uow.link("CI", cis["db"], "OWNED_BY", "Team", team["id"])

    store.write(SYSTEM, people)
    set_policy(store, correlationWindowSeconds=2, severityActions=["critical=both"])
    worker = start_worker(itsm_processes, settings, env=notification_env(smtp_server))
    process(
        store,
        [
            event("app", ci=cis["app"], severity=Severity.CRITICAL, at=datetime.now(UTC)),
            event(
                "db",
                ci=cis["db"],
                severity=Severity.CRITICAL,
                at=datetime.now(UTC),
                summary="db down",
            ),
        ],
    )
    mail = wait_for(lambda: smtp_server.to("ana@example.com"), 60, (worker,), "the page")
    assert "db down" in str(mail[0].message["Subject"])
    wait_for(lambda: push_receiver.snapshot()[0], 30, (worker,), "the push")
    found = {a["key"]: a for a in alerts(store)}
    assert found["app"]["role"] == "symptom" and found["db"]["role"] == "root"
    assert "opened incident" in found["db"]["actionReason"]
    assert "notified 2" in found["db"]["actionReason"]
    incidents = read(
        store,
        "MATCH (a:Alert)-[:RAISED]->(i:Incident)-[:ASSIGNED_TO]->(t:Team) "
        "RETURN a.dedupKey AS k, i.impact AS impact, i.urgency AS urgency, t.name AS team",
    )
    assert incidents == [{"k": "db", "impact": "high", "urgency": "high", "team": "DBAs"}]
    time.sleep(1)
    assert len(smtp_server.to("ana@example.com")) == 1


ALERT_CHANGES = """subscription($filter: AlertChangeFilter) {
  alertChanges(filter: $filter) { kind version alert { number state ci { name } } } }"""


def test_a_subscriber_hears_alert_changes_on_its_cis_only(
    api: Api, api_server: RunningServer, store: Store, web: dict[str, str]
) -> None:
    mine, other = (
        process(store, [event(k, ci=web[c], severity=Severity.WARNING)])[0]
        for k, c in (("disk", "web1"), ("cpu", "web2"))
    )
    app_feed: feed.Feed = api_server.app.state.feed
    ws = open_connection(api_server.url, {"Authorization": f"Bearer {api.token}"})
    assert json.loads(ws.recv(timeout=20))["type"] == "connection_ack"
    given = {"filter": {"cis": [to_global_id("CI", web["web1"])], "severities": ["WARNING"]}}
    listening = started(app_feed)
    ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": ALERT_CHANGES, "variables": given},
            }
        )
    )
    listening()
    api.ok(ACK, {"input": {"id": other}})
    api.ok(ACK, {"input": {"id": mine}})
    message = json.loads(ws.recv(timeout=20))
    change = message["payload"]["data"]["alertChanges"]
    assert change["kind"] == "CHANGED"
    assert change["alert"]["state"] == "ACKNOWLEDGED" and change["alert"]["ci"] == {"name": "web1"}
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.5)
