"""Agreement terms and their versions: the targets per priority, the availability target, the
warning percentages, the business calendar and the escalation path of an SLA or an OLA.

Terms are set as a whole new version: the previous one is closed (no longer current, valid
until now) and otherwise never changes, so a record governed by it keeps the targets it was
measured against. Setting terms equal to the current ones writes nothing.

A part of the terms the caller does not give is kept from the current version; one given
replaces that part, and one cleared (`TermsGiven.cleared`) is dropped: no targets, no
availability target, no warnings, a 24x7 calendar, no escalation path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from core.access import Actor, Permission
from core.agreement_terms import (
    AGREEMENT_LABELS,
    AvailabilityPeriod,
    EscalationClock,
    target_property,
)
from core.errors import NotFound, ValidationFailed, VersionConflict
from core.ids import parse_global_id
from core.priority import Priority
from domain.service_level.calendar import BusinessCalendar, calendar_from_input
from domain.service_level.escalation import (
    EscalationLevelGiven,
    EscalationStep,
    check_levels,
    closed_value,
    recipient_ids,
    step_from_stored,
    stored_props,
    whole_minutes,
)
from graphdb.cypher import agreement_terms as cypher
from graphdb.write_path import Store, UnitOfWork

MAX_TARGET_MINUTES = 366 * 24 * 60  # a target beyond a year of business time is a typo
RETIRED = "retired"

PARTS = ("response", "resolution", "availability", "warningPercents", "calendar", "escalation")


@dataclass(frozen=True)
class PriorityTarget:
    priority: str  # P1 … P5
    minutes: int


@dataclass(frozen=True)
class Availability:
    target: float  # percent, 0-100
    period: str  # month, quarter, year


@dataclass(frozen=True)
class CalendarGiven:
    timezone: str
    hours: Sequence[str] | None = None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    holiday_dates: Sequence[str | date] | None = None
    always: bool = False


@dataclass(frozen=True)
class TermsGiven:
    """What a caller sets; None keeps that part of the current terms, a name in `cleared`
    drops it (see `PARTS`)."""

    response: Sequence[PriorityTarget] | None = None
    resolution: Sequence[PriorityTarget] | None = None
    availability: Availability | None = None
    warning_percents: Sequence[int] | None = None
    calendar: CalendarGiven | None = None
    escalation: Sequence[EscalationLevelGiven] | None = None
    cleared: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AgreementTermsView:
    """One version of an agreement's terms as a clock needs it."""

    id: str
    version: int
    current: bool
    valid_from: datetime | None
    valid_to: datetime | None
    response: Mapping[Priority, timedelta]
    resolution: Mapping[Priority, timedelta]
    availability: Availability | None
    warning_percents: tuple[int, ...]
    calendar: BusinessCalendar
    escalation: tuple[EscalationStep, ...] = ()
    agreement_label: str | None = None
    agreement_id: str | None = None

    def target(self, clock: EscalationClock, priority: Priority) -> timedelta | None:
        targets = self.response if clock is EscalationClock.RESPONSE else self.resolution
        return targets.get(priority)


def always_on() -> BusinessCalendar:
    """The calendar of terms that set none: every minute counts."""
    return calendar_from_input(
        timezone="UTC",
        hours=None,
        holiday_country=None,
        holiday_subdivision=None,
        holiday_dates=None,
        always=True,
    )


def view_of(
    props: Mapping[str, Any], levels: Sequence[Mapping[str, Any]] = ()
) -> AgreementTermsView:
    """A terms version as stored (and its levels as `levels_of` reads them)."""
    period = props.get("availabilityPeriod")
    target = props.get("availabilityTarget")
    return AgreementTermsView(
        id=props["id"],
        version=int(props["version"]),
        current=bool(props.get("current")),
        valid_from=_native(props.get("validFrom")),
        valid_to=_native(props.get("validTo")),
        response=_targets(props, EscalationClock.RESPONSE),
        resolution=_targets(props, EscalationClock.RESOLUTION),
        availability=Availability(float(target), str(period)) if target is not None else None,
        warning_percents=tuple(props.get("warningPercents") or ()),
        calendar=BusinessCalendar.from_stored(props)
        if props.get("calendarTimezone")
        else always_on(),
        escalation=tuple(step_from_stored(level) for level in levels),
        agreement_label=props.get("agreementLabel"),
        agreement_id=props.get("agreementId"),
    )


def _native(value: Any) -> datetime | None:
    if value is None:
        return None
    native: datetime = value.to_native() if hasattr(value, "to_native") else value
    return native


