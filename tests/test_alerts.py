"""Events into alerts: recorded once by id, de-duplicated by key into one open alert,
acknowledged and resolved by events and through the API, flapping by the events' own times,
suppressed in maintenance, acted on (notifications, incidents), announced to subscribers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.access import SYSTEM
from core.events import EventAction, Severity
from domain import events
from domain.events import IncomingEvent
from domain.reconciliation import ImportItem, ImportRelationship, import_cis
from graphdb.write_path import Store, UnitOfWork

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


def set_policy(store: Store, **values: Any) -> None:
    from domain.events import policy

    policy.set_policy(store, SYSTEM, values, None, version=None)


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


def answer(fn: Callable[[UnitOfWork], Any]) -> Callable[[UnitOfWork], Any]:
    return fn
