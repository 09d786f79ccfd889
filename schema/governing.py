"""Which agreement applies, in GraphQL: the governing SLA of a CI or Service at a priority."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import strawberry

from core import priority
from schema.cmdb import ConfigurationItem
from schema.records import values_enum
from schema.service_level import OLANode, SLANode, TeamNode

# The priorities are the shared set of `core.priority`, described there.
if TYPE_CHECKING:
    from core.priority import Priority as Priority
else:
    Priority = values_enum(priority.Priority)


@strawberry.enum(description="What decided for or against an SLA.")
class GoverningRule(enum.Enum):
    ONLY_CANDIDATE = strawberry.enum_value(
        "only_candidate", description="It was the only active SLA with a target at the priority."
    )
    STRICTEST_RESOLUTION = strawberry.enum_value(
        "strictest_resolution", description="The shorter resolution target at the priority won."
    )
    STRICTEST_RESPONSE = strawberry.enum_value(
        "strictest_response",
        description="Resolution targets equal, the shorter response target won.",
    )
    NEAREST_SERVICE = strawberry.enum_value(
        "nearest_service",
        description="Targets equal, the SLA of the Service fewer relationships from the CI won.",
    )
    LOWEST_NUMBER = strawberry.enum_value(
        "lowest_number", description="Everything else equal, the lower SLA number won."
    )
    NOT_ACTIVE = strawberry.enum_value(
        "not_active", description="A draft or retired SLA: only active ones govern."
    )
    NO_TERMS = strawberry.enum_value("no_terms", description="The SLA has no current terms.")
    NO_TARGET = strawberry.enum_value(
        "no_target", description="Its current terms set no target at the priority."
    )


@strawberry.enum(description="Why no agreement governs.")
class NoAgreementReason(enum.Enum):
    NO_SERVICE = strawberry.enum_value(
        "no_service", description="A failure of the CI takes down no Service."
    )
    NO_SLA = strawberry.enum_value("no_sla", description="No SLA covers the Services reached.")
    NO_ACTIVE_SLA = strawberry.enum_value(
        "no_active_sla", description="The SLAs covering them are all draft or retired."
    )
    NO_TARGET = strawberry.enum_value(
        "no_target", description="No active SLA covering them sets a target at the priority."
    )


@strawberry.type(description="A record on the way from the CI to its agreement and team.")
class GoverningNode:
    id: strawberry.ID = strawberry.field(description="Its global id.")
    label: str = strawberry.field(description="Its record type: CI, SLA, OLA or Team.")
    ci_class: str | None = strawberry.field(description="For a CI, its class.")
    number: str | None = strawberry.field(description="Its number, where it has one.")
    name: str = strawberry.field(description="Its name.")


@strawberry.type(description="One relationship on the way, crossed from `start` to `end`.")
class GoverningStep:
    start: GoverningNode = strawberry.field(description="Where the step starts.")
    type: str = strawberry.field(description="The relationship type.")
    end: GoverningNode = strawberry.field(description="Where the step ends.")
    forward: bool = strawberry.field(
        description="True when the relationship points from start to end, false when the step "
        "crosses it against its direction (Service ← COVERS ← SLA)."
    )


@strawberry.type(description="An agreement's current terms at the priority asked about.")
class GoverningTerms:
    id: strawberry.ID = strawberry.field(description="The global id of the terms version.")
    version: int = strawberry.field(description="The terms version: 1, 2, … per agreement.")
    priority: Priority = strawberry.field(description="The priority the targets are for.")
    response_minutes: int | None = strawberry.field(
        description="The response target, in minutes of business time; null: none."
    )
    resolution_minutes: int | None = strawberry.field(
        description="The resolution target, in minutes of business time; null: none."
    )


@strawberry.type(description="An SLA covering a Service the CI's failure reaches.")
class GoverningCandidate:
    sla: GoverningNode = strawberry.field(description="The SLA.")
    state: str | None = strawberry.field(description="Its state: draft, active or retired.")
    service: GoverningNode = strawberry.field(
        description="The nearest Service it covers among those reached."
    )
    depth: int = strawberry.field(
        description="How many relationships from the CI that Service is; 0 for itself."
    )
    terms: GoverningTerms | None = strawberry.field(description="Its current terms, if any.")
    governs: bool = strawberry.field(description="True for the one that governs.")
    rule: GoverningRule = strawberry.field(
        description="For the one that governs, the rule that set it ahead of the next; for the "
        "others, the rule they lost by or why they cannot govern."
    )
    reason: str = strawberry.field(description="The same in words, with the figures compared.")


@strawberry.type(description="A Service the CI's failure takes down.")
class ReachedService:
    service: GoverningNode = strawberry.field(description="The Service.")
    depth: int = strawberry.field(description="How many relationships from the CI; 0 for itself.")


@strawberry.type(
    description="Which agreement governs a CI or Service at a priority, the OLA behind it and "
    "the team that supports it, with the path followed and every candidate weighed."
)
class Governance:
    priority: Priority = strawberry.field(description="The priority asked about.")
    asked: ConfigurationItem = strawberry.field(description="The CI or Service asked about.")
    sla: SLANode | None = strawberry.field(description="The governing SLA; null: none.")
    terms: GoverningTerms | None = strawberry.field(
        description="The governing SLA's current terms at the priority."
    )
    service: ConfigurationItem | None = strawberry.field(
        description="The Service through which the SLA governs."
    )
    ola: OLANode | None = strawberry.field(
        description="The OLA behind the SLA; null when no active OLA supports it."
    )
    ola_terms: GoverningTerms | None = strawberry.field(
        description="The OLA's current terms at the priority."
    )
    team: TeamNode | None = strawberry.field(
        description="The supporting team: the OLA's, or without an OLA a team supporting the "
        "Service."
    )
    path: list[GoverningStep] = strawberry.field(
        description="The way from the CI to the team: the impact path to the Service, "
        "Service ← COVERS ← SLA, SLA ← SUPPORTS ← OLA, OLA → PROVIDED_BY → Team."
    )
    explanation: str = strawberry.field(description="The answer and its path in words.")
    rule: str = strawberry.field(description="The stated rule that picks one of several.")
    decided_by: GoverningRule | None = strawberry.field(
        description="The rule that decided for the governing SLA."
    )
    none_because: NoAgreementReason | None = strawberry.field(
        description="Why nothing governs; null when an SLA does."
    )
    candidates: list[GoverningCandidate] = strawberry.field(
        description="Every SLA covering a Service reached, nearest first, with why it governs "
        "or not."
    )
    services: list[ReachedService] = strawberry.field(
        description="Every Service the CI's failure takes down, nearest first."
    )
