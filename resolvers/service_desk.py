"""The Service Desk's queries and mutations: contacts logged, matched and decided; service
requests through the kernel's fields; incident queues; the desk's figures."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from core.ids import record_id
from core.incidents import INCIDENT, INTERACTION, REQUEST, IncidentState
from core.knowledge import KNOWLEDGE_ARTICLE
from domain.records import RecordSearch
from domain.service_desk import interactions as desk
from domain.service_desk import queues
from domain.service_desk import requests as _requests  # noqa: F401 (registers the reject guard)
from domain.service_desk.matching import Matches
from resolvers.payloads import refusals_in_payload
from resolvers.records import connection_field, create_field, record_field, transition_field
from schema.context import Info
from schema.knowledge import KnowledgeArticleNode
from schema.paging import (
    After,
    Before,
    Connection,
    First,
    Last,
    PageRequest,
    connection_of_rows,
    page_request,
    wants_total,
)
from schema.records import SortDirection, order_input, stored, values_enum
from schema.service_desk import (
    ArticleMatch,
    ChannelCount,
    ContactChannel,
    ContactOutcome,
    DeflectInteractionInput,
    DeflectInteractionPayload,
    IncidentMatch,
    InteractionIncidentPayload,
    InteractionMatches,
    InteractionNode,
    InteractionRequestPayload,
    LazyIncident,
    LinkInteractionInput,
    LogInteractionInput,
    LogInteractionPayload,
    OpenIncidentFromInteractionInput,
    OpenRequestFromInteractionInput,
    OutcomeCount,
    RequestNode,
    ServiceDeskStats,
    incident_node,
)

DEFAULT_QUEUE_PAGE = 50

IncidentStateValue = values_enum(IncidentState)
IncidentOrder = order_input(INCIDENT)

States = Annotated[
    list[IncidentStateValue] | None,  # type: ignore[valid-type]
    strawberry.argument(
        description="Only incidents in these states; the open ones when not given."
    ),
]
OrderBy = Annotated[
    IncidentOrder | None,  # type: ignore[valid-type]
    strawberry.argument(description="The sort order; by createdAt, ascending (oldest first)."),
]

# A queue's domain read: (store, actor, [its own argument,] states, search) -> rows, total.
QueueRead = Callable[..., tuple[list[tuple[dict[str, Any], Any]], int | None]]


def _states(states: list[Any] | None) -> list[str]:
    return queues.states_of([stored(s) for s in states] if states is not None else None)


def _search(info: Info, request: PageRequest, order_by: Any) -> RecordSearch:
    order = order_by or IncidentOrder()
    return RecordSearch(
        order=stored(order.field),
        descending=order.direction is SortDirection.DESC,
        after=request.after_key,
        before=request.before_key,
        backward=request.backward,
        limit=request.size + 1,
        count=wants_total(info),
    )


async def _queue(
    info: Info,
    read: QueueRead,
    args: tuple[Any, ...],
    states: list[Any] | None,
    order_by: Any,
    paging: tuple[int | None, str | None, int | None, str | None],
) -> Connection[LazyIncident]:
    ctx = info.context
    first, after, last, before = paging
    request = page_request(
        first=first, after=after, last=last, before=before, default=DEFAULT_QUEUE_PAGE, key_size=2
    )
    rows, total = await ctx.run(
        read, ctx.store, ctx.actor, *args, _states(states), _search(info, request, order_by)
    )
    loader = ctx.loaders.record(INCIDENT)

    def node(row: dict[str, Any]) -> Any:
        loader.prime(row["id"], row)
        return incident_node(row)

    return connection_of_rows(request, rows, total, node)


def _queue_field(
    read: QueueRead, description: str, target: tuple[str, str, str] | None = None
) -> StrawberryField:
    """A root field listing a queue: its own id argument when it has one (name, the label its
    id is of, description), then states, order and paging."""

    async def resolve(**given: Any) -> Connection[LazyIncident]:
        args: tuple[str, ...] = ()
        if target is not None:
            args = (_id(given[target[0]], target[1], target[0]),)
        paging = (given["first"], given["after"], given["last"], given["before"])
        return await _queue(given["info"], read, args, given["states"], given["order_by"], paging)

    # Strawberry takes a resolver's arguments from its signature: one resolver serves every
    # queue, with the queue's own argument named as the queue says.
    params = [inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=Info)]
    if target is not None:
        own = Annotated[strawberry.ID, strawberry.argument(description=target[2])]
        params.append(inspect.Parameter(target[0], inspect.Parameter.KEYWORD_ONLY, annotation=own))
    for name, annotation in (
        ("states", States),
        ("order_by", OrderBy),
        ("first", First),
        ("after", After),
        ("last", Last),
        ("before", Before),
    ):
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
            )
        )
    returns = Connection[LazyIncident]
    resolve.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    resolve.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    field: StrawberryField = strawberry.field(resolver=resolve, description=description)
    return field


_WHAT = strawberry.argument(description="What to do.")
_QUEUE = f"{DEFAULT_QUEUE_PAGE} to a page unless `first` or `last` says."


def _id(value: Any, label: str, field: str) -> str:
    return record_id(str(value), label, field=field)


def _matches(found: Matches) -> InteractionMatches:
    return InteractionMatches(
        incidents=[
            IncidentMatch(
                incident=incident_node(m.incident), reason=m.reason, score=m.score, hops=m.hops
            )
            for m in found.incidents
        ],
        articles=[
            ArticleMatch(
                article=KnowledgeArticleNode.from_props(m.article),
                reason=m.reason,
                highlight=m.highlight,
            )
            for m in found.articles
        ],
    )


def _given(input: Any, *names: str) -> dict[str, Any]:
    """The named input fields that are set, by stored name, enums as stored."""
    out = {}
    for name in names:
        value = getattr(input, name, None)
        if value is not None:
            out[to_camel_case(name)] = stored(value) if hasattr(value, "value") else value
    return out


@strawberry.type
class ServiceDeskQuery:
    interaction = record_field(INTERACTION, InteractionNode, InteractionNode.from_props)
    interactions = connection_field(
        INTERACTION,
        InteractionNode,
        InteractionNode.from_props,
        description="Contacts with the Service Desk, filtered and sorted.",
    )
    request = record_field(REQUEST, RequestNode, RequestNode.from_props)
    requests = connection_field(
        REQUEST,
        RequestNode,
        RequestNode.from_props,
        description="Service requests, filtered and sorted.",
    )

    my_incidents = _queue_field(
        queues.mine,
        "The incidents worked by the person the caller's API token speaks for. A token "
        "without a person is refused with NO_PERSON. " + _QUEUE,
    )
    team_incidents = _queue_field(
        queues.of_team,
        "The incidents assigned to a team. " + _QUEUE,
        ("team", "Team", "The Team's id."),
    )
    incidents_by_service = _queue_field(
        queues.on_service,
        "The incidents whose CI's failure reaches a Service (what they impact). " + _QUEUE,
        ("service", "CI", "The Service's id."),
    )
    incidents_on_ci = _queue_field(
        queues.on_ci, "The incidents on one CI. " + _QUEUE, ("ci", "CI", "The CI's id.")
    )
    open_incidents_below = _queue_field(
        queues.below,
        "The incidents on a Service or on anything it depends on: every CI whose failure "
        "would reach it, by the impact rules. " + _QUEUE,
        ("service", "CI", "The Service's id."),
    )

    @strawberry.field(
        description="Incidents whose response (while nobody has responded) or resolution falls "
        "due within the minutes, overdue ones included, the earliest due first. " + _QUEUE
    )
    async def incidents_breaching_soon(
        self,
        info: Info,
        within: Annotated[int, strawberry.argument(description="Minutes from now.")] = 60,
        team: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this team's incidents.")
        ] = None,
        states: States = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[LazyIncident]:
        ctx = info.context
        request = page_request(
            first=first,
            after=after,
            last=last,
            before=before,
            default=DEFAULT_QUEUE_PAGE,
            key_size=2,
        )
        search = queues.DueSearch(
            within_minutes=within,
            team_id=_id(team, "Team", "team") if team is not None else None,
            after=request.after_key,
            before=request.before_key,
            backward=request.backward,
            limit=request.size + 1,
            count=wants_total(info),
        )
        rows, total = await ctx.run(
            queues.falling_due, ctx.store, ctx.actor, _states(states), search
        )
        return connection_of_rows(request, rows, total, incident_node)

    @strawberry.field(
        description="What the Service Desk did with the contacts logged in a period: by outcome "
        "and channel, and how many a knowledge article solved."
    )
    async def service_desk_stats(
        self,
        info: Info,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="From this instant (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Up to this instant (exclusive).")
        ] = None,
    ) -> ServiceDeskStats:
        ctx = info.context
        found = await ctx.run(desk.stats, ctx.store, ctx.actor, from_, to)
        return ServiceDeskStats(
            total=found.total,
            by_outcome=[
                OutcomeCount(outcome=ContactOutcome(k), count=v)
                for k, v in sorted(found.by_outcome.items())
            ],
            by_channel=[
                ChannelCount(channel=ContactChannel(k), count=v)
                for k, v in sorted(found.by_channel.items())
            ],
            deflected=found.deflected,
            deflection_rate=found.deflection_rate,
        )


@strawberry.type
class ServiceDeskMutation:
    create_request = create_field(
        REQUEST,
        RequestNode,
        RequestNode.from_props,
        description="Ask for something; nothing is written when it is refused.",
    )
    transition_request = transition_field(
        REQUEST,
        RequestNode,
        RequestNode.from_props,
        description="Move a request on: start, fulfil, or reject (with notes saying why). "
        "Nothing is written when it is refused.",
    )

    @strawberry.mutation(
        description="Log a contact with the Service Desk and match it through the graph: open "
        "incidents on its CI or on any CI it needs, and published articles; with `apply: "
        "SUGGESTED` link it to the best open incident, else open what `open` says. One "
        "transaction: nothing is written when it is refused."
    )
    @refusals_in_payload(LogInteractionPayload)
    async def log_interaction(
        self, info: Info, input: Annotated[LogInteractionInput, _WHAT]
    ) -> LogInteractionPayload:
        ctx = info.context
        values = {"channel": stored(input.channel), "text": input.text}
        if input.caller_name is not None:
            values["callerName"] = input.caller_name
        logged = await ctx.run(
            functools.partial(
                desk.log_interaction,
                apply=desk.Apply(stored(input.apply)),
                opens=desk.Opens(stored(input.open)),
                record_values=_given(input, "title", "impact", "urgency"),
            ),
            ctx.store,
            ctx.actor,
            values,
            {"caller": input.caller, "ci": input.ci},
        )
        return LogInteractionPayload(
            interaction=InteractionNode.from_props(logged.interaction),
            matches=_matches(logged.matches),
            incident=incident_node(logged.incident) if logged.incident else None,
            request=RequestNode.from_props(logged.request) if logged.request else None,
        )

    @strawberry.mutation(
        description='Link a contact to an incident already open ("me too"); a contact is '
        "decided once."
    )
    @refusals_in_payload(InteractionIncidentPayload)
    async def link_interaction(
        self, info: Info, input: Annotated[LinkInteractionInput, _WHAT]
    ) -> InteractionIncidentPayload:
        ctx = info.context
        interaction_id = _id(input.id, INTERACTION.label, "id")
        incident_id = _id(input.incident, INCIDENT.label, "incident")
        contact = await ctx.run(
            desk.link_interaction, ctx.store, ctx.actor, interaction_id, incident_id
        )
        incident = await ctx.loaders.record(INCIDENT).load(incident_id)
        return InteractionIncidentPayload(
            interaction=InteractionNode.from_props(contact),
            incident=incident_node(incident) if incident else None,
        )

    @strawberry.mutation(
        description="Open an incident from a contact, in the same transaction that decides the "
        "contact: a refused incident writes neither."
    )
    @refusals_in_payload(InteractionIncidentPayload)
    async def open_incident_from_interaction(
        self, info: Info, input: Annotated[OpenIncidentFromInteractionInput, _WHAT]
    ) -> InteractionIncidentPayload:
        ctx = info.context
        contact, incident = await ctx.run(
            desk.open_incident_from,
            ctx.store,
            ctx.actor,
            _id(input.id, INTERACTION.label, "id"),
            _given(input, "title", "description", "impact", "urgency", "major"),
        )
        return InteractionIncidentPayload(
            interaction=InteractionNode.from_props(contact), incident=incident_node(incident)
        )

    @strawberry.mutation(
        description="Open a service request from a contact, in the same transaction that "
        "decides the contact."
    )
    @refusals_in_payload(InteractionRequestPayload)
    async def open_request_from_interaction(
        self, info: Info, input: Annotated[OpenRequestFromInteractionInput, _WHAT]
    ) -> InteractionRequestPayload:
        ctx = info.context
        contact, request = await ctx.run(
            desk.open_request_from,
            ctx.store,
            ctx.actor,
            _id(input.id, INTERACTION.label, "id"),
            _given(input, "title", "description"),
        )
        return InteractionRequestPayload(
            interaction=InteractionNode.from_props(contact),
            request=RequestNode.from_props(request),
        )

    @strawberry.mutation(
        description="A published knowledge article answered the contact: it is solved without "
        "a record (a deflection)."
    )
    @refusals_in_payload(DeflectInteractionPayload)
    async def deflect_interaction(
        self, info: Info, input: Annotated[DeflectInteractionInput, _WHAT]
    ) -> DeflectInteractionPayload:
        ctx = info.context
        contact = await ctx.run(
            desk.deflect,
            ctx.store,
            ctx.actor,
            _id(input.id, INTERACTION.label, "id"),
            _id(input.article, KNOWLEDGE_ARTICLE.label, "article"),
        )
        return DeflectInteractionPayload(interaction=InteractionNode.from_props(contact))
