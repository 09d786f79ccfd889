"""Evaluating thresholds over metric samples, by the samples' own timestamps.

Per (threshold, CI) a state node keeps the recent samples (the window, keyed by time) and the
state before the window. Each batch puts its samples in place by time and replays the window from
that base, so late and out-of-order samples count where they belong; what the replay decides that
the replay before this batch did not is raised: a `trigger` event for each breaching sample while
firing, a `resolve` event for the sample that reaches the clear value, and for an availability
threshold the outage's start and end. Event ids are derived from (threshold, CI, kind, sample
time), so a batch delivered twice raises nothing new and leaves the state as it was.

A sample at or before the window's base is too late to place: it is ignored and counted in the
batch's summary (logged). Samples of a CI and metric no threshold watches are counted in the
batch's summary and dropped.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.events import EventAction, EventOrigin, Operator, OutageKind, Severity, ThresholdCondition
from domain import events
from domain.availability import MetricSample, outages
from domain.availability import thresholds as watchers
from graphdb.cypher import thresholds as cypher
from graphdb.write_path import UnitOfWork

log = logging.getLogger(__name__)

# How far back from the newest sample of a (threshold, CI) late samples are still placed by time,
# and how many samples the window holds at most; older ones are folded into the base.
WINDOW = timedelta(minutes=10)
MAX_WINDOW_SAMPLES = 200

# Event ids of threshold events: the same decision always gets the same id.
_EVENT_IDS = uuid.UUID("4f1c9a52-7d3e-5b8a-9c61-0e2f3a4b5c6d")

_SYMBOL = {Operator.GT: ">", Operator.GE: ">=", Operator.LT: "<", Operator.LE: "<="}


@dataclass(frozen=True)
class Limit:
    """A threshold's terms, as evaluation needs them."""

    id: str
    number: str
    name: str
    metric: str
    operator: Operator
    value: float
    clear_value: float | None
    for_seconds: int
    severity: Severity
    outage_kind: OutageKind | None

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> Limit:
        kind = props.get("outageKind")
        return cls(
            id=props["id"],
            number=props.get("number", ""),
            name=props.get("name", ""),
            metric=props["metric"],
            operator=Operator(props["operator"]),
            value=float(props["value"]),
            clear_value=props.get("clearValue"),
            for_seconds=int(props.get("forSeconds") or 0),
            severity=Severity(props.get("severity") or Severity.WARNING),
            outage_kind=OutageKind(kind) if kind else None,
        )

    def breached(self, value: float) -> bool:
        match self.operator:
            case Operator.GT:
                return value > self.value
            case Operator.GE:
                return value >= self.value
            case Operator.LT:
                return value < self.value
            case Operator.LE:
                return value <= self.value

    def cleared(self, value: float) -> bool:
        """Whether a sample reaches the clear value (without one: is not breached)."""
        if self.clear_value is None:
            return not self.breached(value)
        if self.operator in (Operator.GT, Operator.GE):
            return value <= self.clear_value
        return value >= self.clear_value


@dataclass(frozen=True)
class Point:
    """Where a threshold stands for one CI after some samples."""

    condition: ThresholdCondition = ThresholdCondition.OK
    since: datetime | None = None
    run_start: datetime | None = None  # the first sample of the unbroken breaching run
    last_value: float | None = None
    last_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.condition.value,
            "since": _iso(self.since),
            "runStart": _iso(self.run_start),
            "lastValue": self.last_value,
            "lastAt": _iso(self.last_at),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Point:
        return cls(
            condition=ThresholdCondition(raw.get("state") or ThresholdCondition.OK),
            since=_parse(raw.get("since")),
            run_start=_parse(raw.get("runStart")),
            last_value=raw.get("lastValue"),
            last_at=_parse(raw.get("lastAt")),
        )


@dataclass(frozen=True)
class Decision:
    """What one sample decided: a trigger (while firing) or a resolve (at the clear value)."""

    action: EventAction
    at: datetime
    value: float
    fires: bool = False  # the trigger that moved it from ok or pending to firing
    run_start: datetime | None = None


def step(limit: Limit, point: Point, at: datetime, value: float) -> tuple[Point, Decision | None]:
    """One sample, in time order, against the state before it."""
    seen = replace(point, last_value=value, last_at=at)
    if point.condition is ThresholdCondition.FIRING:
        if limit.breached(value):
            return seen, Decision(EventAction.TRIGGER, at, value)
        if limit.cleared(value):
            return Point(ThresholdCondition.OK, at, None, value, at), Decision(
                EventAction.RESOLVE, at, value
            )
        return seen, None  # between the limit and the clear value: still firing
    if not limit.breached(value):
        # A dip below the limit ends a pending run.
        if point.condition is ThresholdCondition.PENDING:
            return Point(ThresholdCondition.OK, at, None, value, at), None
        return seen, None
    start = point.run_start if point.condition is ThresholdCondition.PENDING else at
    assert start is not None
    if at - start >= timedelta(seconds=limit.for_seconds):
        fired = Point(ThresholdCondition.FIRING, at, start, value, at)
        return fired, Decision(EventAction.TRIGGER, at, value, fires=True, run_start=start)
    return Point(ThresholdCondition.PENDING, start, start, value, at), None


