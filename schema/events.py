"""Event Management in GraphQL: alerts with the graph around them (their CI, root cause,
symptoms, incident, events and notifications), events, maintenance windows and the event policy.

`CI.alerts`, `CI.inMaintenance` and `Incident.alerts` are served by `schema.alert_fields`, which
the CI and Incident types take in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from core import events as declared
from core.events import ALERT, EVENT, EVENT_POLICY, MAINTENANCE_WINDOW
from core.ids import record_id
from core.record_types import CI
from core.records import Direction, RecordType
from domain.notifications import notifications_of
from schema.cmdb import ConfigurationItem
from schema.common import Node
from schema.context import Context, Info
from schema.notifications import NotificationNode
from schema.records import described, state_enum, values_enum
from schema.service_level import TeamNode, _linked, _nodes, _Served

if TYPE_CHECKING:
    from core.events import AlertRole, EventAction, EventOrigin, Severity, ThresholdAction
    from schema.incidents import IncidentNode
    from schema.thresholds import ThresholdNode
else:
    Severity = values_enum(declared.Severity)
    EventAction = values_enum(declared.EventAction)
    EventOrigin = values_enum(declared.EventOrigin)
    AlertRole = values_enum(declared.AlertRole)
    ThresholdAction = values_enum(declared.ThresholdAction)

AlertStateEnum = state_enum(ALERT)
MAX_EVENTS = 500


@strawberry.type(name="Event", description=EVENT.description)
class EventNode(Node, _Served):
    record: ClassVar[RecordType] = EVENT
    action: EventAction = described(EVENT, "action")
    dedup_key: str = described(EVENT, "dedupKey")
    severity: Severity | None = described(EVENT, "severity")
    summary: str | None = described(EVENT, "summary")
    source: str | None = described(EVENT, "source")
    at: datetime | None = described(EVENT, "at")
    received_at: datetime | None = described(EVENT, "receivedAt")
    custom_details: str | None = described(EVENT, "customDetails")
    origin: EventOrigin | None = described(EVENT, "origin")
    metric: str | None = described(EVENT, "metric")
    value: float | None = described(EVENT, "value")


async def _load_alert_notifications(ctx: Context, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
    found = await ctx.run(notifications_of, ctx.store, ctx.actor, ALERT.label, ids)
    return [found[i] for i in ids]


@strawberry.type(name="Alert", description=ALERT.description)
class AlertNode(Node, _Served):
    record: ClassVar[RecordType] = ALERT
    number: str = described(ALERT, "number")
    dedup_key: str = described(ALERT, "dedupKey")
    summary: str | None = described(ALERT, "summary")
    source: str | None = described(ALERT, "source")
    severity: Severity | None = described(ALERT, "severity")
    state: AlertStateEnum = described(ALERT, "state")  # type: ignore[valid-type]
    origin: EventOrigin | None = described(ALERT, "origin")
    role: AlertRole | None = described(ALERT, "role")
    count: int | None = described(ALERT, "count")
    first_seen_at: datetime | None = described(ALERT, "firstSeenAt")
    last_seen_at: datetime | None = described(ALERT, "lastSeenAt")
    acknowledged_at: datetime | None = described(ALERT, "acknowledgedAt")
    resolved_at: datetime | None = described(ALERT, "resolvedAt")
    custom_details: str | None = described(ALERT, "customDetails")
    metric: str | None = described(ALERT, "metric")
    value: float | None = described(ALERT, "value")
    suppressed: bool | None = described(ALERT, "suppressed")
    suppression_reason: str | None = described(ALERT, "suppressionReason")
    correlation_reason: str | None = described(ALERT, "correlationReason")
    action: ThresholdAction | None = described(ALERT, "action")
    action_reason: str | None = described(ALERT, "actionReason")
    actions_due_at: datetime | None = described(ALERT, "actionsDueAt")
    acted_at: datetime | None = described(ALERT, "actedAt")
    flap_count: int | None = described(ALERT, "flapCount")
    flapping_since: datetime | None = described(ALERT, "flappingSince")
    last_action: EventAction | None = described(ALERT, "lastAction")
    last_change_at: datetime | None = described(ALERT, "lastChangeAt")
    version: int = described(ALERT, "version")
    created_at: datetime | None = described(ALERT, "createdAt")
    updated_at: datetime | None = described(ALERT, "updatedAt")

    @strawberry.field(description="The CI it is about.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        rows = await _linked(info, ALERT, self, "ABOUT", Direction.OUT, CI.label)
        return ConfigurationItem.from_props(rows[0]) if rows else None

    @strawberry.field(description="For a symptom: the root alert upstream that explains it.")
    async def root_cause(self, info: Info) -> AlertNode | None:
        found = await _nodes(info, self, "SYMPTOM_OF", Direction.OUT, AlertNode)
        return found[0] if found else None

    @strawberry.field(description="For a root: the alerts it explains downstream.")
    async def symptoms(self, info: Info) -> list[AlertNode]:
        found = await _nodes(info, self, "SYMPTOM_OF", Direction.IN, AlertNode)
        return sorted(found, key=lambda a: a.number)

    @strawberry.field(description="The incident it opened or joined.")
    async def incident(
        self, info: Info
    ) -> Annotated[IncidentNode, strawberry.lazy("schema.incidents")] | None:
        from schema.incidents import IncidentNode

        found = await _nodes(info, self, "RAISED", Direction.OUT, IncidentNode)
        return found[0] if found else None

    @strawberry.field(description="The events it was fed, newest first (by their own time).")
    async def events(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description=f"How many, at most {MAX_EVENTS}.")
        ] = 20,
    ) -> list[EventNode]:
        found = await _nodes(info, self, "FEEDS", Direction.IN, EventNode)
        found.sort(key=lambda e: (e.at is not None, e.at), reverse=True)
        return found[: max(0, min(first, MAX_EVENTS))]

    @strawberry.field(description="For a threshold's alert: the threshold that raised it.")
    async def threshold(
        self, info: Info
    ) -> Annotated[ThresholdNode, strawberry.lazy("schema.thresholds")] | None:
        from schema.thresholds import ThresholdNode

        found = await _nodes(info, self, "FROM_THRESHOLD", Direction.OUT, ThresholdNode)
        return found[0] if found else None

    @strawberry.field(
        description="What was sent about it, oldest first: one entry per address and channel, "
        "with every try; for those who work records, since it shows people's addresses."
    )
    async def notifications(self, info: Info) -> list[NotificationNode]:
        loader = info.context.loaders.keyed("notifications.alert", _load_alert_notifications)
        rows = await loader.load(record_id(str(self.id), ALERT.label))
        return [NotificationNode.from_props(r) for r in rows]


@strawberry.type(name="MaintenanceWindow", description=MAINTENANCE_WINDOW.description)
class MaintenanceWindowNode(Node, _Served):
    record: ClassVar[RecordType] = MAINTENANCE_WINDOW
    number: str = described(MAINTENANCE_WINDOW, "number")
    title: str = described(MAINTENANCE_WINDOW, "title")
    start: datetime = described(MAINTENANCE_WINDOW, "start")
    end: datetime = described(MAINTENANCE_WINDOW, "end")
    reason: str | None = described(MAINTENANCE_WINDOW, "reason")
    version: int = described(MAINTENANCE_WINDOW, "version")

    @strawberry.field(description="The CIs worked on.")
    async def cis(self, info: Info) -> list[ConfigurationItem]:
        rows = await _linked(
            info, MAINTENANCE_WINDOW, self, "SCHEDULED_FOR", Direction.OUT, CI.label
        )
        return [ConfigurationItem.from_props(r) for r in rows]


@strawberry.type(name="EventPolicy", description=EVENT_POLICY.description)
class EventPolicyNode:
    correlation_window_seconds: int = described(EVENT_POLICY, "correlationWindowSeconds")
    flap_changes: int = described(EVENT_POLICY, "flapChanges")
    flap_window_seconds: int = described(EVENT_POLICY, "flapWindowSeconds")
    flap_quiet_seconds: int = described(EVENT_POLICY, "flapQuietSeconds")
    severity_actions: list[str] = described(EVENT_POLICY, "severityActions")
    version: int | None = strawberry.field(
        default=None, description="The policy's version; null while the defaults apply."
    )
    is_default: bool = strawberry.field(
        default=True, description="True until a manager sets a policy: the defaults apply."
    )
    fallback_team: TeamNode | None = strawberry.field(
        default=None, description=EVENT_POLICY.link_fields[0].description
    )


__all__ = ["AlertNode", "EventNode", "EventPolicyNode", "MaintenanceWindowNode", "Severity"]
