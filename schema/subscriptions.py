"""Live updates over GraphQL subscriptions (graphql-transport-ws on /graphql).

`incidentChanges(filter:)` tells a subscriber of every incident opened or changed from the moment
it subscribed, in every API process and worker (`domain.incidents.events`, `graphdb.feed`). The
incident is read when the change is delivered, with the subscriber's identity and the same read
path as queries: what it may not read, it is not told of.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.priority import Priority
from domain.incidents import events
from resolvers.loaders import Loaders
from schema.context import Context, Info
from schema.records import NODE_TYPES, stored, values_enum

if TYPE_CHECKING:
    from schema.incidents import IncidentNode

PriorityLevel = values_enum(Priority)


@strawberry.enum(description="What happened to an incident.")
class IncidentChangeKind(enum.Enum):
    CREATED = strawberry.enum_value(events.Change.CREATED.value, description="It was opened.")
    CHANGED = strawberry.enum_value(
        events.Change.CHANGED.value,
        description="It changed: a field, a link, its state, its clocks or its team.",
    )


@strawberry.input(
    description="Which incidents to hear of. Each list given means any of its values; an "
    "incident must match every list given. Nothing given: every incident you may read."
)
class IncidentChangeFilter:
    teams: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Incidents assigned to one of these teams (global ids)."
    )
    services: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Incidents that impact one of these Services (global ids)."
    )
    priorities: list[PriorityLevel] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Incidents at one of these priorities."
    )


@strawberry.type(description="One change to an incident, as a subscriber hears of it.")
class IncidentChange:
    kind: IncidentChangeKind = strawberry.field(description="Opened, or changed.")
    version: int = strawberry.field(
        description="The incident's version this change made. A subscriber never hears of a "
        "version after a later one of the same incident."
    )
    at: datetime = strawberry.field(description="When the change was made.")
    incident: Annotated[IncidentNode, strawberry.lazy("schema.incidents")] = strawberry.field(
        description="The incident as it is when the change is delivered (so it may already "
        "show later changes, whose own events follow), read with your identity."
    )


@strawberry.type(description="Live updates: each subscription tells of changes as they happen.")
class IncidentSubscription:
    @strawberry.subscription(
        description="Every incident opened or changed from now on that matches the filter and "
        "that you may read, in the order of each incident's versions. Over graphql-transport-ws "
        "on /graphql, with the API token in the connection_init payload. An unknown team or "
        "Service is NOT_FOUND naming filter.teams or filter.services."
    )
    async def incident_changes(
        self,
        info: Info,
        filter: Annotated[
            IncidentChangeFilter | None,
            strawberry.argument(
                description="Which incidents; every one you may read if not given."
            ),
        ] = None,
    ) -> AsyncGenerator[IncidentChange, None]:
        ctx = info.context
        if ctx.feed is None:
            raise RuntimeError("this API process serves no live updates")
        # Checked before the subscription starts, so a refusal is the operation's error message.
        wanted = await ctx.run(
            lambda: events.feed_filter(
                ctx.store,
                ctx.actor,
                teams=_stored_ids(filter.teams if filter else None, "Team", "teams"),
                services=_stored_ids(filter.services if filter else None, "CI", "services"),
                priorities=[Priority(stored(p)) for p in (filter.priorities or [])]
                if filter
                else None,
            )
        )
        return _changes(ctx, wanted)


def _stored_ids(ids: list[strawberry.ID] | None, label: str, field: str) -> list[str] | None:
    if ids is None:
        return None
    return [record_id(str(i), label, field=f"filter.{field}") for i in ids]


async def _changes(ctx: Context, wanted: events.FeedFilter) -> AsyncGenerator[IncidentChange, None]:
    assert ctx.feed is not None
    ordering = events.Ordering()
    served = NODE_TYPES[INCIDENT.label]
    with ctx.feed.subscribe(events.TOPIC) as subscriber:
        async for announcement in subscriber:
            if not wanted.matches(announcement) or not ordering.is_news(announcement):
                continue
            if ctx.reidentify is not None:
                # A revoked token ends the subscription here (UNAUTHENTICATED).
                ctx.actor = await ctx.reidentify()
            props = await _readable(ctx, str(announcement["id"]))
            if props is None:
                continue
            # Each change is read afresh: what the loaders cached for the last one is stale.
            ctx.loaders = Loaders(ctx)
            yield IncidentChange(
                kind=IncidentChangeKind(announcement["kind"]),
                version=int(announcement["version"]),
                at=datetime.fromisoformat(announcement["at"]),
                incident=served.from_props(props),
            )


async def _readable(ctx: Context, incident_id: str) -> dict[str, Any] | None:
    assert ctx.feed is not None
    scope = events.read_scope(ctx.actor)
    # The same read path as queries (the actor's read rule), shared by this process's
    # subscribers that read incidents alike.
    found: dict[str, Any] | None = await ctx.feed.shared(
        ("incident", incident_id, repr(scope)),
        lambda: ctx.run(events.incident_as_seen, ctx.store, scope, incident_id),
    )
    return found
