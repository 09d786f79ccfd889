"""The incident's SLA clocks and what they fired, in GraphQL.

The clocks are computed when they are read, at the time of the request, from the incident's
history and its governing terms: one read per page of incidents (a per-request loader), whatever
the number of incidents and clock fields asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from core import agreement_terms as declared_terms
from core import incident_clock as declared
from core.ids import record_id, to_global_id
from domain.incidents import clock as clocks
from schema.context import Context, Info
from schema.records import values_enum

if TYPE_CHECKING:
    from core.agreement_terms import EscalationClock
    from core.incident_clock import ClockState, SlaEventKind
else:
    ClockState = values_enum(declared.ClockState)
    EscalationClock = values_enum(declared_terms.EscalationClock)
    SlaEventKind = values_enum(declared.SlaEventKind)


@strawberry.type(description="A warning percentage of a clock's target and when it is reached.")
class SlaWarning:
    percent: int = strawberry.field(description="The percentage of the target.")
    at: datetime | None = strawberry.field(
        description="When the clock reached it, or will if it runs on as now; null while the "
        "clock is paused or stopped short of it."
    )
    reached: bool = strawberry.field(description="Whether the clock has reached it.")


@strawberry.type(
    description="One of an incident's SLA clocks (response or resolution) at the time of the "
    "request, in business time on the governing terms' calendar."
)
class SlaClock:
    clock: EscalationClock = strawberry.field(description="Which clock this is.")
    state: ClockState = strawberry.field(description="Whether it counts time now.")
    target_minutes: int | None = strawberry.field(
        description="The target at the incident's current priority, in business minutes; null "
        "when the terms set none at that priority."
    )
    elapsed_seconds: int = strawberry.field(
        description="Business time the clock has run, in seconds."
    )
    paused_seconds: int = strawberry.field(
        description="Business time it stood paused while the incident waited for the caller."
    )
    remaining_seconds: int | None = strawberry.field(
        description="Business time left to the target, in seconds; negative once breached, "
        "null without a target."
    )
    started_at: datetime | None = strawberry.field(description="When the clock started.")
    stopped_at: datetime | None = strawberry.field(
        description="When it stopped, while it is stopped."
    )
    due_at: datetime | None = strawberry.field(
        description="When the target falls due, while the clock runs (in the past once breached)."
    )
    breached: bool = strawberry.field(description="Whether it reached its target.")
    breached_at: datetime | None = strawberry.field(
        description="When it reached its target, once breached."
    )
    warnings: list[SlaWarning] = strawberry.field(
        description="The terms' warning percentages, in order, with when each is reached."
    )

    @classmethod
    def of(cls, found: clocks.Clock) -> SlaClock:
        now = found.now

        def seconds(amount: Any) -> int:
            return int(amount.total_seconds())

        return cls(
            clock=EscalationClock(found.clock.value),
            state=ClockState(found.state.value),
            target_minutes=seconds(found.target) // 60 if found.target is not None else None,
            elapsed_seconds=seconds(found.elapsed),
            paused_seconds=seconds(found.paused),
            remaining_seconds=seconds(found.remaining) if found.remaining is not None else None,
            started_at=found.started_at,
            stopped_at=found.stopped_at,
            due_at=found.due_at,
            breached=found.breached,
            breached_at=found.breach_at if found.breached else None,
            warnings=[
                SlaWarning(
                    percent=w.percent,
                    at=w.at,
                    reached=w.at is not None and now is not None and w.at <= now,
                )
                for w in found.warnings
            ],
        )


@strawberry.type(description="A warning, breach or escalation level an SLA clock fired, once.")
class SlaEvent:
    key: str = strawberry.field(
        description="Which firing this is: incident, clock, what and which (a warning's "
        "percentage, an escalation level and its repetition)."
    )
    clock: EscalationClock = strawberry.field(description="The clock that fired.")
    kind: SlaEventKind = strawberry.field(description="What it did.")
    percent: int | None = strawberry.field(description="A warning's percentage of the target.")
    level: int | None = strawberry.field(description="The escalation level that fired.")
    repetition: int | None = strawberry.field(
        description="Which firing of a repeating level: 0 the first, 1 the next …"
    )
    due_at: datetime = strawberry.field(description="When it fell due by the clock.")
    fired_at: datetime = strawberry.field(description="When a worker recorded and acted on it.")
    fired_via: str | None = strawberry.field(
        description="What woke the worker: `message` (the timer's delayed message) or `sweep` "
        "(the scheduler's periodic sweep, when the message was lost or late)."
    )
    fired_by: str | None = strawberry.field(description="The process that fired it (host:pid).")
    priority: str | None = strawberry.field(description="The incident's priority then.")
    recipients: list[strawberry.ID] = strawberry.field(
        description="The People and Teams it notified (their ids), in the order asked."
    )
    notified: int = strawberry.field(
        description="How many deliveries the notifications it asked for queued."
    )
    reassigned_to: strawberry.ID | None = strawberry.field(
        description="The id of the Team an escalation handed the incident to."
    )

    @classmethod
    def of(cls, props: dict[str, Any]) -> SlaEvent:
        def native(value: Any) -> Any:
            return value.to_native() if hasattr(value, "to_native") else value

        return cls(
            key=props["id"],
            clock=EscalationClock(props["clock"]),
            kind=SlaEventKind(props["kind"]),
            percent=props.get("percent"),
            level=props.get("level"),
            repetition=props.get("repetition"),
            due_at=native(props["dueAt"]),
            fired_at=native(props["firedAt"]),
            fired_via=props.get("firedVia"),
            fired_by=props.get("firedBy"),
            priority=props.get("priority"),
            recipients=[
                strawberry.ID(to_global_id(*r.split(":", 1))) for r in props.get("recipients") or []
            ],
            notified=int(props.get("notified") or 0),
            reassigned_to=strawberry.ID(to_global_id("Team", props["reassignedTo"]))
            if props.get("reassignedTo")
            else None,
        )


async def _load_clocks(ctx: Context, ids: Sequence[str]) -> list[clocks.Clocks | None]:
    found = await ctx.run(clocks.clocks_for, ctx.store, ctx.actor, list(ids))
    return [found.get(i) for i in ids]


async def _load_events(ctx: Context, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
    found = await ctx.run(clocks.events_for, ctx.store, ctx.actor, list(ids))
    return [found.get(i, []) for i in ids]


async def _clock(
    info: Info, global_id: str, which: declared_terms.EscalationClock
) -> SlaClock | None:
    loader = info.context.loaders.keyed("incident.clocks", _load_clocks)
    found: clocks.Clocks | None = await loader.load(record_id(global_id, "Incident"))
    return SlaClock.of(found.of(which)) if found is not None else None


@strawberry.type
class IncidentClockFields:
    """Fields of the Incident type that this module serves."""

    if TYPE_CHECKING:
        id: strawberry.ID  # the Incident type's own (global) id

    @strawberry.field(
        description="The response clock: from opening until work first starts, at the time of "
        "the request."
    )
    async def response_clock(self, info: Info) -> SlaClock | None:
        return await _clock(info, self.id, declared_terms.EscalationClock.RESPONSE)

    @strawberry.field(
        description="The resolution clock: from opening until resolved (running again after a "
        "reopen), at the time of the request."
    )
    async def resolution_clock(self, info: Info) -> SlaClock | None:
        return await _clock(info, self.id, declared_terms.EscalationClock.RESOLUTION)

    @strawberry.field(
        description="The warnings, breaches and escalation levels its clocks fired, oldest first."
    )
    async def sla_events(self, info: Info) -> list[SlaEvent]:
        loader = info.context.loaders.keyed("incident.sla_events", _load_events)
        rows: list[dict[str, Any]] = await loader.load(record_id(self.id, "Incident"))
        return [SlaEvent.of(r) for r in rows]
