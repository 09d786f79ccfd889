"""Resolvers for Event Management: alerts (one, the list, acknowledge, resolve), maintenance
windows (the kernel's fields with the domain's check), the event policy, and the alertChanges
subscription. The rules are `domain.events`'."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry

from core.errors import ValidationFailed
from core.events import ALERT, MAINTENANCE_WINDOW, Severity
from core.ids import record_id
from core.service_level import TEAM
from core.states import InvalidTransition
from domain import records
from domain.events import alerts, feed, maintenance
from domain.events import policy as policies
from domain.incidents.events import Ordering
from resolvers.loaders import Loaders
from resolvers.payloads import refusals_in_payload
from resolvers.records import connection_field, create_field, record_field, update_field
from schema.common import MutationPayload
from schema.context import Context, Info
from schema.events import (
    AlertNode,
    EventPolicyNode,
    MaintenanceWindowNode,
)
from schema.events import (
    Severity as SeverityLevel,
)
from schema.records import stored


@strawberry.input(description="Which alert, and optionally the version you read.")
class AlertStepInput:
    id: strawberry.ID = strawberry.field(description="The alert (global or stored id).")
    version: int | None = strawberry.field(
        default=None, description="The version you read, to refuse a stale step as CONFLICT."
    )


@strawberry.type(description="The answer to acknowledgeAlert or resolveAlert.")
class AlertStepPayload(MutationPayload):
    alert: AlertNode | None = strawberry.field(default=None, description="The alert after it.")


@strawberry.input(description="The event policy to set; what is left out stays.")
class SetEventPolicyInput:
    correlation_window_seconds: int | None = strawberry.field(
        default=None, description="How long a new root waits before acting (0 to 86400)."
    )
    flap_changes: int | None = strawberry.field(
        default=None, description="State changes within the window that make an alert flap."
    )
    flap_window_seconds: int | None = strawberry.field(
        default=None, description="The flapping window (0 to 86400)."
    )
    flap_quiet_seconds: int | None = strawberry.field(
        default=None, description="How long a flapping alert must be quiet (0 to 86400)."
    )
    severity_actions: list[str] | None = strawberry.field(
        default=None, description='severity=action entries, e.g. "critical=both".'
    )
    fallback_team: strawberry.ID | None = strawberry.field(
        default=None, description="The team alerts notify when their CI has no owner team."
    )
    version: int | None = strawberry.field(
        default=None, description="The policy's version you read, to refuse a stale change."
    )


@strawberry.type(description="The answer to setEventPolicy.")
class SetEventPolicyPayload(MutationPayload):
    policy: EventPolicyNode | None = strawberry.field(
        default=None, description="The policy as it now stands."
    )


def _policy(info: Info) -> EventPolicyNode:
    ctx = info.context
    found = policies.stored_policy(ctx.store, ctx.actor)
    team = None
    if found.get("fallbackTeamId"):
        team = records.by_ids(ctx.store, ctx.actor, TEAM, [found["fallbackTeamId"]]).get(
            found["fallbackTeamId"]
        )
    from schema.service_level import TeamNode

    return EventPolicyNode(
        correlation_window_seconds=int(found["correlationWindowSeconds"]),
        flap_changes=int(found["flapChanges"]),
        flap_window_seconds=int(found["flapWindowSeconds"]),
        flap_quiet_seconds=int(found["flapQuietSeconds"]),
        severity_actions=list(found["severityActions"]),
        version=found.get("version"),
        is_default=found.get("id") is None,
        fallback_team=TeamNode.from_props(team) if team else None,
    )


@strawberry.type
class EventQuery:
    alert = record_field(ALERT, AlertNode)
    alerts = connection_field(
        ALERT,
        AlertNode,
        description="Alerts, filtered (state, severity, role, dedupKey, full text) and sorted "
        "(by number, first or last seen, creation).",
        default_order="createdAt",
    )
    maintenance_window = record_field(MAINTENANCE_WINDOW, MaintenanceWindowNode)
    maintenance_windows = connection_field(
        MAINTENANCE_WINDOW,
        MaintenanceWindowNode,
        description="Maintenance windows, sorted by start or end.",
        default_order="start",
    )

    @strawberry.field(
        description="How alerts are acted on: the correlation window, flapping, the action of "
        "each severity of a monitoring event, the fallback team."
    )
    async def event_policy(self, info: Info) -> EventPolicyNode:
        return await info.context.run(_policy, info)


async def _step(info: Info, input: AlertStepInput, step: Any) -> AlertStepPayload:
    ctx = info.context
    alert_id = record_id(str(input.id), ALERT.label, field="id")

    def work() -> dict[str, Any]:
        try:
            found: dict[str, Any] = step(ctx.store, ctx.actor, alert_id, version=input.version)
            return found
        # The state machine's refusal is the input's fault: a userError naming the alert.
        except InvalidTransition as refused:
            details = {k: v for k, v in refused.details.items() if k != "reason"}
            raise ValidationFailed("id", refused.reason, refused.message, **details) from refused

    return AlertStepPayload(alert=AlertNode.from_props(await ctx.run(work)))


@strawberry.type
class EventMutation:
    @strawberry.mutation(
        description="Acknowledge an alert: someone is on it, it notifies no more. A resolved "
        "alert cannot be acknowledged (INVALID_TRANSITION)."
    )
    @refusals_in_payload(AlertStepPayload)
    async def acknowledge_alert(
        self,
        info: Info,
        input: Annotated[AlertStepInput, strawberry.argument(description="The alert.")],
    ) -> AlertStepPayload:
        return await _step(info, input, alerts.acknowledge_alert)

    @strawberry.mutation(
        description="Resolve an alert by hand; the next trigger under its dedup key opens a new "
        "one. A resolved alert cannot be resolved again (INVALID_TRANSITION)."
    )
    @refusals_in_payload(AlertStepPayload)
    async def resolve_alert(
        self,
        info: Info,
        input: Annotated[AlertStepInput, strawberry.argument(description="The alert.")],
    ) -> AlertStepPayload:
        return await _step(info, input, alerts.resolve_alert)

    create_maintenance_window = create_field(
        MAINTENANCE_WINDOW,
        MaintenanceWindowNode,
        create=maintenance.create_window,
        description="Schedule a maintenance window on CIs: alerts on them, and on what depends "
        "on them, are recorded but act on nothing while it lasts. It must end after it starts.",
    )
    update_maintenance_window = update_field(
        MAINTENANCE_WINDOW,
        MaintenanceWindowNode,
        update=maintenance.update_window,
        description="Change a maintenance window; it must still end after it starts.",
    )

    @strawberry.mutation(
        description="Set the event policy. Needs the service level manager's role."
    )
    @refusals_in_payload(SetEventPolicyPayload)
    async def set_event_policy(
        self,
        info: Info,
        input: Annotated[SetEventPolicyInput, strawberry.argument(description="The policy.")],
    ) -> SetEventPolicyPayload:
        ctx = info.context
        values = {
            "correlationWindowSeconds": input.correlation_window_seconds,
            "flapChanges": input.flap_changes,
            "flapWindowSeconds": input.flap_window_seconds,
            "flapQuietSeconds": input.flap_quiet_seconds,
            "severityActions": input.severity_actions,
        }
        links = (
            {"fallbackTeam": [record_id(str(input.fallback_team), "Team", field="fallbackTeam")]}
            if input.fallback_team is not None
            else None
        )
        await ctx.run(
            lambda: policies.set_policy(
                ctx.store,
                ctx.actor,
                {k: v for k, v in values.items() if v is not None},
                links,
                version=input.version,
            )
        )
        return SetEventPolicyPayload(policy=await ctx.run(_policy, info))


# -- the subscription ---------------------------------------------------------------------------


@strawberry.enum(description="What happened to an alert.")
class AlertChangeKind(enum.Enum):
    CREATED = strawberry.enum_value("created", description="It was opened.")
    CHANGED = strawberry.enum_value(
        "changed", description="It changed: counted again, its state, its role or its actions."
    )


@strawberry.input(
    description="Which alerts to hear of. Each list given means any of its values; an alert "
    "must match every list given. Nothing given: every alert."
)
class AlertChangeFilter:
    cis: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Alerts about one of these CIs (global ids)."
    )
    severities: list[SeverityLevel] | None = strawberry.field(
        default=None, description="Alerts of one of these severities."
    )


@strawberry.type(description="One change to an alert, as a subscriber hears of it.")
class AlertChange:
    kind: AlertChangeKind = strawberry.field(description="Opened, or changed.")
    version: int = strawberry.field(description="The alert's version this change made.")
    at: datetime = strawberry.field(description="When the change was made.")
    alert: AlertNode = strawberry.field(
        description="The alert as it is when the change is delivered, read with your identity."
    )


def _filter(ctx: Context, given: AlertChangeFilter | None) -> feed.AlertFilter:
    cis = [record_id(str(i), "CI", field="filter.cis") for i in (given.cis or [])] if given else []
    severities = [Severity(stored(s)) for s in given.severities or []] if given else []
    return feed.alert_filter(ctx.store, ctx.actor, cis=cis, severities=severities)


@strawberry.type(description="Live updates of alerts.")
class AlertSubscription:
    @strawberry.subscription(
        description="Every alert opened or changed from now on that matches the filter, in the "
        "order of each alert's versions. An unknown CI is NOT_FOUND naming filter.cis."
    )
    async def alert_changes(
        self,
        info: Info,
        filter: Annotated[
            AlertChangeFilter | None,
            strawberry.argument(description="Which alerts; every one if not given."),
        ] = None,
    ) -> AsyncGenerator[AlertChange, None]:
        ctx = info.context
        if ctx.feed is None:
            raise RuntimeError("this API process serves no live updates")
        wanted = await ctx.run(_filter, ctx, filter)
        return _changes(ctx, wanted)


async def _changes(ctx: Context, wanted: feed.AlertFilter) -> AsyncGenerator[AlertChange, None]:
    assert ctx.feed is not None
    ordering = Ordering()
    with ctx.feed.subscribe(feed.TOPIC) as subscriber:
        async for announcement in subscriber:
            if not wanted.matches(announcement) or not ordering.is_news(announcement):
                continue
            if ctx.reidentify is not None:
                # A revoked token ends the subscription here (UNAUTHENTICATED).
                ctx.actor = await ctx.reidentify()
            alert_id = str(announcement["id"])
            found = (await ctx.run(records.by_ids, ctx.store, ctx.actor, ALERT, [alert_id])).get(
                alert_id
            )
            if found is None:
                continue
            # Each change is read afresh: what the loaders cached for the last one is stale.
            ctx.loaders = Loaders(ctx)
            yield AlertChange(
                kind=AlertChangeKind(announcement["kind"]),
                version=int(announcement["version"]),
                at=datetime.fromisoformat(announcement["at"]),
                alert=AlertNode.from_props(found),
            )
