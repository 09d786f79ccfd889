"""De-duplicating events into alerts: one open alert per dedup key, acknowledged and resolved by
its events (or by people), flapping when it changes too often, suppressed in maintenance,
correlated through the CI graph and acted on.

A batch is processed in one unit of work. Its dedup keys are locked first (one `AlertKey` node
per key, unique, locked in sorted order), so two workers never both open an alert under one key;
events already recorded are skipped, so a redelivered batch changes nothing. The common case, more
triggers on an alert that is open and steady, costs one UNWIND for the whole batch; only new
alerts and state changes take the full path (and, when they may change a root, the correlation
lock).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.events import ALERT, AlertRole, AlertState, EventAction
from domain.events import IncomingEvent, actions, correlation, feed
from domain.events.policy import Policy, current
from graphdb import timers
from graphdb.cypher import alerts as cypher
from graphdb.timers import DueTimer, timer_kind
from graphdb.write_path import UnitOfWork

LABEL = ALERT.label
QUIET = "alert.quiet"
_STEADY_STATES = (AlertState.TRIGGERED.value, AlertState.ACKNOWLEDGED.value)


def _native(value: Any) -> Any:
    return getattr(value, "to_native", lambda: value)()


@dataclass
class _Key:
    """A dedup key as its lock read it, changed in memory as its events are applied."""

    key: str
    alert: dict[str, Any] | None
    last_alert: str | None
    last_action: str | None
    changes: list[str]
    root_state: str | None
    dirty: bool = False
    touched: list[str] = field(default_factory=list)

    def changed_at(self, at: datetime, policy: Policy) -> int:
        """Count a change between firing and clear at `at`; returns the changes in the window."""
        since = at - timedelta(seconds=policy.flap_window)
        kept = [c for c in self.changes if datetime.fromisoformat(c) > since]
        self.changes = [*kept, at.isoformat()]
        self.dirty = True
        return len(self.changes)


def process_events(uow: UnitOfWork, events: Sequence[IncomingEvent]) -> list[str]:
    """See `domain.events.process_events`. An event that fed no alert (an acknowledge of a key
    never triggered) answers ""."""
    if not events:
        return []
    keys = {
        row["key"]: row for row in cypher.lock_keys(uow.tx, sorted({e.dedup_key for e in events}))
    }
    recorded = cypher.recorded_events(uow.tx, [e.id for e in events])
    fresh: dict[str, IncomingEvent] = {}
    for event in events:
        if event.id not in recorded:
            fresh.setdefault(event.id, event)
    by_key: dict[str, list[IncomingEvent]] = {}
    for event in fresh.values():
        by_key.setdefault(event.dedup_key, []).append(event)
    states = {
        k: _Key(
            k,
            dict(row["alert"]) if row["alert"] is not None else None,
            row["lastAlert"],
            row["lastAction"],
            list(row["changes"]),
            row["rootState"],
        )
        for k, row in keys.items()
    }
    policy = current(uow.tx)
    common = {k for k, evs in by_key.items() if _common(states[k], evs)}
    correlator = correlation.Correlator(uow, policy)
    if any(e.action == EventAction.TRIGGER for k in by_key.keys() - common for e in by_key[k]):
        correlator.lock()
    fed: dict[str, str | None] = {}
    counted = []
    for key, evs in by_key.items():
        state = states[key]
        if key in common:
            assert state.alert is not None
            counted.append(_count_row(state.alert["id"], evs))
            fed.update((e.id, state.alert["id"]) for e in evs)
            continue
        for event in evs:
            fed[event.id] = _apply(uow, policy, correlator, state, event)
    if counted:
        cypher.count_triggers(uow.tx, counted, uow.at)
    cypher.save_keys(
        uow.tx,
        [
            {
                "key": s.key,
                "open": s.alert["id"] if s.alert else None,
                "last": s.last_alert,
                "lastAction": s.last_action,
                "changes": s.changes,
            }
            for s in states.values()
            if s.dirty
        ],
    )
    _record(uow, list(fresh.values()), fed)
    touched = [
        *(row["id"] for row in counted),
        *(i for s in states.values() for i in s.touched),
        *correlator.touched,
    ]
    feed.alerts_changed(uow, touched)
    return [fed.get(e.id) or recorded.get(e.id) or "" for e in events]


def _common(state: _Key, events: Sequence[IncomingEvent]) -> bool:
    """More triggers on an open, steady alert that is not a symptom of a resolved root: only its
    counters change."""
    alert = state.alert
    return (
        alert is not None
        and alert.get("state") in _STEADY_STATES
        and state.last_action != EventAction.RESOLVE
        and not (alert.get("role") == AlertRole.SYMPTOM and state.root_state == AlertState.RESOLVED)
        and all(e.action == EventAction.TRIGGER for e in events)
    )


def _details(event: IncomingEvent) -> str:
    return json.dumps(dict(event.custom_details), sort_keys=True, default=str)


def _count_row(alert_id: str, events: Sequence[IncomingEvent]) -> dict[str, Any]:
    latest = max(events, key=lambda e: e.at)
    return {
        "id": alert_id,
        "n": len(events),
        "last": latest.at.isoformat(),
        "summary": latest.summary or None,
        "severity": latest.severity.value,
        "details": _details(latest),
        "value": latest.value,
    }


def _record(uow: UnitOfWork, events: list[IncomingEvent], fed: dict[str, str | None]) -> None:
    """The batch's new events, created set-wise and linked to their alert, CI and threshold."""
    rows = [
        {
            "id": e.id,
            "action": e.action.value,
            "dedupKey": e.dedup_key,
            "severity": e.severity.value,
            "summary": e.summary[:1024] or None,
            "source": e.source[:255] or None,
            "at": e.at.isoformat(),
            "receivedAt": e.received_at.isoformat(),
            "customDetails": _details(e),
            "origin": e.origin.value,
            "metric": e.metric,
            "value": e.value,
        }
        for e in events
    ]
    created = set(uow.append_many("Event", rows, times=("at", "receivedAt")))
    cypher.link_events(
        uow.tx,
        [
            {"id": e.id, "alert": fed.get(e.id), "ci": e.ci_id, "threshold": e.threshold_id}
            for e in events
            if e.id in created
        ],
    )


