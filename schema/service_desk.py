"""The Service Desk in GraphQL: interactions and what they matched, service requests, the
Incident type's fields for who reported it and what it affects, and the desk's figures.

Every list field of a node reads through a per-request loader, so a page of incidents asking
for their interactions and affected scope costs one round trip per field, not one per incident.
"""

# Without postponed annotations: the node types are annotated with enums made at run time from
# the declarations (`schema.records`), which Strawberry must see as objects.

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from core.ids import record_id, to_global_id
from core.incidents import INCIDENT, INTERACTION, REQUEST, Channel, InteractionOutcome, Level
from core.knowledge import KNOWLEDGE_ARTICLE
from core.records import Direction, RecordType
from core.service_level import PERSON, TEAM
from domain.service_desk import scope
from schema.cmdb import AgreementRef, ConfigurationItem
from schema.common import MutationPayload, Node
from schema.context import Context, Info
from schema.knowledge import KnowledgeArticleNode
from schema.records import NODE_TYPES, described, node_values, state_enum, values_enum
from schema.service_level import PersonNode, TeamNode

if TYPE_CHECKING:
    from schema.incidents import IncidentNode

ContactChannel = values_enum(Channel)
ContactOutcome = values_enum(InteractionOutcome)
ImpactLevel = values_enum(Level)
RequestState = state_enum(REQUEST)

LazyIncident = Annotated["IncidentNode", strawberry.lazy("schema.incidents")]


def incident_node(props: dict[str, Any]) -> Any:
    """An incident as the Incident type shows it, however that type builds itself."""
    return NODE_TYPES[INCIDENT.label].from_props(props)


def _stored(node: Any, record: RecordType) -> str:
    return record_id(str(node.id), record.label)


async def _linked(
    info: Info, record: RecordType, node: Any, rel_type: str, direction: Direction, other: str
) -> list[dict[str, Any]]:
    loader = info.context.loaders.linked(record, rel_type, direction, other)
    found: list[dict[str, Any]] = await loader.load(_stored(node, record))
    return found


async def _one_ci(info: Info, record: RecordType, node: Any, rel_type: str) -> Any:
    rows = await _linked(info, record, node, rel_type, Direction.OUT, "CI")
    for row in rows:
        info.context.loaders.ci.prime(row["id"], row)
    return ConfigurationItem.from_props(rows[0]) if rows else None


async def _caller(info: Info, record: RecordType, node: Any) -> PersonNode | None:
    rows = await _linked(info, record, node, "REPORTED_BY", Direction.OUT, PERSON.label)
    return PersonNode.from_props(rows[0]) if rows else None


