"""What an SLA or an OLA promises, declared once: its terms, one immutable version per change,
and the escalation path each version carries.

An agreement's terms are never edited in place. Setting them writes a new `AgreementTerms`
version and closes the previous one (`current: false`, `validTo`), so a record governed by an
old version keeps the targets it was measured against and a past breach never changes.

A terms node's `version` (the property every record has) is its place in the agreement's
history: 1, 2, … Nothing edits a version once written, so it never counts edits; closing a
version (`current`, `validTo`) leaves it as it is.
"""

from __future__ import annotations

import enum

from core.priority import Priority
from core.records import Kind, Prop, RecordType, declare, describe

PROCESS = "Service Level Management"

# The records that have terms: (SLA|OLA)-[:HAS_TERMS]->(AgreementTerms).
AGREEMENT_LABELS = ("SLA", "OLA")


class AvailabilityPeriod(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


describe(
    AvailabilityPeriod,
    "The period over which availability is measured against its target.",
    {
        AvailabilityPeriod.MONTH: "Each calendar month.",
        AvailabilityPeriod.QUARTER: "Each calendar quarter.",
        AvailabilityPeriod.YEAR: "Each calendar year.",
    },
)


class EscalationClock(enum.StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


describe(
    EscalationClock,
    "The clock of a record an escalation level watches.",
    {
        EscalationClock.RESPONSE: "From when the record opens until it is first responded to.",
        EscalationClock.RESOLUTION: "From when the record opens until it is resolved.",
    },
)


def target_property(clock: EscalationClock, priority: Priority) -> str:
    """The stored name of a target: `responseP1`, `resolutionP5`."""
    return f"{clock.value}{priority.value}"


def _target(clock: EscalationClock, priority: Priority) -> Prop:
    return Prop(
        target_property(clock, priority),
        Kind.INT,
        f"The {clock.value} target at {priority.value}, in whole minutes of business time; "
        "none when the agreement sets no target at that priority.",
    )


AGREEMENT_TERMS = RecordType(
    "AgreementTerms",
    None,
    PROCESS,
    "One version of an SLA's or an OLA's terms: targets per priority, availability, warnings "
    "and the business calendar. Immutable once written; a change writes the next version.",
    properties=(
        Prop("current", Kind.BOOL, "Whether this is the agreement's version in force now."),
        Prop("validFrom", Kind.DATETIME, "When this version came into force.", required=True),
        Prop("validTo", Kind.DATETIME, "When the next version replaced it; none while current."),
        *(_target(EscalationClock.RESPONSE, p) for p in Priority),
        *(_target(EscalationClock.RESOLUTION, p) for p in Priority),
        Prop("availabilityTarget", Kind.FLOAT, "The availability promised, in percent (0-100)."),
        Prop(
            "availabilityPeriod",
            Kind.STRING,
            "The period availability is measured over.",
            values=AvailabilityPeriod,
        ),
        Prop(
            "warningPercents",
            Kind.INTS,
            "When a clock warns, in whole percents of its target (each 1-99, ascending).",
        ),
        # The calendar as BusinessCalendar.to_stored() writes it.
        Prop("calendarTimezone", Kind.STRING, "The zone the working hours are in (IANA name)."),
        Prop("calendarAlways", Kind.BOOL, "Whether clocks run around the clock (24x7)."),
        Prop("calendarHours", Kind.STRINGS, 'The working hours, e.g. "mon 08:00-18:00".'),
        Prop("holidayCountry", Kind.STRING, "The country whose public holidays are closed days."),
        Prop("holidaySubdivision", Kind.STRING, "Its state or region, for regional holidays."),
        Prop("holidayDates", Kind.STRINGS, "The agreement's own closed dates (ISO dates)."),
    ),
)

ESCALATION_LEVEL = RecordType(
    "EscalationLevel",
    None,
    PROCESS,
    "One step of an agreement's escalation path: when it fires on which clock, whom it notifies "
    "and where it reassigns the record.",
    properties=(
        Prop("level", Kind.INT, "Its place in the path: 1, 2, … in the order they fire.", True),
        Prop(
            "clock",
            Kind.STRING,
            "The clock it watches.",
            required=True,
            values=EscalationClock,
        ),
        Prop("afterMinutes", Kind.INT, "Fires this many business minutes after the clock starts."),
        Prop(
            "atPercent",
            Kind.INT,
            "Fires at this percentage of the target (above 100: after the breach).",
        ),
        Prop(
            "repeatEveryMinutes",
            Kind.INT,
            "Fires again every so many business minutes while the clock runs; none: once.",
        ),
        Prop(
            "notifyAssignee",
            Kind.BOOL,
            "Also notifies whoever the record is assigned to when the level fires.",
        ),
    ),
)

declare(AGREEMENT_TERMS, ESCALATION_LEVEL)

__all__ = [
    "AGREEMENT_LABELS",
    "AGREEMENT_TERMS",
    "ESCALATION_LEVEL",
    "AvailabilityPeriod",
    "EscalationClock",
    "target_property",
]