def _targets(props: Mapping[str, Any], clock: EscalationClock) -> dict[Priority, timedelta]:
    out = {}
    for priority in Priority:
        minutes = props.get(target_property(clock, priority))
        if minutes is not None:
            out[priority] = timedelta(minutes=minutes)
    return out


# -- checking what a caller gives ---------------------------------------------------------------


def check_targets(given: Sequence[PriorityTarget], part: str) -> dict[Priority, int]:
    """Targets by priority in whole minutes, or the first rule broken (`response[2].minutes`)."""
    out: dict[Priority, int] = {}
    for i, target in enumerate(given):
        where = f"{part}[{i}]"
        priority = closed_value(Priority, target.priority, f"{where}.priority", "priority")
        if priority in out:
            raise ValidationFailed(
                f"{where}.priority",
                "duplicate_priority",
                f"{priority.value} has a {part} target already: give each priority once",
            )
        minutes = target.minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
            raise ValidationFailed(
                f"{where}.minutes",
                "not_positive",
                f"a {part} target is a positive whole number of minutes, not {minutes!r}",
            )
        if minutes > MAX_TARGET_MINUTES:
            raise ValidationFailed(
                f"{where}.minutes",
                "too_long",
                f"a {part} target is at most {MAX_TARGET_MINUTES} minutes (a year)",
                limit=MAX_TARGET_MINUTES,
            )
        out[priority] = minutes
    return out


def check_availability(given: Availability) -> Availability:
    if isinstance(given.target, bool) or not 0 <= given.target <= 100:
        raise ValidationFailed(
            "availability.target",
            "out_of_range",
            f"an availability target is a percentage from 0 to 100, not {given.target!r}",
        )
    period = closed_value(AvailabilityPeriod, given.period, "availability.period", "period")
    return Availability(float(given.target), period.value)


def check_warnings(given: Sequence[int]) -> tuple[int, ...]:
    for i, percent in enumerate(given):
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 99:
            raise ValidationFailed(
                "warningPercents",
                "out_of_range",
                f"warning {i + 1} is {percent!r}: each warning is a whole percent from 1 to 99 "
                "of the target (100 is the breach)",
            )
        if i and percent <= given[i - 1]:
            raise ValidationFailed(
                "warningPercents",
                "not_ascending",
                f"warning {i + 1} ({percent}%) does not come after warning {i} "
                f"({given[i - 1]}%): give them in ascending order, each once",
            )
    return tuple(given)


def check_calendar(given: CalendarGiven) -> BusinessCalendar:
    return calendar_from_input(**dataclasses.asdict(given), field_prefix="calendar.")


def _response_within_resolution(
    response: Mapping[Priority, int], resolution: Mapping[Priority, int], given: TermsGiven
) -> None:
    for priority, minutes in response.items():
        limit = resolution.get(priority)
        if limit is None or minutes <= limit:
            continue
        # Blame the part the caller gave; when both are given, the response target.
        if given.response is not None or given.resolution is None:
            part, index = "response", _index_of(given.response, priority)
        else:
            part, index = "resolution", _index_of(given.resolution, priority)
        raise ValidationFailed(
            f"{part}[{index}].minutes" if index is not None else part,
            "response_after_resolution",
            f"at {priority.value} the response target ({minutes} min) is longer than the "
            f"resolution target ({limit} min): a record must be responded to before it can be "
            "resolved",
        )


def _index_of(given: Sequence[PriorityTarget] | None, priority: Priority) -> int | None:
    for i, target in enumerate(given or ()):
        if target.priority == priority.value:
            return i
    return None


