"""Resolvers for agreement terms: GraphQL input → `domain.service_level.terms` → GraphQL type."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import strawberry

from core.agreement_terms import AGREEMENT_TERMS
from domain.service_level import terms
from domain.service_level.escalation import EscalationLevelGiven
from resolvers.payloads import refusals_in_payload
from schema.agreement_terms import (
    AgreementTermsNode,
    EscalationLevelInput,
    SetAgreementTermsInput,
    SetAgreementTermsPayload,
    escalation_loader,
)
from schema.context import Info
from schema.records import register_node, stored

register_node(AGREEMENT_TERMS, AgreementTermsNode, AgreementTermsNode.from_props)

Agreement = Annotated[
    strawberry.ID, strawberry.argument(description="The SLA's or OLA's global id.")
]


def _node(info: Info, props: dict[str, Any]) -> AgreementTermsNode:
    info.context.loaders.record(AGREEMENT_TERMS).prime(props["id"], props)
    return AgreementTermsNode.from_props(props)


@strawberry.type
class AgreementTermsQuery:
    @strawberry.field(
        description="One version of an SLA's or OLA's terms: the current one when no version "
        "is given; null when it has none (yet)."
    )
    async def agreement_terms(
        self,
        info: Info,
        agreement: Agreement,
        version: Annotated[
            int | None,
            strawberry.argument(description="The version; the current one if not given."),
        ] = None,
    ) -> AgreementTermsNode | None:
        ctx = info.context
        props = await ctx.run(terms.terms_of, ctx.store, ctx.actor, str(agreement), version)
        return _node(info, props) if props else None

    @strawberry.field(description="Every version of an SLA's or OLA's terms, newest first.")
    async def agreement_terms_history(
        self, info: Info, agreement: Agreement
    ) -> list[AgreementTermsNode]:
        ctx = info.context
        found = await ctx.run(terms.history_of, ctx.store, ctx.actor, str(agreement))
        return [_node(info, props) for props in found]


def _given(value: Any, part: str, cleared: set[str], convert: Any) -> Any:
    """A part of the input: left out keeps it (None), null clears it, else converted."""
    if value is strawberry.UNSET:
        return None
    if value is None:
        cleared.add(part)
        return None
    return convert(value)


def _level(given: EscalationLevelInput) -> EscalationLevelGiven:
    return EscalationLevelGiven(
        clock=stored(given.clock),
        after_minutes=given.after_minutes,
        at_percent=given.at_percent,
        repeat_every_minutes=given.repeat_every_minutes,
        notify=[str(i) for i in given.notify or ()],
        notify_assignee=given.notify_assignee,
        reassign_to=str(given.reassign_to) if given.reassign_to is not None else None,
    )


def terms_given(input: SetAgreementTermsInput) -> terms.TermsGiven:
    cleared: set[str] = set()

    def targets(given: list[Any]) -> list[terms.PriorityTarget]:
        return [terms.PriorityTarget(stored(t.priority), t.minutes) for t in given]

    return terms.TermsGiven(
        response=_given(input.response, "response", cleared, targets),
        resolution=_given(input.resolution, "resolution", cleared, targets),
        availability=_given(
            input.availability,
            "availability",
            cleared,
            lambda a: terms.Availability(a.target, stored(a.period)),
        ),
        warning_percents=_given(input.warning_percents, "warningPercents", cleared, list),
        calendar=_given(
            input.calendar,
            "calendar",
            cleared,
            # The input's fields are the calendar's, by the same names.
            lambda c: terms.CalendarGiven(
                **{f.name: getattr(c, f.name) for f in dataclasses.fields(terms.CalendarGiven)}
            ),
        ),
        escalation=_given(
            input.escalation, "escalation", cleared, lambda levels: [_level(x) for x in levels]
        ),
        cleared=frozenset(cleared),
    )


@strawberry.type
class AgreementTermsMutation:
    @strawberry.mutation(
        description="Set an SLA's or OLA's terms: writes their next version and closes the "
        "current one, which stays readable and never changes otherwise; terms equal to the "
        "current ones write nothing. Needs the service level manager's role."
    )
    @refusals_in_payload(SetAgreementTermsPayload)
    async def set_agreement_terms(
        self,
        info: Info,
        input: Annotated[
            SetAgreementTermsInput, strawberry.argument(description="The terms to set.")
        ],
    ) -> SetAgreementTermsPayload:
        ctx = info.context
        done = await ctx.run(
            lambda: terms.set_terms(
                ctx.store,
                ctx.actor,
                str(input.agreement),
                terms_given(input),
                version=input.version,
            )
        )
        info.context.loaders.keyed("escalation", escalation_loader).prime(
            done.terms.id, list(done.terms.escalation)
        )
        return SetAgreementTermsPayload(
            agreement_terms=AgreementTermsNode.of(done.terms), new_version=done.new_version
        )