def replay(
    limit: Limit, base: Point, samples: Sequence[tuple[datetime, float]]
) -> tuple[Point, list[Decision]]:
    """The state after these samples (in time order) from `base`, and what each decided."""
    point, decided = base, []
    for at, value in samples:
        point, decision = step(limit, point, at, value)
        if decision is not None:
            decided.append(decision)
    return point, decided


@dataclass
class Summary:
    """What one batch did, for the log."""

    samples: int = 0
    unwatched: int = 0
    too_late: int = 0
    evaluated: int = 0
    events: int = 0


@dataclass
class _Evaluated:
    limit: Limit
    ci_id: str
    props: dict[str, Any]  # the state node as it is to be saved
    fresh: list[Decision]


def process_samples(uow: UnitOfWork, samples: Sequence[MetricSample]) -> Summary:
    """Evaluate a batch in the unit of work: one query for the thresholds watching it, one to
    lock their states, one to save them, then the events and outages the batch decided."""
    summary = Summary(samples=len(samples))
    pairs = sorted({(s.ci_id, s.metric) for s in samples})
    watching = watchers.watching(uow, pairs)
    by_key: dict[tuple[str, str], tuple[Limit, list[MetricSample]]] = {}
    for sample in samples:
        found = watching.get((sample.ci_id, sample.metric))
        if not found:
            summary.unwatched += 1
            continue
        for props in found:
            limit = Limit.of(props)
            by_key.setdefault((limit.id, sample.ci_id), (limit, []))[1].append(sample)
    if not by_key:
        _log(summary)
        return summary
    states = cypher.lock_states(uow.tx, list(by_key))
    evaluated = []
    for (threshold_id, ci_id), (limit, batch) in sorted(by_key.items()):
        state = states[f"{threshold_id}:{ci_id}"]
        done = _evaluate(limit, ci_id, state, batch, summary)
        if done is not None:
            evaluated.append(done)
    summary.evaluated = len(evaluated)
    _raise(uow, evaluated, summary)
    cypher.save_states(uow.tx, [e.props for e in evaluated])
    _log(summary)
    return summary


def _evaluate(
    limit: Limit,
    ci_id: str,
    state: dict[str, Any],
    batch: Sequence[MetricSample],
    summary: Summary,
) -> _Evaluated | None:
    """Place the batch in the window and replay; None when nothing changed."""
    base = Point.from_json(json.loads(state.get("base") or "{}"))
    base_at = _parse(state.get("baseAt"))
    window = {_parse_required(at): float(v) for at, v in json.loads(state.get("window") or "[]")}
    before = sorted(window.items())
    late = 0
    for sample in batch:
        if base_at is not None and sample.at <= base_at:
            late += 1
            continue
        # The same time again replaces the value; times are kept in UTC so that one instant
        # written with two offsets is one sample.
        window[sample.at.astimezone(UTC)] = float(sample.value)
    summary.too_late += late
    after = sorted(window.items())
    if after == before:
        return None
    was, decided_before = replay(limit, base, before)
    point, decided = replay(limit, base, after)
    known = {(d.action, d.at) for d in decided_before}
    fresh = [d for d in decided if (d.action, d.at) not in known]
    if (
        was.condition is ThresholdCondition.FIRING
        and point.condition is not ThresholdCondition.FIRING
        and not any(d.action is EventAction.RESOLVE for d in fresh)
        and point.last_at is not None
        and point.last_value is not None
    ):
        # A sample put in place (a late one, or a new value for a time kept) shows it never
        # kept firing: what was raised is resolved as of the newest sample.
        fresh.append(Decision(EventAction.RESOLVE, point.last_at, point.last_value))
    # Fold what falls out of the window into the base.
    newest = after[-1][0]
    kept = [s for s in after if s[0] >= newest - WINDOW][-MAX_WINDOW_SAMPLES:]
    dropped = after[: len(after) - len(kept)]
    if dropped:
        base, _ = replay(limit, base, dropped)
        base_at = dropped[-1][0]
    props = {
        **{k: v for k, v in state.items() if k in ("key", "thresholdId", "ciId", "outageId")},
        "state": point.condition.value,
        "since": point.since,
        "runStart": point.run_start,
        "lastValue": point.last_value,
        "lastAt": point.last_at,
        "window": json.dumps([[at.isoformat(), v] for at, v in kept]),
        "base": json.dumps(base.to_json(), sort_keys=True),
        "baseAt": base_at,
        "lastTriggerAt": _parse(state.get("lastTriggerAt")),
        "lastResolveAt": _parse(state.get("lastResolveAt")),
    }
    return _Evaluated(limit, ci_id, props, fresh)