def _seen(alert: dict[str, Any], event: IncomingEvent) -> dict[str, Any]:
    """What any event tells its open alert: counted, last seen, its latest details."""
    last = _native(alert.get("lastSeenAt"))
    values: dict[str, Any] = {
        "count": int(alert.get("count") or 0) + 1,
        "lastSeenAt": event.at if last is None or event.at > last else last,
        "customDetails": _details(event),
    }
    if event.action == EventAction.TRIGGER:
        values.update(severity=event.severity.value)
        if event.summary:
            values["summary"] = event.summary[:1024]
        if event.value is not None:
            values["value"] = event.value
    return values


def _apply(
    uow: UnitOfWork,
    policy: Policy,
    correlator: correlation.Correlator,
    state: _Key,
    event: IncomingEvent,
) -> str | None:
    """One event on its key, the full way; returns the alert it fed."""
    if state.alert is not None and state.alert["state"] == AlertState.FLAPPING:
        _settle_if_quiet(uow, policy, state, event.at)
    if event.action == EventAction.TRIGGER:
        return _trigger(uow, policy, correlator, state, event)
    alert = state.alert
    if alert is None:
        return state.last_alert  # nothing open: recorded, feeding the last alert if any
    alert_id = str(alert["id"])
    values = _seen(alert, event)
    if event.action == EventAction.ACKNOWLEDGE:
        if alert["state"] == AlertState.TRIGGERED:
            uow.transition(LABEL, alert_id, AlertState.ACKNOWLEDGED, expected_version=None)
            values["acknowledgedAt"] = event.at
        state.alert = _derive(uow, state, alert_id, values)
        return alert_id
    # A resolve.
    flaps = 0
    if state.last_action != EventAction.RESOLVE:
        flaps = state.changed_at(event.at, policy)
        values.update(lastChangeAt=event.at, flapCount=flaps)
    values["lastAction"] = EventAction.RESOLVE.value
    state.last_action = EventAction.RESOLVE
    state.dirty = True
    if alert["state"] == AlertState.FLAPPING:
        state.alert = _derive(uow, state, alert_id, values)
        _quiet_timer(uow, policy, alert_id)
    elif flaps >= policy.flap_changes:
        state.alert = _flap(uow, policy, state, alert_id, values, event.at)
    else:
        resolve(uow, state, alert_id, values, event.at)
    return alert_id


