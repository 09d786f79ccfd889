"""Events and metric samples at the edge: each item checked on its own, its CI named, its ids and
dedup key given, and the accepted ones queued on the broker as one message per batch.

Nothing is written to the graph here: a worker's unit of work records what was queued
(`domain.events.process_events`, `domain.availability.process_samples`). An item that breaks a
rule is rejected with its index, the field at fault and the rule, while the others are accepted.

Events follow PagerDuty's Events API v2 (`event_action`, `dedup_key`, `payload.summary`,
`payload.source`, `payload.severity`, `payload.timestamp`, `payload.custom_details` …), plus
`payload.ci`: a CI id, or its identification keys (`{"ciClass": "Server", "fqdn": "db1"}`) as
the CMDB's reconciliation identifies CIs. A trigger without `payload.ci` names its CI by
`payload.source`, as a CI id or as a CI name that only one CI bears.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import dramatiq
import orjson

from core.access import Actor, Role
from core.errors import DomainError, Forbidden, LimitExceeded, Unauthenticated, ValidationFailed
from core.events import EventAction, Severity
from core.ids import record_id
from domain import cmdb
from domain.availability import INGEST_METRICS, MetricSample
from domain.events import INGEST_EVENTS, IncomingEvent
from graphdb.cypher import ingest as cypher
from graphdb.write_path import Store, now

# PagerDuty's own bounds for the fields it shares with this API.
MAX_SUMMARY = 1024
MAX_SHORT = 255  # dedup_key, source, component, group, class, metric
# Folded into the event's details: the alert record has no place of its own for them.
CONTEXT_FIELDS = ("component", "group", "class")
E = TypeVar("E", bound=enum.StrEnum)


class BrokerUnavailable(DomainError):
    """The broker did not take the batch: nothing of it was accepted, send it again later."""

    code = "BROKER_UNAVAILABLE"
    http_status = 503

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(
            f"the queue is unavailable ({reason}): nothing of this batch was accepted; "
            f"send it again in {retry_after} s",
            retryAfter=retry_after,
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    max_items: int = 1000
    max_item_bytes: int = 16 * 1024
    retry_after_seconds: int = 5


# The bounds in force: the API's settings set them when it starts (`configure`).
_limits = Limits()


def configure(limits: Limits) -> None:
    global _limits
    _limits = limits


# Who may send monitoring data: every role that works records; a viewer only reads.
SENDERS = frozenset({Role.AUTOMATION, Role.AGENT, Role.MANAGER, Role.ADMIN})


def may_send(actor: Actor) -> None:
    if actor.role is None:
        raise Unauthenticated("sending events and metrics needs an API token")
    if actor.role not in SENDERS:
        raise Forbidden(
            f"role {actor.role.value!r} may not send events or metrics", role=actor.role.value
        )


@dataclass(frozen=True)
class Rejection:
    index: int
    field: str
    code: str  # UPPER_SNAKE, as userErrors name the rule
    message: str


@dataclass
class EventBatch:
    events: list[IncomingEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def dedup_keys(self) -> list[str]:
        return [e.dedup_key for e in self.events]


@dataclass
class SampleBatch:
    samples: list[MetricSample] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


# -- the CI an item names ----------------------------------------------------------------------


@dataclass(frozen=True)
class _CIRef:
    """What an item says about its CI, before the batch's one read."""

    field: str
    ids: tuple[str, ...] = ()  # stored ids it may be
    keys: tuple[str, ...] = ()  # identity keys that identify it
    name: str | None = None  # a CI name (an event's source)
    required: bool = True

    def resolve(self, found: cypher.CIsFound) -> str | None:
        """The CI's id; None when not found and not required. Raises ValidationFailed."""
        for ci_id in self.ids:
            if ci_id in found.ids:
                return ci_id
        if self.keys:
            matches = sorted({found.by_key[k] for k in self.keys if k in found.by_key})
            if len(matches) > 1:
                raise ValidationFailed(
                    self.field, "ambiguous_ci", "the identification keys match several CIs"
                )
            if matches:
                return matches[0]
        if self.name is not None:
            named = found.by_name.get(self.name, [])
            if len(named) > 1:
                raise ValidationFailed(
                    self.field,
                    "ambiguous_ci",
                    f"{len(named)} CIs are named {self.name!r}: name the CI in payload.ci",
                )
            if named:
                return named[0]
        if not self.required:
            return None
        raise ValidationFailed(self.field, "unknown_ci", "no CI matches")