@dataclass
class _Terms:
    """Terms as they will be stored, to compare with the current ones and to write."""

    response: dict[Priority, int] = field(default_factory=dict)
    resolution: dict[Priority, int] = field(default_factory=dict)
    availability: Availability | None = None
    warnings: tuple[int, ...] = ()
    calendar: BusinessCalendar | None = None
    escalation: list[EscalationStep] = field(default_factory=list)

    def content(self) -> tuple[Any, ...]:
        return (
            self.response,
            self.resolution,
            self.availability,
            self.warnings,
            _stored_calendar(self.calendar or always_on()),
            [step.content() for step in self.escalation],
        )

    def props(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for clock, targets in (
            (EscalationClock.RESPONSE, self.response),
            (EscalationClock.RESOLUTION, self.resolution),
        ):
            for priority, minutes in targets.items():
                values[target_property(clock, priority)] = minutes
        if self.availability is not None:
            values["availabilityTarget"] = self.availability.target
            values["availabilityPeriod"] = self.availability.period
        values["warningPercents"] = list(self.warnings) or None
        values.update(_stored_calendar(self.calendar or always_on()))
        return values


def _stored_calendar(calendar: BusinessCalendar) -> dict[str, Any]:
    # Empty lists are not stored: an absent property reads as "none" the same way.
    return {k: (v if v != [] else None) for k, v in calendar.to_stored().items()}


def _minutes(targets: Mapping[Priority, timedelta]) -> dict[Priority, int]:
    return {p: int(t.total_seconds()) // 60 for p, t in targets.items()}


def _merged(
    given: TermsGiven,
    current: AgreementTermsView | None,
    levels: Sequence[EscalationLevelGiven],
    parties: Mapping[str, Any],
) -> _Terms:
    """The terms the caller's input makes of the current ones, checked part by part."""
    unknown = sorted(given.cleared - set(PARTS))
    if unknown:
        raise ValidationFailed(unknown[0], "unknown_part", f"terms have no part {unknown[0]!r}")

    def kept(part: str) -> bool:
        return current is not None and part not in given.cleared

    terms = _Terms()
    if given.response is not None:
        terms.response = check_targets(given.response, "response")
    elif kept("response") and current is not None:
        terms.response = _minutes(current.response)
    if given.resolution is not None:
        terms.resolution = check_targets(given.resolution, "resolution")
    elif kept("resolution") and current is not None:
        terms.resolution = _minutes(current.resolution)
    _response_within_resolution(terms.response, terms.resolution, given)
    if given.availability is not None:
        terms.availability = check_availability(given.availability)
    elif kept("availability") and current is not None:
        terms.availability = current.availability
    if given.warning_percents is not None:
        terms.warnings = check_warnings(given.warning_percents)
    elif kept("warningPercents") and current is not None:
        terms.warnings = current.warning_percents
    if given.calendar is not None:
        terms.calendar = check_calendar(given.calendar)
    elif kept("calendar") and current is not None:
        terms.calendar = current.calendar
    targets = {
        EscalationClock.RESPONSE: terms.response,
        EscalationClock.RESOLUTION: terms.resolution,
    }
    terms.escalation = check_levels(levels, parties, targets)
    return terms


def _levels_given(
    given: TermsGiven, current: AgreementTermsView | None
) -> list[EscalationLevelGiven]:
    """The levels of the new terms as given, or the current ones, checked again like new: a
    recipient retired since is refused rather than carried into a new version."""
    if given.escalation is not None:
        return list(given.escalation)
    if current is None or "escalation" in given.cleared:
        return []
    return [
        EscalationLevelGiven(
            clock=step.clock.value,
            after_minutes=whole_minutes(step.after),
            at_percent=step.at_percent,
            repeat_every_minutes=whole_minutes(step.repeat_every),
            notify=[r.id for r in step.notify],
            notify_assignee=step.notify_assignee,
            reassign_to=step.reassign_to.id if step.reassign_to else None,
        )
        for step in current.escalation
    ]


# -- the agreement a call is about ------------------------------------------------------------


def agreement_ref(tx: Any, value: str, where: str = "agreement") -> tuple[str, str]:
    """(label, stored id) of the SLA or OLA a global or stored id names."""
    parsed = parse_global_id(value)
    if parsed is not None:
        label, stored = parsed
        if label not in AGREEMENT_LABELS:
            raise ValidationFailed(
                where, "wrong_type", f"{value!r} is the id of a {label}, not of an SLA or an OLA"
            )
        return label, stored
    found = cypher.agreement_labels(tx, AGREEMENT_LABELS, value)
    if not found:
        raise NotFound("SLA or OLA", value, field=where)
    return found[0], value


# -- setting terms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermsSet:
    terms: AgreementTermsView
    new_version: bool  # False: the terms given were the current ones, nothing was written


def set_terms(
    store: Store,
    actor: Actor,
    agreement: str,
    given: TermsGiven,
    *,
    version: int | None = None,
) -> TermsSet:
    """Write the next version of an agreement's terms from `given` (parts not given kept from
    the current version), close the current one, and answer the new version; all in one
    transaction. `version` is the agreement's version last read (stale: CONFLICT)."""
    actor.require(Permission.MANAGE_SERVICE_LEVELS)
    return store.write(
        actor, lambda uow: write_terms(uow, *agreement_ref(uow.tx, agreement), given, version)
    )


def write_terms(
    uow: UnitOfWork, label: str, agreement_id: str, given: TermsGiven, version: int | None = None
) -> TermsSet:
    """`set_terms` inside a unit of work that is already open (the demo estate's)."""
    try:
        record = uow.lock(label, agreement_id)
    except NotFound:
        raise NotFound(label, agreement_id, field="agreement") from None
    if version is not None and record["version"] != version:
        raise VersionConflict(label, agreement_id, version, int(record["version"]))
    if record.get("state") == RETIRED:
        raise ValidationFailed(
            "agreement",
            "retired",
            f"{label} {record.get('name') or agreement_id!r} is retired: its terms stay as "
            "they were and cannot be changed",
        )
    current = _current(uow, label, agreement_id)
    levels = _levels_given(given, current)
    parties = cypher.parties(uow.tx, recipient_ids(levels))
    terms = _merged(given, current, levels, parties)
    if current is not None and _content_of(current) == terms.content():
        return TermsSet(current, new_version=False)
    if current is not None:
        cypher.close(uow.tx, current.id, uow.at)
        uow.audit(
            "close",
            "AgreementTerms",
            current.id,
            {"current": True, "validTo": None},
            {"current": False, "validTo": uow.at},
        )
    number = cypher.latest_version(uow.tx, label, agreement_id) + 1
    created = uow.create(
        "AgreementTerms",
        {**terms.props(), "current": True, "validFrom": uow.at},
        version=number,
    )
    uow.link(label, agreement_id, "HAS_TERMS", "AgreementTerms", created["id"])
    for step in terms.escalation:
        _write_level(uow, created["id"], step)
    uow.touch(label, agreement_id)  # new terms are a new version of the agreement
    written = _current(uow, label, agreement_id)
    assert written is not None
    return TermsSet(written, new_version=True)


def _write_level(uow: UnitOfWork, terms_id: str, step: EscalationStep) -> None:
    level = uow.create("EscalationLevel", stored_props(step))
    uow.link("AgreementTerms", terms_id, "ESCALATES_AT", "EscalationLevel", level["id"])
    for recipient in step.notify:
        uow.link("EscalationLevel", level["id"], "NOTIFIES", recipient.label, recipient.id)
    if step.reassign_to is not None:
        uow.link("EscalationLevel", level["id"], "REASSIGNS_TO", "Team", step.reassign_to.id)


def _current(uow: UnitOfWork, label: str, agreement_id: str) -> AgreementTermsView | None:
    props = cypher.terms_of(uow.tx, label, agreement_id, None)
    if props is None:
        return None
    levels = cypher.levels_of(uow.tx, [props["id"]])[props["id"]]
    return view_of({**props, "agreementLabel": label, "agreementId": agreement_id}, levels)


def _content_of(view: AgreementTermsView) -> tuple[Any, ...]:
    return _Terms(
        response=_minutes(view.response),
        resolution=_minutes(view.resolution),
        availability=view.availability,
        warnings=view.warning_percents,
        calendar=view.calendar,
        escalation=list(view.escalation),
    ).content()


# -- reads --------------------------------------------------------------------------------------


def terms_of(
    store: Store, actor: Actor, agreement: str, version: int | None = None
) -> dict[str, Any] | None:
    """One version of an agreement's terms as stored (the current one without `version`)."""
    actor.require(Permission.READ)

    def read(tx: Any) -> dict[str, Any] | None:
        label, agreement_id = agreement_ref(tx, agreement)
        return cypher.terms_of(tx, label, agreement_id, version)

    return store.read(read)


def history_of(store: Store, actor: Actor, agreement: str) -> list[dict[str, Any]]:
    """Every version of an agreement's terms, newest first."""
    actor.require(Permission.READ)

    def read(tx: Any) -> list[dict[str, Any]]:
        label, agreement_id = agreement_ref(tx, agreement)
        return cypher.history_of(tx, label, [agreement_id])[agreement_id]

    return store.read(read)


def current_terms_of(
    store: Store, actor: Actor, label: str, agreement_ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[EscalationStep]]]:
    """The current terms of many SLAs (or OLAs), by agreement id, and their escalation paths by
    terms id: read together, so a page showing both costs one round trip whatever else it asks."""
    actor.require(Permission.READ)

    def read(tx: Any) -> tuple[dict[str, dict[str, Any]], dict[str, list[EscalationStep]]]:
        found = cypher.current_of(tx, label, agreement_ids)
        return found, _escalations(tx, [t["id"] for t in found.values()])

    return store.read(read)


def histories_of(
    store: Store, actor: Actor, label: str, agreement_ids: Sequence[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[EscalationStep]]]:
    """Every terms version of many agreements, newest first, with the escalation paths as
    `current_terms_of` gives them."""
    actor.require(Permission.READ)

    def read(tx: Any) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[EscalationStep]]]:
        found = cypher.history_of(tx, label, agreement_ids)
        return found, _escalations(tx, [t["id"] for ts in found.values() for t in ts])

    return store.read(read)


