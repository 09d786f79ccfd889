"""Agreement terms in GraphQL: the versions of an SLA's or an OLA's targets, availability,
warnings, calendar and escalation path, and the input that sets the next version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import strawberry

from core import agreement_terms as declared
from core import priority as priorities
from core.ids import to_global_id
from domain.service_level import terms
from domain.service_level.escalation import EscalationStep, Recipient, whole_minutes
from domain.service_level.terms import AgreementTermsView, view_of
from schema.common import MutationPayload, Node
from schema.context import Context, Info
from schema.records import values_enum

if TYPE_CHECKING:
    from core.agreement_terms import AvailabilityPeriod, EscalationClock
    from core.priority import Priority
else:
    AvailabilityPeriod = values_enum(declared.AvailabilityPeriod)
    EscalationClock = values_enum(declared.EscalationClock)
    Priority = values_enum(priorities.Priority)


# -- what is read -------------------------------------------------------------------------------


@strawberry.type(description="A target at one priority.")
class PriorityTarget:
    priority: Priority = strawberry.field(description="The priority the target applies to.")
    minutes: int = strawberry.field(description="Whole minutes of business time.")


@strawberry.type(description="The availability an agreement promises over each period.")
class AvailabilityTarget:
    target: float = strawberry.field(description="Percent of the period the service is up.")
    period: AvailabilityPeriod = strawberry.field(description="The period it is measured over.")


@strawberry.type(
    name="BusinessCalendar",
    description="When an agreement's clocks run: a zone, working hours and closed days.",
)
class BusinessCalendarNode:
    timezone: str = strawberry.field(description="The IANA zone of the working hours.")
    always: bool = strawberry.field(
        description="Clocks run around the clock (24x7); hours and holidays do not apply."
    )
    hours: list[str] = strawberry.field(
        description='Working intervals by weekday in local time, e.g. "mon 08:00-18:00".'
    )
    holiday_country: str | None = strawberry.field(
        description="The ISO 3166 country whose public holidays are closed days."
    )
    holiday_subdivision: str | None = strawberry.field(
        description="Its state or region, for regional public holidays."
    )
    holiday_dates: list[date] = strawberry.field(
        description="The agreement's own closed dates, besides the public holidays."
    )


@strawberry.type(description="A person or team an escalation level names.")
class EscalationRecipient:
    id: strawberry.ID = strawberry.field(description="Its global id (a Person's or a Team's).")
    type: str = strawberry.field(description="Person or Team.")
    name: str | None = strawberry.field(description="Its name.")

    @classmethod
    def of(cls, recipient: Recipient) -> EscalationRecipient:
        return cls(
            id=strawberry.ID(to_global_id(recipient.label, recipient.id)),
            type=recipient.label,
            name=recipient.name,
        )


@strawberry.type(
    description="One level of an escalation path: when it fires on which clock, whom it "
    "notifies and where it hands the record over."
)
class EscalationLevel:
    level: int = strawberry.field(description="Its place in the path, from 1.")
    clock: EscalationClock = strawberry.field(description="The clock it watches.")
    after_minutes: int | None = strawberry.field(
        description="Fires this many business minutes after the clock starts."
    )
    at_percent: int | None = strawberry.field(
        description="Fires at this percentage of the target at the record's priority (above "
        "100: after the breach)."
    )
    repeat_every_minutes: int | None = strawberry.field(
        description="Fires again every so many business minutes; null: once."
    )
    notify: list[EscalationRecipient] = strawberry.field(
        description="The people and teams it notifies."
    )
    notify_assignee: bool = strawberry.field(
        description="It also notifies whoever the record is assigned to when it fires."
    )
    reassign_to: EscalationRecipient | None = strawberry.field(
        description="The team it hands the record over to; null: no reassignment."
    )

    @classmethod
    def of(cls, step: EscalationStep) -> EscalationLevel:
        return cls(
            level=step.level,
            clock=EscalationClock(step.clock.value),
            after_minutes=whole_minutes(step.after),
            at_percent=step.at_percent,
            repeat_every_minutes=whole_minutes(step.repeat_every),
            notify=[EscalationRecipient.of(r) for r in step.notify],
            notify_assignee=step.notify_assignee,
            reassign_to=EscalationRecipient.of(step.reassign_to) if step.reassign_to else None,
        )


@strawberry.type(
    name="AgreementTerms",
    description=declared.AGREEMENT_TERMS.description,
)
class AgreementTermsNode(Node):
    version: int = strawberry.field(description="1, 2, … per agreement, in the order set.")
    current: bool = strawberry.field(description="Whether this version is in force now.")
    valid_from: datetime | None = strawberry.field(description="When it came into force.")
    valid_to: datetime | None = strawberry.field(
        description="When the next version replaced it; null while current."
    )
    response: list[PriorityTarget] = strawberry.field(
        description="Response targets by priority; a priority without one has no target."
    )
    resolution: list[PriorityTarget] = strawberry.field(
        description="Resolution targets by priority; a priority without one has no target."
    )
    availability: AvailabilityTarget | None = strawberry.field(
        description="The availability target; null when the agreement sets none."
    )
    warning_percents: list[int] = strawberry.field(
        description="When a clock warns, in percent of its target, ascending."
    )
    calendar: BusinessCalendarNode = strawberry.field(
        description="When the clocks of this version run."
    )
    stored_id: strawberry.Private[str]

    @strawberry.field(description="The escalation path, level by level in the order they fire.")
    async def escalation(self, info: Info) -> list[EscalationLevel]:
        steps = await info.context.loaders.keyed("escalation", escalation_loader).load(
            self.stored_id
        )
        return [EscalationLevel.of(step) for step in steps]

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> AgreementTermsNode:
        return cls.of(view_of(props))

    @classmethod
    def of(cls, view: AgreementTermsView) -> AgreementTermsNode:
        stored = view.calendar.to_stored()
        return cls(
            id=strawberry.ID(to_global_id("AgreementTerms", view.id)),
            stored_id=view.id,
            version=view.version,
            current=view.current,
            valid_from=view.valid_from,
            valid_to=view.valid_to,
            response=_targets(view.response),
            resolution=_targets(view.resolution),
            availability=AvailabilityTarget(
                target=view.availability.target,
                period=AvailabilityPeriod(view.availability.period),
            )
            if view.availability
            else None,
            warning_percents=list(view.warning_percents),
            calendar=BusinessCalendarNode(
                timezone=stored["calendarTimezone"],
                always=bool(stored["calendarAlways"]),
                hours=list(stored["calendarHours"] or ()),
                holiday_country=stored["holidayCountry"],
                holiday_subdivision=stored["holidaySubdivision"],
                holiday_dates=[date.fromisoformat(d) for d in stored["holidayDates"] or ()],
            ),
        )


def _targets(targets: Any) -> list[PriorityTarget]:
    return [
        PriorityTarget(priority=Priority(p.value), minutes=t // timedelta(minutes=1))
        for p, t in sorted(targets.items())
    ]


async def escalation_loader(ctx: Context, terms_ids: Sequence[str]) -> list[list[EscalationStep]]:
    found = await ctx.run(terms.escalation_of, ctx.store, ctx.actor, terms_ids)
    return [found.get(i, []) for i in terms_ids]


# -- what is set --------------------------------------------------------------------------------


@strawberry.input(description="A target at one priority.")
class PriorityTargetInput:
    priority: Priority = strawberry.field(description="The priority; each at most once.")
    minutes: int = strawberry.field(description="Whole minutes of business time, above 0.")


@strawberry.input(description="The availability an agreement promises over each period.")
class AvailabilityInput:
    target: float = strawberry.field(description="Percent, from 0 to 100.")
    period: AvailabilityPeriod = strawberry.field(description="The period it is measured over.")


@strawberry.input(description="When an agreement's clocks run.")
class CalendarInput:
    timezone: str = strawberry.field(description='An IANA zone, e.g. "Europe/Berlin".')
    hours: list[str] | None = strawberry.field(
        default=None,
        description='Working hours in local time: "mon-fri 08:00-18:00", '
        '"sat 09:00-12:00,13:00-15:00". Needed unless `always`.',
    )
    holiday_country: str | None = strawberry.field(
        default=None, description='An ISO 3166 country code whose public holidays close, "DE".'
    )
    holiday_subdivision: str | None = strawberry.field(
        default=None, description='Its state or region code, "BY", for regional holidays.'
    )
    holiday_dates: list[date] | None = strawberry.field(
        default=None, description="The agreement's own closed dates."
    )
    always: bool = strawberry.field(
        default=False, description="Clocks run around the clock (24x7)."
    )


@strawberry.input(description="One level of an escalation path, in the order they fire.")
class EscalationLevelInput:
    clock: EscalationClock = strawberry.field(description="The clock it watches.")
    after_minutes: int | None = strawberry.field(
        default=None,
        description="Fires this many business minutes after the clock starts (0 or more). "
        "Give this or atPercent.",
    )
    at_percent: int | None = strawberry.field(
        default=None,
        description="Fires at this percentage of the target, 1-1000 (150: half the target "
        "after the breach). Give this or afterMinutes.",
    )
    repeat_every_minutes: int | None = strawberry.field(
        default=None, description="Fires again every so many business minutes; null: once."
    )
    notify: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Active People and Teams to notify, by global id."
    )
    notify_assignee: bool = strawberry.field(
        default=False, description="Also notify whoever the record is assigned to."
    )
    reassign_to: strawberry.ID | None = strawberry.field(
        default=None, description="An active Team to hand the record over to."
    )


@strawberry.input(
    description="The next version of an agreement's terms. A part left out is kept from the "
    "current version; a part given replaces it; a part given as null is dropped."
)
class SetAgreementTermsInput:
    agreement: strawberry.ID = strawberry.field(description="The SLA's or OLA's global id.")
    version: int | None = strawberry.field(
        default=None,
        description="The agreement's version you last read; a stale one is refused as CONFLICT.",
    )
    response: list[PriorityTargetInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Response targets by priority."
    )
    resolution: list[PriorityTargetInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Resolution targets by priority; each at least the response target.",
    )
    availability: AvailabilityInput | None = strawberry.field(
        default=strawberry.UNSET, description="The availability target."
    )
    warning_percents: list[int] | None = strawberry.field(
        default=strawberry.UNSET,
        description="When clocks warn, in whole percents of the target: each 1-99, ascending.",
    )
    calendar: CalendarInput | None = strawberry.field(
        default=strawberry.UNSET, description="The business calendar; null: 24x7."
    )
    escalation: list[EscalationLevelInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The escalation path, level by level."
    )


@strawberry.type(description="What setAgreementTerms did.")
class SetAgreementTermsPayload(MutationPayload):
    agreement_terms: AgreementTermsNode | None = strawberry.field(
        default=None, description="The agreement's terms now in force; null when refused."
    )
    new_version: bool = strawberry.field(
        default=False,
        description="Whether a new version was written: false when the terms given equal the "
        "current ones (nothing was written) or the input was refused.",
    )


# -- an agreement's terms, as fields of the SLA and OLA types -----------------------------------


def _by_label(keys: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for label, agreement_id in keys:
        grouped.setdefault(label, []).append(agreement_id)
    return grouped


async def _current_loader(
    ctx: Context, keys: Sequence[tuple[str, str]]
) -> list[dict[str, Any] | None]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for label, ids in _by_label(keys).items():
        rows, escalations = await ctx.run(terms.current_terms_of, ctx.store, ctx.actor, label, ids)
        found.update({(label, i): row for i, row in rows.items()})
        _prime_escalations(ctx, escalations)
    return [found.get(key) for key in keys]


async def _history_loader(
    ctx: Context, keys: Sequence[tuple[str, str]]
) -> list[list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for label, ids in _by_label(keys).items():
        rows, escalations = await ctx.run(terms.histories_of, ctx.store, ctx.actor, label, ids)
        found.update({(label, i): versions for i, versions in rows.items()})
        _prime_escalations(ctx, escalations)
    return [found.get(key, []) for key in keys]


def _prime_escalations(ctx: Context, escalations: dict[str, list[EscalationStep]]) -> None:
    # Primed, the escalation of terms read here costs no batch of its own: otherwise it would be
    # one batch or two, as the current and the history loaders happened to finish.
    loader = ctx.loaders.keyed("escalation", escalation_loader)
    for terms_id, steps in escalations.items():
        loader.prime(terms_id, steps)


async def current_terms(info: Info, label: str, agreement_id: str) -> AgreementTermsNode | None:
    """An SLA's or OLA's terms in force now; a page of agreements asks in one round trip."""
    props = await info.context.loaders.keyed("terms.current", _current_loader).load(
        (label, agreement_id)
    )
    return AgreementTermsNode.from_props(props) if props else None


async def terms_history(info: Info, label: str, agreement_id: str) -> list[AgreementTermsNode]:
    """Every version of an SLA's or OLA's terms, newest first, in one round trip per page."""
    versions = await info.context.loaders.keyed("terms.history", _history_loader).load(
        (label, agreement_id)
    )
    return [AgreementTermsNode.from_props(props) for props in versions]