def _ci_ref(value: Any, where: str, *, required: bool = True) -> _CIRef:
    """`value` as a CI id (global or stored) or an object of identification keys."""
    if isinstance(value, str):
        text = _short(value, where)
        return _CIRef(where, ids=(record_id(text, "CI", field=where),), required=required)
    if not isinstance(value, Mapping):
        raise ValidationFailed(
            where, "not_a_ci", "name the CI by its id or by {ciClass, …identification keys}"
        )
    ci_class = value.get("ciClass")
    if not isinstance(ci_class, str):
        raise ValidationFailed(f"{where}.ciClass", "required", "the CI class is required")
    cls = cmdb.ci_class(ci_class, field_name=f"{where}.ciClass")
    props: dict[str, Any] = {}
    for name, given in value.items():
        if name == "ciClass":
            continue
        if not isinstance(given, str | int) or isinstance(given, bool):
            raise ValidationFailed(
                f"{where}.{name}", "not_a_key", "an identification key is a string or a number"
            )
        props[name if name in cmdb.CORE_FIELDS else cmdb.ATTRIBUTE_PREFIX + name] = given
    keys = cmdb.identity_keys(cls, props)
    if not keys:
        rules = " or ".join("+".join(rule) for rule in cls.identification)
        raise ValidationFailed(where, "no_identification", f"a {cls.name} is identified by {rules}")
    return _CIRef(where, keys=tuple(keys), required=required)


def _source_ref(source: str, where: str, *, required: bool) -> _CIRef:
    try:
        ids: tuple[str, ...] = (record_id(source, "CI", field=where),)
    except ValidationFailed:
        ids = ()  # the global id of another record type: still maybe a name
    return _CIRef(where, ids=ids, name=source, required=required)


def _find(store: Store, refs: Sequence[_CIRef | None]) -> cypher.CIsFound:
    ids = sorted({i for r in refs if r for i in r.ids})
    keys = sorted({k for r in refs if r for k in r.keys})
    names = sorted({r.name for r in refs if r and r.name is not None})
    if not (ids or keys or names):
        return cypher.CIsFound()
    return store.read(lambda tx: cypher.find_cis(tx, ids, keys, names))


# -- field checks ------------------------------------------------------------------------------


def _short(value: Any, where: str, limit: int = MAX_SHORT) -> str:
    if value is None:
        raise ValidationFailed(where, "required", "is required")
    if not isinstance(value, str):
        raise ValidationFailed(where, "not_a_string", "must be a string")
    text = value.strip()
    if not text:
        raise ValidationFailed(where, "empty", "must not be empty")
    if len(text) > limit:
        raise ValidationFailed(where, "too_long", f"at most {limit} characters")
    return text


def _optional_short(item: Mapping[str, Any], name: str, where: str) -> str | None:
    value = item.get(name)
    return None if value is None else _short(value, f"{where}.{name}")


def parse_time(value: Any, where: str) -> datetime:
    """ISO 8601 with a zone offset (`2026-12-02T06:25:00Z`, `…+01:00`), as aware UTC."""
    if not isinstance(value, str):
        raise ValidationFailed(where, "not_a_time", "an ISO 8601 time with a zone, as a string")
    try:
        # fromisoformat takes every ISO 8601 form the standard library knows since 3.11.
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            where, "not_a_time", f"{value!r} is not an ISO 8601 time, e.g. 2026-12-02T06:25:00Z"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationFailed(
            where, "time_without_zone", f"{value!r} has no zone: add Z or an offset like +01:00"
        )
    return parsed.astimezone(UTC)


def _choice(values: type[E], value: Any, where: str, what: str) -> E:
    allowed = ", ".join(str(m.value) for m in values)
    if value is None:
        raise ValidationFailed(where, "required", f"one of: {allowed}")
    try:
        return values(value)
    except ValueError:
        raise ValidationFailed(where, f"unknown_{what}", f"one of: {allowed}") from None


