"""GraphQL types for events and metric samples coming in: the inputs of `sendEvents` and
`recordMetrics` and what they answer, item by item."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from core.events import EventAction, Severity
from schema.common import MutationPayload
from schema.records import values_enum

EventActionEnum = values_enum(EventAction)
SeverityEnum = values_enum(Severity)

_CI_KEYS = (
    "Or the CI by its identification keys, as the CMDB's reconciliation identifies CIs: "
    '{"ciClass": "Server", "fqdn": "db1.example.com"}.'
)


@strawberry.input(
    description="One event, as PagerDuty's Events API v2 has it. A trigger needs a CI: `ciId` or "
    "`ci`, else `source` as a CI id or as a name only one CI bears."
)
class EventInput:
    event_action: EventActionEnum = strawberry.field(  # type: ignore[valid-type]
        description="What the event asks of the alert under its dedup key."
    )
    dedup_key: str | None = strawberry.field(
        default=None,
        description="The alert's key; a trigger without one gets a new key, answered in "
        "`dedupKeys`. Acknowledge and resolve need it.",
    )
    summary: str | None = strawberry.field(
        default=None, description="What happened, at most 1024 characters; required to trigger."
    )
    source: str | None = strawberry.field(
        default=None, description="Where it happened (a host, a CI's name); required to trigger."
    )
    severity: SeverityEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="How bad it is; required to trigger."
    )
    timestamp: datetime | None = strawberry.field(
        default=None,
        description="When it happened, with a zone; the time it was received when left out. "
        "Alerts order events by it, not by their arrival.",
    )
    component: str | None = strawberry.field(
        default=None, description="The part of the source at fault, kept in the details."
    )
    group: str | None = strawberry.field(
        default=None, description="A grouping of sources, kept in the details."
    )
    class_: str | None = strawberry.field(
        default=None, name="class", description="The kind of event, kept in the details."
    )
    custom_details: JSON | None = strawberry.field(
        default=None, description="Anything else the sender wants kept with the event."
    )
    ci_id: strawberry.ID | None = strawberry.field(default=None, description="The CI's id.")
    ci: JSON | None = strawberry.field(default=None, description=_CI_KEYS)


@strawberry.input(description="A batch of events, at most ITSM_INGEST_MAX_ITEMS (1000).")
class SendEventsInput:
    events: list[EventInput] = strawberry.field(
        description="The events, in the order they happened."
    )


@strawberry.input(description="One measured value of one metric of one CI.")
class MetricSampleInput:
    ci_id: strawberry.ID | None = strawberry.field(default=None, description="The CI's id.")
    ci: JSON | None = strawberry.field(default=None, description=_CI_KEYS)
    metric: str = strawberry.field(description="What was measured, e.g. cpu.utilisation.")
    value: float = strawberry.field(description="The value measured.")
    time: datetime = strawberry.field(
        description="When it was measured, with a zone: thresholds evaluate by it."
    )


@strawberry.input(description="A batch of samples, at most ITSM_INGEST_MAX_ITEMS (1000).")
class RecordMetricsInput:
    samples: list[MetricSampleInput] = strawberry.field(description="The samples.")


@strawberry.type(description="An item of a batch that was not accepted, and why.")
class RejectedItem:
    index: int = strawberry.field(description="The item's position in the batch, from 0.")
    field: str = strawberry.field(description="The field at fault, e.g. events[3].severity.")
    code: str = strawberry.field(description="The rule it broke, e.g. UNKNOWN_CI.")
    message: str = strawberry.field(description="What is wrong, for a person to read.")


@strawberry.type(
    description="What sendEvents accepted: queued for processing, not yet applied to alerts."
)
class SendEventsPayload(MutationPayload):
    accepted: int = strawberry.field(default=0, description="How many events were queued.")
    dedup_keys: list[str] = strawberry.field(
        default_factory=list,
        description="The dedup key of each accepted event, in the order sent (given ones kept).",
    )
    rejected: list[RejectedItem] = strawberry.field(
        default_factory=list, description="The events not accepted, with the reason."
    )


@strawberry.type(description="What recordMetrics accepted: queued for threshold evaluation.")
class RecordMetricsPayload(MutationPayload):
    accepted: int = strawberry.field(default=0, description="How many samples were queued.")
    rejected: list[RejectedItem] = strawberry.field(
        default_factory=list, description="The samples not accepted, with the reason."
    )