def escalation_of(
    store: Store, actor: Actor, terms_ids: Sequence[str]
) -> dict[str, list[EscalationStep]]:
    """The escalation paths of many terms versions, each in order."""
    actor.require(Permission.READ)
    return store.read(lambda tx: _escalations(tx, terms_ids))


def _escalations(tx: Any, terms_ids: Sequence[str]) -> dict[str, list[EscalationStep]]:
    found = cypher.levels_of(tx, terms_ids)
    return {i: [step_from_stored(level) for level in levels] for i, levels in found.items()}


def terms_for(store: Store, actor: Actor, terms_id: str) -> AgreementTermsView:
    """The terms version a record points at (`GOVERNED_BY`), as its clocks need them: targets
    as business time by priority, the calendar, the warnings and the escalation path."""
    actor.require(Permission.READ)

    def read(tx: Any) -> AgreementTermsView:
        found = cypher.terms_by_ids(tx, [terms_id]).get(terms_id)
        if found is None:
            raise NotFound("AgreementTerms", terms_id)
        return view_of(found, cypher.levels_of(tx, [terms_id])[terms_id])

    return store.read(read)


# -- the demo estate's terms ----------------------------------------------------------------------


def _demo_targets(**minutes: int) -> list[PriorityTarget]:
    return [PriorityTarget(priority, m) for priority, m in minutes.items()]