def _trigger(
    uow: UnitOfWork,
    policy: Policy,
    correlator: correlation.Correlator,
    state: _Key,
    event: IncomingEvent,
) -> str:
    alert = state.alert
    changed = state.last_action == EventAction.RESOLVE or (
        alert is None and state.last_alert is not None
    )
    flaps = state.changed_at(event.at, policy) if changed else 0
    state.last_action = EventAction.TRIGGER
    state.dirty = True
    if alert is None:
        return _open(uow, policy, correlator, state, event, flaps)
    alert_id = str(alert["id"])
    values = {**_seen(alert, event), "lastAction": EventAction.TRIGGER.value}
    if changed:
        values.update(lastChangeAt=event.at, flapCount=flaps)
    state.alert = _derive(uow, state, alert_id, values)
    if alert["state"] == AlertState.FLAPPING:
        if changed:
            _quiet_timer(uow, policy, alert_id)
    elif changed and flaps >= policy.flap_changes:
        state.alert = _flap(uow, policy, state, alert_id, {}, event.at)
    if alert.get("role") == AlertRole.SYMPTOM and state.root_state == AlertState.RESOLVED:
        # Its root is over: on its next event a symptom is judged again, and may become a root.
        correlator.recorrelate(state.alert)
        state.root_state = None
        state.alert = uow.lock(LABEL, alert_id)
    return alert_id


def _open(
    uow: UnitOfWork,
    policy: Policy,
    correlator: correlation.Correlator,
    state: _Key,
    event: IncomingEvent,
    flaps: int,
) -> str:
    """A new alert: recorded, judged for maintenance and correlation, and scheduled to act."""
    created = uow.create(
        LABEL,
        {
            "dedupKey": event.dedup_key,
            "summary": event.summary[:1024] or None,
            "source": event.source[:255] or None,
            "severity": event.severity.value,
            "state": AlertState.TRIGGERED.value,
            "origin": event.origin.value,
            "role": AlertRole.ROOT.value,
            "count": 1,
            "firstSeenAt": event.at,
            "lastSeenAt": event.at,
            "customDetails": _details(event),
            "metric": event.metric,
            "value": event.value,
            "suppressed": False,
            "lastAction": EventAction.TRIGGER.value,
            "lastChangeAt": event.at if flaps else None,
            "flapCount": flaps,
        },
    )
    alert_id = str(created["id"])
    if event.ci_id is not None:
        uow.link(LABEL, alert_id, "ABOUT", "CI", event.ci_id)
    if event.threshold_id is not None:
        uow.link(LABEL, alert_id, "FROM_THRESHOLD", "Threshold", event.threshold_id)
    state.alert, state.last_alert, state.root_state = created, alert_id, None
    state.touched.append(alert_id)
    if flaps >= policy.flap_changes:
        state.alert = _flap(uow, policy, state, alert_id, {}, event.at)
    correlator.judge_new(alert_id, event.ci_id, event.at)
    state.alert = uow.lock(LABEL, alert_id)
    return alert_id


