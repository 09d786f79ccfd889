"""Business calendars, checked against a second, minute-by-minute model of the same definition.

The reference below knows nothing of the calendar's walk over offset spans: it asks zoneinfo for
the local time of every whole minute, the holidays package for the local date and the raw working
hours for the local time, and counts. Instants, working hours and zone offsets are all on whole
minutes here, so counting minutes measures business time exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ValidationFailed
from domain.service_level.calendar import (
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    calendar_from_input,
)

MINUTE = timedelta(minutes=1)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

Hours = Mapping[int, tuple[tuple[time, time], ...]]
# a calendar, the working hours it was made from, and a span [start, end)
Span = tuple[BusinessCalendar, Hours, datetime, datetime]

# --- the reference ---------------------------------------------------------------------------


@cache
def public_holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)


def reference_counts(calendar: BusinessCalendar, hours: Hours, instant: datetime) -> bool:
    """The definition, read literally, for one instant."""
    if calendar.always:
        return True
    local = instant.astimezone(ZoneInfo(calendar.timezone))
    day = local.date()
    if day in calendar.extra_holidays:
        return False
    country = calendar.holiday_country
    if country is not None and day in public_holidays(country, calendar.holiday_subdivision):
        return False
    wall = local.time().replace(tzinfo=None)
    return any(
        start <= wall and (end == time(0) or wall < end)
        for start, end in hours.get(local.weekday(), ())
    )


def reference_business_time(
    calendar: BusinessCalendar, hours: Hours, start: datetime, end: datetime
) -> timedelta:
    minutes = 0
    instant = start
    while instant < end:
        minutes += reference_counts(calendar, hours, instant)
        instant += MINUTE
    return minutes * MINUTE


# --- random calendars and instants -----------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    regions: tuple[tuple[str, str | None] | None, ...]  # holiday country and subdivision
    days: tuple[date, ...]  # days the clocks change, holidays (regional, observed), a new year


ZONES = {
    "Europe/Berlin": Zone(
        regions=(("DE", "BY"), ("DE", None), None),
        days=(
            date(2026, 3, 29),
            date(2026, 10, 25),
            date(2027, 3, 28),
            date(2026, 12, 25),
            date(2026, 5, 25),
            date(2026, 1, 6),
            date(2026, 6, 4),
            date(2027, 1, 1),
        ),
    ),
    "America/New_York": Zone(
        regions=(("US", "CA"), ("US", "NY"), ("US", None), None),
        days=(
            date(2026, 3, 8),
            date(2026, 11, 1),
            date(2026, 3, 31),
            date(2026, 7, 3),
            date(2026, 11, 26),
            date(2026, 2, 12),
            date(2027, 1, 1),
        ),
    ),
    "Australia/Lord_Howe": Zone(
        regions=(("AU", "NSW"), None),
        days=(
            date(2026, 4, 5),
            date(2026, 10, 4),
            date(2026, 4, 3),
            date(2026, 1, 26),
            date(2026, 10, 5),
            date(2027, 1, 1),
        ),
    ),
    "UTC": Zone(
        regions=(("GB", None), None),
        days=(date(2026, 12, 25), date(2026, 8, 31), date(2027, 1, 1)),
    ),
}
# Minute marks where the clocks of the zones above jump (01:30 to 03:00), besides any minute.
MARKS = st.one_of(
    st.sampled_from([0, 60, 90, 105, 120, 135, 150, 180, 480, 1020, 1440]),
    st.integers(0, 1440),
)
INTERVALS = (
    st.lists(MARKS, min_size=2, max_size=6, unique=True)
    .map(sorted)
    .map(lambda marks: marks[: len(marks) // 2 * 2])
)


def clock(minutes: int) -> time:
    return time(0) if minutes == 1440 else time(minutes // 60, minutes % 60)


@st.composite
def working_hours(draw: st.DrawFn) -> dict[int, tuple[tuple[time, time], ...]]:
    """A usual week (most days alike, some closed), with days of their own."""
    usual = draw(INTERVALS)
    hours = {}
    for weekday in range(7):
        kind = draw(st.sampled_from(["usual", "usual", "own", "closed"]))
        marks = usual if kind == "usual" else draw(INTERVALS) if kind == "own" else []
        if marks:
            pairs = zip(marks[::2], marks[1::2], strict=True)
            hours[weekday] = tuple((clock(s), clock(e)) for s, e in pairs)
    return hours


@st.composite
def spans(draw: st.DrawFn) -> Span:
    """A calendar and a span of up to four days, mostly across one of its zone's special days."""
    name = draw(st.sampled_from(sorted(ZONES)))
    zone = ZONES[name]
    # Hypothesis favours small numbers and tries each of a few choices about once; instants
    # spread evenly over the days around a special day, or over four years, find more.
    spread = draw(st.randoms(use_true_random=True))
    if spread.random() < 0.75:
        day = spread.choice(zone.days)
    else:
        day = date(2025, 1, 1) + timedelta(days=spread.randint(0, 4 * 365))
    special = datetime.combine(day, time(), ZoneInfo(name)).astimezone(UTC)
    start = special - spread.randint(0, 2 * 1440) * MINUTE
    end = start + spread.randint(0, 4 * 1440) * MINUTE
    region = draw(st.sampled_from(zone.regions))
    hours = draw(working_hours())
    extra = draw(st.frozensets(st.integers(-1, 4).map(lambda n: start.date() + timedelta(days=n))))
    calendar = BusinessCalendar(
        timezone=name,
        hours=hours,
        holiday_country=region[0] if region else None,
        holiday_subdivision=region[1] if region else None,
        extra_holidays=extra,
        always=draw(st.sampled_from([False] * 9 + [True])),
    )
    return calendar, hours, start, end