def _item_object(item: Any, where: str, limits: Limits) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise ValidationFailed(where, "not_an_object", "each item is a JSON object")
    size = len(orjson.dumps(item, default=str))
    if size > limits.max_item_bytes:
        raise ValidationFailed(
            where, "item_too_large", f"{size} bytes; at most {limits.max_item_bytes} per item"
        )
    return item


def _items(items: Any, where: str, limits: Limits) -> Sequence[Any]:
    if not isinstance(items, list | tuple):
        raise ValidationFailed(where, "not_a_list", f"{where} must be a list")
    if not items:
        raise ValidationFailed(where, "empty", f"{where} must not be empty")
    if len(items) > limits.max_items:
        raise LimitExceeded(
            where, limits.max_items, f"at most {limits.max_items} items per batch: split it"
        )
    return items


def _rejection(index: int, error: ValidationFailed) -> Rejection:
    return Rejection(index, error.field or "", error.reason.upper(), error.message)


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    index: int
    action: EventAction
    dedup_key: str
    at: datetime
    severity: Severity
    summary: str
    source: str
    details: dict[str, Any]
    ci: _CIRef | None


def _event(index: int, item: Any, where: str, received_at: datetime, limits: Limits) -> _Event:
    item = _item_object(item, where, limits)
    action = _choice(EventAction, item.get("event_action"), f"{where}.event_action", "action")
    routing_key = item.get("routing_key")
    if routing_key is not None and not isinstance(routing_key, str):
        raise ValidationFailed(f"{where}.routing_key", "not_a_string", "must be a string")
    dedup_key = _optional_short(item, "dedup_key", where)
    if dedup_key is None and action is not EventAction.TRIGGER:
        raise ValidationFailed(
            f"{where}.dedup_key", "required", f"an {action.value} event needs the alert's dedup_key"
        )
    payload = item.get("payload")
    trigger = action is EventAction.TRIGGER
    if payload is None and not trigger:
        payload = {}
    at = f"{where}.payload"
    if not isinstance(payload, Mapping):
        raise ValidationFailed(at, "required" if payload is None else "not_an_object", "an object")
    summary = payload.get("summary")
    source = payload.get("source")
    severity_value = payload.get("severity")
    if trigger or summary is not None:
        summary = _short(summary, f"{at}.summary", MAX_SUMMARY)
    if trigger or source is not None:
        source = _short(source, f"{at}.source")
    severity = Severity.ERROR
    if trigger or severity_value is not None:
        severity = _choice(Severity, severity_value, f"{at}.severity", "severity")
    timestamp = payload.get("timestamp")
    happened = received_at if timestamp is None else parse_time(timestamp, f"{at}.timestamp")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, Mapping):
        details = {"details": details}  # PagerDuty takes any JSON value here
    details = dict(details or {})
    for name in CONTEXT_FIELDS:
        value = _optional_short(payload, name, at)
        if value is not None:
            details.setdefault(name, value)
    if payload.get("ci") is not None:
        ci: _CIRef | None = _ci_ref(payload["ci"], f"{at}.ci", required=trigger)
    elif source is not None:
        ci = _source_ref(source, f"{at}.source", required=trigger)
    elif trigger:
        raise ValidationFailed(f"{at}.ci", "required", "a trigger needs a CI: payload.ci")
    else:
        ci = None
    return _Event(
        index=index,
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        at=happened,
        severity=severity,
        summary=summary or "",
        source=source or "",
        details=details,
        ci=ci,
    )