def _derive(uow: UnitOfWork, state: _Key, alert_id: str, values: dict[str, Any]) -> dict[str, Any]:
    state.touched.append(alert_id)
    return cypher.set_derived(uow.tx, alert_id, {**values, "updatedAt": uow.at})


def _flap(
    uow: UnitOfWork,
    policy: Policy,
    state: _Key,
    alert_id: str,
    values: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    uow.transition(LABEL, alert_id, AlertState.FLAPPING, expected_version=None)
    _quiet_timer(uow, policy, alert_id)
    return _derive(uow, state, alert_id, {**values, "flappingSince": at})


def _quiet_timer(uow: UnitOfWork, policy: Policy, alert_id: str) -> None:
    # Moved on every change: it fires only after the policy's quiet time with no change at all.
    timers.set_timer(uow, QUIET, LABEL, alert_id, uow.at + timedelta(seconds=policy.flap_quiet))


def resolve(
    uow: UnitOfWork, state: _Key | None, alert_id: str, values: dict[str, Any], at: datetime
) -> None:
    """Resolve an open alert; the next trigger under its key opens a new one."""
    uow.transition(LABEL, alert_id, AlertState.RESOLVED, expected_version=None)
    cypher.set_derived(uow.tx, alert_id, {**values, "resolvedAt": at, "updatedAt": uow.at})
    timers.cancel_timer(uow, QUIET, LABEL, alert_id)
    if state is not None:
        state.alert = None
        state.dirty = True
        state.touched.append(alert_id)
    else:
        cypher.close_key(uow.tx, alert_id)
        feed.alerts_changed(uow, [alert_id])


def _settle(
    uow: UnitOfWork,
    policy: Policy,
    state: _Key | None,
    alert: dict[str, Any],
    at: datetime,
) -> None:
    """A flapping alert quiet for long enough returns to what its last event said."""
    alert_id = str(alert["id"])
    if alert.get("lastAction") == EventAction.RESOLVE:
        resolve(uow, state, alert_id, {"flapCount": 0}, at)
        return
    uow.transition(LABEL, alert_id, AlertState.TRIGGERED, expected_version=None)
    after = cypher.set_derived(uow.tx, alert_id, {"flapCount": 0, "updatedAt": uow.at})
    timers.cancel_timer(uow, QUIET, LABEL, alert_id)
    if state is not None:
        state.alert = after
        state.touched.append(alert_id)
    else:
        feed.alerts_changed(uow, [alert_id])
    # One that opened flapping never acted: steady, it acts now (once: an alert acts only once).
    if after.get("actedAt") is None and after.get("actionsDueAt") is None:
        actions.schedule(uow, policy, alert_id)


def _settle_if_quiet(
    uow: UnitOfWork,
    policy: Policy,
    state: _Key,
    at: datetime,
) -> None:
    assert state.alert is not None
    last = _native(state.alert.get("lastChangeAt"))
    if last is not None and at - last >= timedelta(seconds=policy.flap_quiet):
        _settle(uow, policy, state, state.alert, last + timedelta(seconds=policy.flap_quiet))


def lock_alert(uow: UnitOfWork, alert_id: str) -> dict[str, Any]:
    """Lock an alert the way event processing does, its dedup key first (so that a person or a
    timer never waits on an alert while holding what a batch waits for), then the alert."""
    key = cypher.dedup_key_of(uow.tx, alert_id)
    if key is not None:
        cypher.lock_keys(uow.tx, [key])
    return uow.lock(LABEL, alert_id)


@timer_kind(QUIET, "returns a flapping alert to triggered or resolved after its quiet time")
def _quiet(uow: UnitOfWork, timer: DueTimer) -> None:
    alert = lock_alert(uow, timer.record_id)
    if alert.get("state") != AlertState.FLAPPING:
        return
    _settle(uow, current(uow.tx), None, alert, uow.at)