def _event_id(limit: Limit, ci_id: str, decision: Decision) -> str:
    name = f"{limit.id}:{ci_id}:{decision.action.value}:{decision.at.isoformat()}"
    return str(uuid.uuid5(_EVENT_IDS, name))


def _event(uow: UnitOfWork, limit: Limit, ci_id: str, decision: Decision) -> events.IncomingEvent:
    if decision.action is EventAction.TRIGGER:
        summary = (
            f"{limit.name}: {limit.metric} {decision.value:g} "
            f"{_SYMBOL[limit.operator]} {limit.value:g}"
        )
    else:
        summary = f"{limit.name}: {limit.metric} back to {decision.value:g}"
    return events.IncomingEvent(
        id=_event_id(limit, ci_id, decision),
        action=decision.action,
        dedup_key=f"threshold:{limit.id}:{ci_id}",
        at=decision.at,
        received_at=uow.at,
        ci_id=ci_id,
        severity=limit.severity,
        summary=summary,
        source=f"threshold {limit.number}",
        custom_details={
            "threshold": limit.number,
            "operator": limit.operator.value,
            "limit": limit.value,
            "clearValue": limit.clear_value,
            "forSeconds": limit.for_seconds,
        },
        origin=EventOrigin.THRESHOLD,
        threshold_id=limit.id,
        metric=limit.metric,
        value=decision.value,
    )


def _raise(uow: UnitOfWork, evaluated: Sequence[_Evaluated], summary: Summary) -> None:
    """Raise what the batch decided that was not raised before, oldest first.

    A late decision that the raised ones already overtook is not raised: a trigger older than
    the resolve already raised would open a new alert for an episode that is over, and a resolve
    older than a trigger already raised would resolve an alert that is firing again."""
    chosen: list[tuple[_Evaluated, Decision]] = []
    for done in evaluated:
        props = done.props
        for decision in done.fresh:
            if decision.action is EventAction.TRIGGER:
                overtaken = props["lastResolveAt"]
                mark = "lastTriggerAt"
            else:
                overtaken = props["lastTriggerAt"]
                mark = "lastResolveAt"
            if overtaken is not None and decision.at < overtaken:
                continue
            if props[mark] is None or props[mark] < decision.at:
                props[mark] = decision.at
            chosen.append((done, decision))
    if not chosen:
        return
    chosen.sort(key=lambda c: (c[1].at, c[1].action is EventAction.RESOLVE))
    incoming = [_event(uow, done.limit, done.ci_id, decision) for done, decision in chosen]
    alert_ids = events.process_events(uow, incoming)
    summary.events += len(incoming)
    for (done, decision), alert_id in zip(chosen, alert_ids, strict=True):
        _record_outage(uow, done, decision, alert_id)


def _record_outage(uow: UnitOfWork, done: _Evaluated, decision: Decision, alert_id: str) -> None:
    """An availability threshold's firing opens an outage from the first breaching sample of the
    run; its clearing ends it at the clearing sample's time."""
    kind = done.limit.outage_kind
    props = done.props
    if kind is None:
        return
    if decision.fires and props.get("outageId") is None:
        start = decision.run_start or decision.at
        outage = outages.open_outage_in(uow, done.ci_id, kind, start, alert_id=alert_id)
        props["outageId"] = outage["id"]
    elif decision.action is EventAction.RESOLVE and props.get("outageId") is not None:
        outages.end_outage_in(uow, props["outageId"], decision.at)
        props["outageId"] = None


def _log(summary: Summary) -> None:
    log.info(
        "threshold evaluation: %d samples, %d unwatched (dropped), %d too late (ignored), "
        "%d states evaluated, %d events raised",
        summary.samples,
        summary.unwatched,
        summary.too_late,
        summary.evaluated,
        summary.events,
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _parse(value: Any) -> datetime | None:
    """A stored time: an ISO string (inside JSON) or a Neo4j DateTime, as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if hasattr(value, "to_native"):
        native: datetime = value.to_native()
        return native
    assert isinstance(value, datetime)
    return value


def _parse_required(value: Any) -> datetime:
    parsed = _parse(value)
    assert parsed is not None
    return parsed