@strawberry.type(name="Interaction", description=INTERACTION.description)
class InteractionNode(Node):
    number: str = described(INTERACTION, "number")
    channel: ContactChannel = described(INTERACTION, "channel")  # type: ignore[valid-type]
    text: str = described(INTERACTION, "text")
    caller_name: str | None = described(INTERACTION, "callerName")
    outcome: ContactOutcome | None = described(INTERACTION, "outcome")  # type: ignore[valid-type]
    version: int = described(INTERACTION, "version")
    created_at: datetime | None = described(INTERACTION, "createdAt")
    updated_at: datetime | None = described(INTERACTION, "updatedAt")

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> "InteractionNode":
        return node_values(INTERACTION, cls, props)

    @strawberry.field(description="Who called, when they are a known person.")
    async def caller(self, info: Info) -> PersonNode | None:
        return await _caller(info, INTERACTION, self)

    @strawberry.field(description="The CI or Service the contact is about.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        found: ConfigurationItem | None = await _one_ci(info, INTERACTION, self, "CONCERNS_CI")
        return found

    @strawberry.field(description="The incident it opened or was linked to; null when none.")
    async def incident(self, info: Info) -> LazyIncident | None:
        rows = await _linked(info, INTERACTION, self, "RESULTED_IN", Direction.OUT, "Incident")
        return incident_node(rows[0]) if rows else None

    @strawberry.field(description="The service request it opened; null when none.")
    async def request(self, info: Info) -> "RequestNode | None":
        rows = await _linked(info, INTERACTION, self, "RESULTED_IN", Direction.OUT, "Request")
        return RequestNode.from_props(rows[0]) if rows else None

    @strawberry.field(description="The knowledge article that answered it (a deflection).")
    async def solved_by(self, info: Info) -> KnowledgeArticleNode | None:
        rows = await _linked(
            info, INTERACTION, self, "SOLVED_BY", Direction.OUT, KNOWLEDGE_ARTICLE.label
        )
        return KnowledgeArticleNode.from_props(rows[0]) if rows else None


@strawberry.type(name="Request", description=REQUEST.description)
class RequestNode(Node):
    number: str = described(REQUEST, "number")
    title: str = described(REQUEST, "title")
    description: str | None = described(REQUEST, "description")
    caller_name: str | None = described(REQUEST, "callerName")
    notes: str | None = described(REQUEST, "notes")
    state: RequestState = described(REQUEST, "state")  # type: ignore[valid-type]
    version: int = described(REQUEST, "version")
    created_at: datetime | None = described(REQUEST, "createdAt")
    updated_at: datetime | None = described(REQUEST, "updatedAt")
    state_changed_at: datetime | None = described(REQUEST, "stateChangedAt")

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> "RequestNode":
        return node_values(REQUEST, cls, props)

    @strawberry.field(description="The CI or Service the request is about.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        found: ConfigurationItem | None = await _one_ci(info, REQUEST, self, "CONCERNS_CI")
        return found

    @strawberry.field(description="Who fulfils it.")
    async def team(self, info: Info) -> TeamNode | None:
        rows = await _linked(info, REQUEST, self, "ASSIGNED_TO", Direction.OUT, TEAM.label)
        return TeamNode.from_props(rows[0]) if rows else None

    @strawberry.field(description="Who asked, when they are a known person.")
    async def caller(self, info: Info) -> PersonNode | None:
        return await _caller(info, REQUEST, self)

    @strawberry.field(description="The contacts that opened it.")
    async def interactions(self, info: Info) -> list[InteractionNode]:
        rows = await _linked(info, REQUEST, self, "RESULTED_IN", Direction.IN, INTERACTION.label)
        return [InteractionNode.from_props(r) for r in rows]


# -- what an incident affects ---------------------------------------------------------------------


@strawberry.type(description="A Service an incident's CI takes down, and how far away it is.")
class AffectedService:
    service: ConfigurationItem = strawberry.field(description="The Service.")
    depth: int = strawberry.field(
        description="Relationships between the incident's CI and the Service (0: the incident "
        "is on the Service itself)."
    )


@strawberry.type(
    description="What an incident affects, by the CMDB's impact rules from its CI: the Services "
    "its failure takes down, the active SLAs covering them and the Customers they are agreed with."
)
class IncidentScope:
    services: list[AffectedService] = strawberry.field(
        description="The affected Services, nearest first, then by name."
    )
    slas: list[AgreementRef] = strawberry.field(
        description="The active SLAs covering them, by name."
    )
    customers: list[AgreementRef] = strawberry.field(
        description="The Customers those SLAs are agreed with, by name."
    )


def _ref(label: str, props: dict[str, Any]) -> AgreementRef:
    return AgreementRef(
        id=strawberry.ID(to_global_id(label, props["id"])),
        name=props.get("name") or "",
        number=props.get("number"),
    )


async def _load_affected(ctx: Context, ids: Sequence[str]) -> list[scope.Affected]:
    found = await ctx.run(scope.affected_by, ctx.store, ctx.actor, ids)
    return [found[i] for i in ids]


def _scope_of(affected: scope.Affected) -> IncidentScope:
    return IncidentScope(
        services=[
            AffectedService(service=ConfigurationItem.from_props(s.service), depth=s.depth)
            for s in affected.services
        ],
        slas=[_ref("SLA", s) for s in affected.slas],
        customers=[_ref("Customer", c) for c in affected.customers],
    )


@strawberry.type
class IncidentScopeFields:
    """Fields of the Incident type that the Service Desk serves."""

    @strawberry.field(
        description="What the incident affects: the Services its CI's failure takes down, their "
        "SLAs and Customers, by the impact rules as they stand now. Empty without a CI."
    )
    async def affected(self, info: Info) -> IncidentScope:
        loader = info.context.loaders.keyed("incident_affected", _load_affected)
        found: scope.Affected = await loader.load(_stored(self, INCIDENT))
        return _scope_of(found)

    @strawberry.field(description="The contacts that opened it or were linked to it, oldest first.")
    async def interactions(self, info: Info) -> list[InteractionNode]:
        rows = await _linked(info, INCIDENT, self, "RESULTED_IN", Direction.IN, INTERACTION.label)
        return sorted(
            (InteractionNode.from_props(r) for r in rows),
            key=lambda i: (i.created_at or datetime.min, i.number),
        )


async def _load_open_incidents(ctx: Context, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
    found = await ctx.run(scope.open_incidents_of, ctx.store, ctx.actor, ids)
    return [found[i] for i in ids]


async def open_incidents_on(info: Info, ci_id: str) -> list[Any]:
    """The open incidents affecting a CI (stored id), oldest first; for the CMDB's CI type."""
    loader = info.context.loaders.keyed("ci_open_incidents", _load_open_incidents)
    rows: list[dict[str, Any]] = await loader.load(ci_id)
    return [incident_node(r) for r in rows]


# -- matching and deciding a contact -------------------------------------------------------------


@strawberry.type(description="An open incident a contact may be about.")
class IncidentMatch:
    incident: LazyIncident = strawberry.field(description="The incident.")
    reason: str = strawberry.field(
        description="Why it matches: on the contact's CI, or on a CI it needs, with the path."
    )
    score: float = strawberry.field(
        description="How well its title and description match the contact's words (full-text "
        "score; 0 when only the CI matched)."
    )
    hops: int | None = strawberry.field(
        description="Relationships from the contact's CI to the incident's (0: the same CI); "
        "null when matched by words alone."
    )


@strawberry.type(description="A published knowledge article that may answer a contact.")
class ArticleMatch:
    article: KnowledgeArticleNode = strawberry.field(description="The article, as published.")
    reason: str = strawberry.field(description="Why it matches: its CIs, its words.")
    highlight: str | None = strawberry.field(
        description="The best passage that matched, HTML-escaped, the words in <mark>; null when "
        "only its CI matched."
    )


@strawberry.type(
    description="What a contact matched, best first: open incidents (nearest CI first, then by "
    "words) and published articles."
)
class InteractionMatches:
    incidents: list[IncidentMatch] = strawberry.field(description="Open incidents, best first.")
    articles: list[ArticleMatch] = strawberry.field(description="Articles, best first.")


@strawberry.enum(description="Whether logging a contact acts on its best match.")
class ApplyMatch(enum.Enum):
    NONE = strawberry.enum_value("none", description="Only propose the matches.")
    SUGGESTED = strawberry.enum_value(
        "suggested",
        description="Link the contact to the best open incident; without one, open what "
        "`open` says (for automation callers).",
    )


@strawberry.enum(description="What record logging a contact opens.")
class OpenRecord(enum.Enum):
    NONE = strawberry.enum_value("none", description="None: decide later.")
    INCIDENT = strawberry.enum_value("incident", description="A new incident.")
    REQUEST = strawberry.enum_value("request", description="A new service request.")


_TITLE = "The title of a record opened from the contact; its first line when not given."


@strawberry.input(description="A contact with the Service Desk.")
class LogInteractionInput:
    channel: ContactChannel = strawberry.field(  # type: ignore[valid-type]
        description="How it came in."
    )
    text: str = strawberry.field(description="What was said.")
    caller_name: str | None = strawberry.field(
        default=None, description="Who called, when they are not a known person."
    )
    caller: strawberry.ID | None = strawberry.field(
        default=None, description="Who called, when they are a known person (Person id)."
    )
    ci: strawberry.ID | None = strawberry.field(
        default=None, description="The CI or Service it is about (CI id)."
    )
    apply: ApplyMatch = strawberry.field(
        default=ApplyMatch.NONE, description="Whether to act on the best match."
    )
    open: OpenRecord = strawberry.field(
        default=OpenRecord.NONE,
        description="What to open: at once, or with `apply: SUGGESTED` when no incident matches.",
    )
    title: str | None = strawberry.field(default=None, description=_TITLE)
    impact: ImpactLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The impact of an incident opened from it."
    )
    urgency: ImpactLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The urgency of an incident opened from it."
    )


@strawberry.type(description="The contact logged, what it matched and what it opened or joined.")
class LogInteractionPayload(MutationPayload):
    interaction: InteractionNode | None = strawberry.field(
        default=None, description="The contact as logged."
    )
    matches: InteractionMatches | None = strawberry.field(
        default=None, description="What it matched, found before anything was opened."
    )
    incident: LazyIncident | None = strawberry.field(
        default=None, description="The incident it opened or was linked to."
    )
    request: RequestNode | None = strawberry.field(
        default=None, description="The request it opened."
    )


@strawberry.input(description='Link a contact to an incident already open ("me too").')
class LinkInteractionInput:
    id: strawberry.ID = strawberry.field(description="The contact (Interaction id).")
    incident: strawberry.ID = strawberry.field(description="The open incident (Incident id).")


@strawberry.input(
    description="Open an incident from a contact: its text, channel, caller and CI go with it."
)
class OpenIncidentFromInteractionInput:
    id: strawberry.ID = strawberry.field(description="The contact (Interaction id).")
    title: str | None = strawberry.field(default=None, description=_TITLE)
    description: str | None = strawberry.field(
        default=None, description="What is broken; the contact's text when not given."
    )
    impact: ImpactLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="How much of the business is affected."
    )
    urgency: ImpactLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="How soon it must be fixed."
    )
    major: bool | None = strawberry.field(default=None, description="A major incident.")


