"""Resolvers for "which agreement applies": GraphQL input → domain call → GraphQL type."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypeVar

import strawberry

from core.ids import record_id, to_global_id
from core.priority import Priority as StoredPriority
from domain.service_level import governing
from schema.cmdb import ConfigurationItem
from schema.context import Info
from schema.governing import (
    Governance,
    GoverningCandidate,
    GoverningNode,
    GoverningRule,
    GoverningStep,
    GoverningTerms,
    NoAgreementReason,
    Priority,
    ReachedService,
)
from schema.records import stored
from schema.service_level import OLANode, SLANode, TeamNode

N = TypeVar("N", SLANode, OLANode, TeamNode)


def _node(ref: governing.Ref) -> GoverningNode:
    return GoverningNode(
        id=strawberry.ID(to_global_id(ref.label, ref.id)),
        label=ref.label,
        ci_class=ref.ci_class,
        number=ref.number,
        name=ref.name,
    )


async def _record(info: Info, node_type: type[N], ref: governing.Ref | None) -> N | None:
    """The record as its own node type, through the request's loader of its type."""
    if ref is None:
        return None
    props: dict[str, Any] | None = await info.context.loaders.record(node_type.record).load(ref.id)
    return node_type.from_props(props) if props else None


def _terms(terms: governing.Terms | None, priority: Priority) -> GoverningTerms | None:
    if terms is None:
        return None
    return GoverningTerms(
        id=strawberry.ID(to_global_id("AgreementTerms", terms.id)),
        version=terms.version,
        priority=priority,
        response_minutes=terms.response,
        resolution_minutes=terms.resolution,
    )


def _rule(rule: governing.Rule) -> GoverningRule:
    return GoverningRule(rule.value)


async def governance_of(info: Info, answer: governing.Governance, priority: Priority) -> Governance:
    service = answer.cis.get(answer.service.id) if answer.service else None
    # Gathered, so that each type's loader batches and the three types go together.
    sla, ola, team = await asyncio.gather(
        _record(info, SLANode, answer.sla),
        _record(info, OLANode, answer.ola),
        _record(info, TeamNode, answer.team),
    )
    return Governance(
        priority=priority,
        asked=ConfigurationItem.from_props(answer.cis[answer.asked.id]),
        sla=sla,
        terms=_terms(answer.terms, priority),
        service=ConfigurationItem.from_props(service) if service else None,
        ola=ola,
        ola_terms=_terms(answer.ola_terms, priority),
        team=team,
        path=[
            GoverningStep(start=_node(s.start), type=s.type, end=_node(s.end), forward=s.forward)
            for s in answer.path
        ],
        explanation=answer.explanation,
        rule=answer.rule,
        decided_by=_rule(answer.decided_by) if answer.decided_by else None,
        none_because=NoAgreementReason(answer.none_because.value) if answer.none_because else None,
        candidates=[
            GoverningCandidate(
                sla=_node(c.sla),
                state=c.state,
                service=_node(c.service),
                depth=c.depth,
                terms=_terms(c.terms, priority),
                governs=c.governs,
                rule=_rule(c.rule),
                reason=c.reason,
            )
            for c in answer.candidates
        ],
        services=[ReachedService(service=_node(s), depth=d) for s, d in answer.services],
    )


def _ci(value: strawberry.ID | None, field: str) -> str | None:
    return record_id(str(value), "CI", field=field) if value is not None else None


@strawberry.type
class GoverningQuery:
    @strawberry.field(
        description="Which SLA governs a CI (or a Service) at a priority, the OLA behind it and "
        "the supporting team, found through the graph: a CI's Services are those its failure "
        "takes down by the impact rules. Give exactly one of ci and service."
    )
    async def governing_agreement(
        self,
        info: Info,
        priority: Annotated[Priority, strawberry.argument(description="The priority.")],
        ci: Annotated[
            strawberry.ID | None, strawberry.argument(description="A CI, by its id.")
        ] = None,
        service: Annotated[
            strawberry.ID | None, strawberry.argument(description="A Service, by its CI id.")
        ] = None,
    ) -> Governance:
        ctx = info.context
        ci_id, service_id = _ci(ci, "ci"), _ci(service, "service")
        answer = await ctx.run(
            lambda: governing.governing_agreement(
                ctx.store,
                ctx.actor,
                StoredPriority(stored(priority)),
                ci_id=ci_id,
                service_id=service_id,
            )
        )
        return await governance_of(info, answer, priority)