PROPERTIES = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@PROPERTIES
@given(spans())
def test_business_time_equals_the_minute_by_minute_count(
    span: Span,
) -> None:
    calendar, hours, start, end = span
    assert calendar.business_time(start, end) == reference_business_time(
        calendar, hours, start, end
    )


@PROPERTIES
@given(spans())
def test_adding_the_business_time_of_a_span_lands_at_the_earliest_instant_with_it(
    span: Span,
) -> None:
    calendar, _, start, end = span
    amount = calendar.business_time(start, end)
    due = calendar.add_business_time(start, amount)
    assert due.tzinfo is UTC
    assert start <= due <= end
    assert calendar.business_time(start, due) == amount
    if amount:
        assert calendar.business_time(start, due - MINUTE) < amount


@PROPERTIES
@given(spans(), st.floats(0, 1))
def test_business_time_adds_up_and_never_shrinks(span: Span, where: float) -> None:
    calendar, _, start, end = span
    middle = start + round((end - start) / MINUTE * where) * MINUTE
    first, second = calendar.business_time(start, middle), calendar.business_time(middle, end)
    assert first + second == calendar.business_time(start, end)
    assert first <= calendar.business_time(start, end)
    assert calendar.add_business_time(start, first) <= calendar.add_business_time(
        start, first + second
    )


@PROPERTIES
@given(spans(), st.integers(0, 3 * 1440))
def test_adding_business_time_stops_where_the_minute_count_reaches_it(
    span: Span, minutes: int
) -> None:
    calendar, hours, start, _ = span
    if not calendar.always and not hours:
        return  # no clock on such a calendar ends; calendar_from_input refuses it
    due = calendar.add_business_time(start, minutes * MINUTE)
    # walk the reference for at most ten days: sparse random hours may take years
    counted, instant, horizon = 0, start, start + timedelta(days=10)
    while counted < minutes and instant < horizon:
        counted += reference_counts(calendar, hours, instant)
        instant += MINUTE
    if counted == minutes:
        assert due == instant
    else:
        assert due > horizon
        assert calendar.business_time(start, due) == minutes * MINUTE


@PROPERTIES
@given(spans())
def test_an_instant_counts_as_the_definition_says(span: Span) -> None:
    calendar, hours, instant, end = span
    for at in (instant, end):
        assert calendar.is_business_instant(at) == reference_counts(calendar, hours, at)


# --- examples a reader can check -------------------------------------------------------------


def office(**overrides: Any) -> BusinessCalendar:
    given_input: dict[str, Any] = {
        "timezone": "Europe/Berlin",
        "hours": ["mon-fri 08:00-17:00"],
        "holiday_country": "DE",
        "holiday_subdivision": None,
        "holiday_dates": None,
        "always": False,
    }
    return calendar_from_input(**(given_input | overrides))


ROUND_THE_CLOCK = ["mon-sun 00:00-24:00"]


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