@strawberry.input(description="Open a service request from a contact.")
class OpenRequestFromInteractionInput:
    id: strawberry.ID = strawberry.field(description="The contact (Interaction id).")
    title: str | None = strawberry.field(default=None, description=_TITLE)
    description: str | None = strawberry.field(
        default=None, description="The details; the contact's text when not given."
    )


@strawberry.input(description="A published knowledge article answered the contact.")
class DeflectInteractionInput:
    id: strawberry.ID = strawberry.field(description="The contact (Interaction id).")
    article: strawberry.ID = strawberry.field(
        description="The article (KnowledgeArticle id); it must be published."
    )


@strawberry.type(description="The contact and the incident it now belongs to.")
class InteractionIncidentPayload(MutationPayload):
    interaction: InteractionNode | None = strawberry.field(default=None, description="The contact.")
    incident: LazyIncident | None = strawberry.field(default=None, description="The incident.")


@strawberry.type(description="The contact and the request it opened.")
class InteractionRequestPayload(MutationPayload):
    interaction: InteractionNode | None = strawberry.field(default=None, description="The contact.")
    request: RequestNode | None = strawberry.field(default=None, description="The request.")


@strawberry.type(description="The contact, solved by an article.")
class DeflectInteractionPayload(MutationPayload):
    interaction: InteractionNode | None = strawberry.field(default=None, description="The contact.")


# -- figures ---------------------------------------------------------------------------------------


@strawberry.type(description="How many contacts had one outcome.")
class OutcomeCount:
    outcome: ContactOutcome = strawberry.field(  # type: ignore[valid-type]
        description="The outcome."
    )
    count: int = strawberry.field(description="How many contacts.")


@strawberry.type(description="How many contacts came in on one channel.")
class ChannelCount:
    channel: ContactChannel = strawberry.field(  # type: ignore[valid-type]
        description="The channel."
    )
    count: int = strawberry.field(description="How many contacts.")


@strawberry.type(description="What the Service Desk did with the contacts of a period.")
class ServiceDeskStats:
    total: int = strawberry.field(description="Contacts logged in the period.")
    by_outcome: list[OutcomeCount] = strawberry.field(description="By outcome.")
    by_channel: list[ChannelCount] = strawberry.field(description="By channel.")
    deflected: int = strawberry.field(description="Contacts a knowledge article solved.")
    deflection_rate: float | None = strawberry.field(
        description="The share of the contacts a knowledge article solved (0 to 1); null "
        "without contacts."
    )