def check_events(
    store: Store, items: Any, *, limits: Limits | None = None, where: str = "events"
) -> EventBatch:
    """Every item checked and its CI resolved (the whole batch in one read); raises only when
    the batch as a whole is refused (not a list, empty, too many items)."""
    limits = limits or _limits
    received_at = now()
    batch = EventBatch()
    parsed: list[_Event] = []
    for index, item in enumerate(_items(items, where, limits)):
        try:
            parsed.append(_event(index, item, f"{where}[{index}]", received_at, limits))
        except ValidationFailed as error:
            batch.rejected.append(_rejection(index, error))
    found = _find(store, [p.ci for p in parsed])
    for event in parsed:
        try:
            ci_id = event.ci.resolve(found) if event.ci is not None else None
        except ValidationFailed as error:
            batch.rejected.append(_rejection(event.index, error))
            continue
        batch.events.append(
            IncomingEvent(
                id=str(uuid.uuid4()),
                action=event.action,
                dedup_key=event.dedup_key,
                at=event.at,
                received_at=received_at,
                ci_id=ci_id,
                severity=event.severity,
                summary=event.summary,
                source=event.source,
                custom_details=event.details,
            )
        )
    batch.rejected.sort(key=lambda r: r.index)
    return batch


# -- metric samples ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    index: int
    ci: _CIRef
    metric: str
    value: float
    at: datetime


def _sample(index: int, item: Any, where: str, limits: Limits) -> _Sample:
    item = _item_object(item, where, limits)
    if item.get("ciId") is not None:
        if not isinstance(item["ciId"], str):
            raise ValidationFailed(f"{where}.ciId", "not_a_string", "a CI id is a string")
        ci = _ci_ref(item["ciId"], f"{where}.ciId")
    elif isinstance(item.get("ci"), str):
        ci = _source_ref(_short(item["ci"], f"{where}.ci"), f"{where}.ci", required=True)
    elif item.get("ci") is not None:
        ci = _ci_ref(item["ci"], f"{where}.ci")
    else:
        raise ValidationFailed(f"{where}.ci", "required", "name the CI by ci or ciId")
    metric = _short(item.get("metric"), f"{where}.metric")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(f"{where}.value", "not_a_number", "a finite number")
    if item.get("time") is None:
        raise ValidationFailed(f"{where}.time", "required", "when the value was measured")
    return _Sample(index, ci, metric, float(value), parse_time(item["time"], f"{where}.time"))


def check_samples(
    store: Store, items: Any, *, limits: Limits | None = None, where: str = "samples"
) -> SampleBatch:
    limits = limits or _limits
    received_at = now()
    batch = SampleBatch()
    parsed: list[_Sample] = []
    for index, item in enumerate(_items(items, where, limits)):
        try:
            parsed.append(_sample(index, item, f"{where}[{index}]", limits))
        except ValidationFailed as error:
            batch.rejected.append(_rejection(index, error))
    found = _find(store, [p.ci for p in parsed])
    for sample in parsed:
        try:
            ci_id = sample.ci.resolve(found)
            if ci_id is None:  # a sample's reference is required: resolve raised already
                raise ValidationFailed(sample.ci.field, "unknown_ci", "no CI matches")
        except ValidationFailed as error:
            batch.rejected.append(_rejection(sample.index, error))
            continue
        batch.samples.append(
            MetricSample(ci_id, sample.metric, sample.value, sample.at, received_at)
        )
    batch.rejected.sort(key=lambda r: r.index)
    return batch


# -- onto the broker ---------------------------------------------------------------------------


def enqueue(actor_name: str, wires: list[dict[str, Any]]) -> None:
    """One message for the batch, straight onto the installed broker (no outbox: the edge writes
    nothing to the graph). Returns once the broker has it; raises BrokerUnavailable otherwise."""
    broker = dramatiq.get_broker()
    actor = broker.get_actor(actor_name)
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=(wires,),
        kwargs={},
        options={},
    )
    try:
        broker.enqueue(message)
    except Exception as exc:  # redis, pika and socket errors have no common base but Exception
        raise BrokerUnavailable(type(exc).__name__, _limits.retry_after_seconds) from exc


def accept_events(store: Store, items: Any) -> EventBatch:
    """Check the batch, then queue what was valid. Blocking: run it off the event loop."""
    batch = check_events(store, items)
    if batch.events:
        enqueue(INGEST_EVENTS, [e.to_wire() for e in batch.events])
    return batch


def accept_samples(store: Store, items: Any) -> SampleBatch:
    batch = check_samples(store, items)
    if batch.samples:
        enqueue(INGEST_METRICS, [s.to_wire() for s in batch.samples])
    return batch