def test_a_spring_forward_day_has_23_hours_and_a_fall_back_day_25() -> None:
    calendar = office(hours=ROUND_THE_CLOCK, holiday_country=None)
    assert calendar.business_time(berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(hours=23)
    assert calendar.business_time(berlin(2026, 10, 25), berlin(2026, 10, 26)) == timedelta(hours=25)
    assert calendar.business_time(berlin(2026, 3, 28), berlin(2026, 3, 29)) == timedelta(hours=24)


def test_working_hours_across_the_changing_hour_count_real_time() -> None:
    calendar = office(hours=["sun 01:00-04:00"], holiday_country=None)
    # 02:00-03:00 does not exist on 29 March; 02:00-03:00 happens twice on 25 October
    assert calendar.business_time(berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(hours=2)
    assert calendar.business_time(berlin(2026, 10, 25), berlin(2026, 10, 26)) == timedelta(hours=4)
    # two business hours from 01:00 on the short day end at 04:00 CEST, 02:00 UTC
    assert calendar.add_business_time(berlin(2026, 3, 29, 1), timedelta(hours=2)) == datetime(
        2026, 3, 29, 2, tzinfo=UTC
    )
    # on the long day, 01:00 CEST is 23:00 UTC: four hours of work end at 04:00 CET, 03:00 UTC
    assert calendar.add_business_time(berlin(2026, 10, 25, 1), timedelta(hours=4)) == datetime(
        2026, 10, 25, 3, tzinfo=UTC
    )


def test_half_hour_daylight_saving_on_lord_howe() -> None:
    calendar = office(timezone="Australia/Lord_Howe", hours=ROUND_THE_CLOCK, holiday_country=None)
    day = timedelta(days=1)
    fall_back = datetime(2026, 4, 5, tzinfo=LORD_HOWE)
    spring_forward = datetime(2026, 10, 4, tzinfo=LORD_HOWE)
    assert calendar.business_time(fall_back, fall_back + day) == timedelta(hours=24, minutes=30)
    assert calendar.business_time(spring_forward, spring_forward + day) == timedelta(
        hours=23, minutes=30
    )


def test_a_working_half_hour_that_lord_howe_skips_never_counts() -> None:
    # 4 October 2026: 02:00 standard time (+10:30, 15:30 UTC) becomes 02:30 summer time (+11)
    calendar = office(
        timezone="Australia/Lord_Howe",
        hours=["sun 02:00-02:30", "sun 02:45-03:00"],
        holiday_country=None,
    )
    sunday = datetime(2026, 10, 4, tzinfo=LORD_HOWE)
    assert calendar.business_time(sunday, sunday + timedelta(days=1)) == timedelta(minutes=15)
    assert calendar.add_business_time(sunday, timedelta(minutes=15)) == datetime(
        2026, 10, 3, 16, tzinfo=UTC
    )
    # 5 April 2026: 02:00 summer time becomes 01:30 standard time, so 01:30-02:00 happens twice
    calendar = office(
        timezone="Australia/Lord_Howe", hours=["sun 01:00-03:00"], holiday_country=None
    )
    sunday = datetime(2026, 4, 5, tzinfo=LORD_HOWE)
    assert calendar.business_time(sunday, sunday + timedelta(days=1)) == timedelta(
        hours=2, minutes=30
    )


def test_an_instant_at_the_end_of_working_hours_is_outside_them() -> None:
    calendar = office()
    assert calendar.is_business_instant(berlin(2026, 3, 9, 8))
    assert calendar.is_business_instant(berlin(2026, 3, 9, 16, 59, 59))
    assert not calendar.is_business_instant(berlin(2026, 3, 9, 17))
    assert not calendar.is_business_instant(berlin(2026, 3, 9, 7, 59))
    assert not calendar.is_business_instant(berlin(2026, 3, 7, 10))  # a Saturday


def test_a_new_york_office_across_its_spring_forward_weekend() -> None:
    calendar = office(timezone="America/New_York", holiday_country="US")
    friday_noon = datetime(2026, 3, 6, 12, tzinfo=NEW_YORK)
    monday_ten = datetime(2026, 3, 9, 10, tzinfo=NEW_YORK)
    assert calendar.business_time(friday_noon, monday_ten) == timedelta(hours=7)
    assert calendar.add_business_time(friday_noon, timedelta(hours=7)) == datetime(
        2026,
        3,
        9,
        14,
        tzinfo=UTC,  # 10:00 EDT
    )


def test_office_hours_skip_the_weekend() -> None:
    calendar = office()
    friday_noon, monday_ten = berlin(2026, 3, 6, 12), berlin(2026, 3, 9, 10)
    assert calendar.business_time(friday_noon, monday_ten) == timedelta(hours=7)
    assert calendar.business_time(monday_ten, friday_noon) == timedelta(0)
    assert calendar.business_time(berlin(2026, 3, 7), berlin(2026, 3, 9)) == timedelta(0)


def test_a_public_holiday_on_a_working_day_is_closed() -> None:
    calendar = office()
    # 25 December 2026 is a Friday
    assert calendar.business_time(berlin(2026, 12, 25), berlin(2026, 12, 26)) == timedelta(0)
    assert calendar.business_time(berlin(2026, 12, 23), berlin(2026, 12, 24)) == timedelta(hours=9)
    assert not calendar.is_business_instant(berlin(2026, 12, 25, 10))
    assert calendar.is_business_instant(berlin(2026, 12, 23, 10))
    # Whit Monday, 25 May 2026
    assert calendar.business_time(berlin(2026, 5, 25), berlin(2026, 5, 26)) == timedelta(0)
    assert calendar.business_time(berlin(2026, 5, 26), berlin(2026, 5, 27)) == timedelta(hours=9)


def test_a_regional_holiday_closes_only_that_region() -> None:
    epiphany = (berlin(2026, 1, 6), berlin(2026, 1, 7))  # a Tuesday; a holiday in Bavaria
    assert office(holiday_subdivision="BY").business_time(*epiphany) == timedelta(0)
    assert office(holiday_subdivision="by").holiday_subdivision == "BY"
    assert office().business_time(*epiphany) == timedelta(hours=9)
    assert office(holiday_country=None).business_time(*epiphany) == timedelta(hours=9)


def test_the_calendars_own_dates_are_closed() -> None:
    calendar = office(holiday_dates=["2026-12-24", date(2026, 12, 31)])
    assert calendar.business_time(berlin(2026, 12, 24), berlin(2026, 12, 25)) == timedelta(0)
    assert calendar.business_time(berlin(2026, 12, 31), berlin(2027, 1, 1)) == timedelta(0)
    assert office().business_time(berlin(2026, 12, 24), berlin(2026, 12, 25)) == timedelta(hours=9)


def test_twenty_four_seven_counts_every_instant() -> None:
    start, end = berlin(2026, 3, 28), berlin(2026, 3, 30)  # a weekend with a short Sunday
    assert TWENTY_FOUR_SEVEN.business_time(start, end) == timedelta(hours=47)
    assert TWENTY_FOUR_SEVEN.add_business_time(start, timedelta(hours=47)) == end
    always = office(always=True, hours=None, holiday_dates=["2026-12-25"])
    christmas = berlin(2026, 12, 25)
    assert always.business_time(christmas, christmas + timedelta(days=1)) == timedelta(days=1)
    assert always.is_business_instant(christmas)


def test_adding_business_time_lands_at_the_end_of_an_interval_not_the_next_start() -> None:
    calendar = office()
    monday_eight = berlin(2026, 3, 9, 8)
    assert calendar.add_business_time(monday_eight, timedelta(hours=9)) == datetime(
        2026,
        3,
        9,
        16,
        tzinfo=UTC,  # 17:00 CET, not Tuesday 08:00
    )
    assert calendar.add_business_time(monday_eight, timedelta(0)) == monday_eight
    assert calendar.add_business_time(berlin(2026, 3, 7), timedelta(minutes=1)) == datetime(
        2026,
        3,
        9,
        7,
        1,
        tzinfo=UTC,  # from a Saturday: Monday 08:01 CET
    )


def test_adding_business_time_rolls_over_a_holiday_and_a_weekend() -> None:
    calendar = office(holiday_dates=["2026-12-24"])
    # Wednesday 23 December 16:00 + 2 h: one hour that day, then Thursday (the calendar's own
    # date), Friday (Christmas) and the weekend are closed, so Monday 08:00 + 1 h
    assert calendar.add_business_time(berlin(2026, 12, 23, 16), timedelta(hours=2)) == datetime(
        2026, 12, 28, 8, tzinfo=UTC
    )


def test_months_long_spans_match_the_minute_count() -> None:
    calendar = office(holiday_subdivision="BY", holiday_dates=["2026-12-24"])
    hours = {weekday: ((time(8), time(17)),) for weekday in range(5)}
    start, end = berlin(2026, 9, 15, 10, 30), berlin(2027, 4, 2, 11, 45)
    amount = calendar.business_time(start, end)
    assert amount == reference_business_time(calendar, hours, start, end)
    assert calendar.add_business_time(start, amount) == end


def test_naive_datetimes_are_refused() -> None:
    calendar = office()
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.business_time(datetime(2026, 3, 9), berlin(2026, 3, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_business_time(datetime(2026, 3, 9), timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_business_instant(datetime(2026, 3, 9))


def test_a_calendar_round_trips_through_its_stored_properties() -> None:
    calendar = office(
        hours=["mon-fri 08:00-12:00, 13:00-17:00", "sat 00:00-24:00"],
        holiday_subdivision="BY",
        holiday_dates=["2026-12-24"],
    )
    stored = calendar.to_stored()
    assert stored == {
        "calendarTimezone": "Europe/Berlin",
        "calendarAlways": False,
        "calendarHours": [
            *(
                f"{day} {interval}"
                for day in ("mon", "tue", "wed", "thu", "fri")
                for interval in ("08:00-12:00", "13:00-17:00")
            ),
            "sat 00:00-24:00",
        ],
        "holidayCountry": "DE",
        "holidaySubdivision": "BY",
        "holidayDates": ["2026-12-24"],
    }
    assert BusinessCalendar.from_stored(stored) == calendar
    assert BusinessCalendar.from_stored({}) == TWENTY_FOUR_SEVEN
    assert BusinessCalendar.from_stored(TWENTY_FOUR_SEVEN.to_stored()) == TWENTY_FOUR_SEVEN


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "calendar.timezone", "unknown_timezone"),
        ({"timezone": "europe/berlin"}, "calendar.timezone", "unknown_timezone"),
        ({"timezone": ""}, "calendar.timezone", "unknown_timezone"),
        ({"holiday_country": "XX"}, "calendar.holidayCountry", "unknown_country"),
        ({"holiday_subdivision": "ZZ"}, "calendar.holidaySubdivision", "unknown_subdivision"),
        (
            {"holiday_country": None, "holiday_subdivision": "BY"},
            "calendar.holidaySubdivision",
            "country_required",
        ),
        ({"hours": ["weekdays 8-5"]}, "calendar.hours", "malformed_hours"),
        ({"hours": ["mon 08:00"]}, "calendar.hours", "malformed_hours"),
        ({"hours": ["mon 25:00-26:00"]}, "calendar.hours", "malformed_hours"),
        ({"hours": ["mon 08:00-24:30"]}, "calendar.hours", "malformed_hours"),
        ({"hours": ["mon 08:70-09:00"]}, "calendar.hours", "malformed_hours"),
        ({"hours": ["xyz 08:00-17:00"]}, "calendar.hours", "malformed_hours"),
        ({"hours": ["mon 17:00-08:00"]}, "calendar.hours", "end_not_after_start"),
        ({"hours": ["mon 08:00-08:00"]}, "calendar.hours", "end_not_after_start"),
        (
            {"hours": ["mon-fri 08:00-17:00", "fri 16:00-18:00"]},
            "calendar.hours",
            "overlapping_hours",
        ),
        ({"hours": ["mon 08:00-12:00,11:00-13:00"]}, "calendar.hours", "overlapping_hours"),
        ({"hours": []}, "calendar.hours", "no_working_time"),
        ({"hours": None}, "calendar.hours", "no_working_time"),
        ({"holiday_dates": ["2026-02-30"]}, "calendar.holidayDates", "malformed_date"),
        ({"holiday_dates": ["24.12.2026"]}, "calendar.holidayDates", "malformed_date"),
        (
            {"holiday_dates": [datetime(2026, 12, 24, tzinfo=UTC)]},
            "calendar.holidayDates",
            "malformed_date",
        ),
    ],
)
def test_refused_input_names_the_field_and_the_rule(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        office(**overrides)
    assert refused.value.field == field
    assert refused.value.reason == reason
    assert refused.value.extensions["code"] == "BAD_USER_INPUT"


def test_refusals_say_what_is_accepted() -> None:
    with pytest.raises(ValidationFailed, match='did you mean "Europe/Berlin"'):
        office(timezone="europe/berlin")
    with pytest.raises(ValidationFailed, match="accepted: BB, BE, BW, BY"):
        office(holiday_subdivision="ZZ")
    with pytest.raises(ValidationFailed, match='"mon 22:00-24:00" and "tue 00:00-06:00"'):
        office(hours=["mon 22:00-06:00"])
    with pytest.raises(ValidationFailed, match="YYYY-MM-DD"):
        office(holiday_dates=["tomorrow"])


def test_the_field_prefix_names_where_the_calendar_sits_in_the_input() -> None:
    with pytest.raises(ValidationFailed) as refused:
        office(timezone="Nowhere", field_prefix="input.calendar.")
    assert refused.value.field == "input.calendar.timezone"