def _demo_path(teams: Mapping[str, str]) -> list[EscalationLevelGiven]:
    """Warn whoever holds the record, then the Service Desk at the breach, then hand it to the
    duty managers half a target later, reminding them every hour."""
    return [
        EscalationLevelGiven(clock="resolution", at_percent=75, notify_assignee=True),
        EscalationLevelGiven(clock="resolution", at_percent=100, notify=[teams["Service Desk"]]),
        EscalationLevelGiven(
            clock="resolution",
            at_percent=150,
            reassign_to=teams["Duty Managers"],
            notify_assignee=True,
            repeat_every_minutes=60,
        ),
    ]


def _demo_terms(teams: Mapping[str, str]) -> dict[str, TermsGiven]:
    around_the_clock = CalendarGiven(timezone="UTC", always=True)
    underpinning = TermsGiven(
        response=_demo_targets(P1=10, P2=20, P3=60, P4=240),
        resolution=_demo_targets(P1=120, P2=240, P3=960, P4=2880),
        warning_percents=[75],
        calendar=around_the_clock,
        escalation=[
            EscalationLevelGiven(clock="response", at_percent=75, notify_assignee=True),
            EscalationLevelGiven(clock="resolution", at_percent=100, notify_assignee=True),
        ],
    )
    return {
        "Online Shop Gold": TermsGiven(
            response=_demo_targets(P1=15, P2=30, P3=120, P4=480),
            resolution=_demo_targets(P1=240, P2=480, P3=1440, P4=4320),
            availability=Availability(99.9, AvailabilityPeriod.MONTH.value),
            warning_percents=[75, 90],
            calendar=around_the_clock,
            escalation=_demo_path(teams),
        ),
        "Product Search Silver": TermsGiven(
            response=_demo_targets(P1=30, P2=60, P3=240, P4=480, P5=960),
            resolution=_demo_targets(P1=480, P2=960, P3=2400, P4=4800, P5=9600),
            availability=Availability(99.5, AvailabilityPeriod.QUARTER.value),
            warning_percents=[75, 90],
            calendar=CalendarGiven(
                timezone="Europe/Berlin", hours=["mon-fri 08:00-18:00"], holiday_country="DE"
            ),
            escalation=_demo_path(teams),
        ),
        "Web Operations for the shop": underpinning,
        "Payments Engineering for the shop": underpinning,
        "Database support for the shop": underpinning,
        "Infrastructure support for the shop": underpinning,
    }


DEMO_TEAMS = ("Service Desk", "Duty Managers")  # the teams the demo's escalation paths name


def demo_terms(uow: UnitOfWork, agreements: Mapping[str, str]) -> list[TermsSet]:
    """Terms for the demo estate's SLAs and OLAs, given by name (stored ids); ones it has no
    terms for keep none. Escalation paths name the active teams of `DEMO_TEAMS`."""
    teams = cypher.active_teams_by_name(uow.tx, DEMO_TEAMS)
    wanted = _demo_terms(teams)
    done = []
    for name, agreement_id in agreements.items():
        if name in wanted:
            label = cypher.agreement_labels(uow.tx, AGREEMENT_LABELS, agreement_id)[0]
            done.append(write_terms(uow, label, agreement_id, wanted[name]))
    return done
