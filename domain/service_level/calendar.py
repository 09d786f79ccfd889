"""Business calendars: the time base of every SLA clock.

An instant counts as business time when the calendar is 24x7, or when its wall-clock time in the
calendar's zone falls in one of the working intervals of its local weekday and its local date is
neither a public holiday of the calendar's country and subdivision (as the `holidays` package
gives them, observed days included) nor one of the calendar's own closed dates. Elapsed time is
real time: on a fall-back day a repeated working hour counts twice, on a spring-forward day the
skipped hour never counts.

Hand-written because no well-kept library computes business time this way across daylight-saving
changes and holidays (business-hours packages either count wall-clock time, which is wrong on the
days the clocks change, or ignore zones altogether); `holidays` gives the dates, `zoneinfo` the
offsets. The timeline is cut where the zone's UTC offset changes; between two changes wall time is
UTC plus a constant, so each working interval of each local day maps onto UTC by a subtraction,
and long spans cost one step per day, not per minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import holidays

from core.errors import ValidationFailed

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ZERO = timedelta(0)
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)

Window = tuple[timedelta, timedelta]  # [start, end) as offsets from local midnight


@dataclass(frozen=True)
class BusinessCalendar:
    """When an SLA clock runs: a zone, working hours per weekday and the days that are closed."""

    timezone: str  # IANA name, e.g. "Europe/Berlin"
    # weekday (0 = Monday) -> working intervals [start, end) in local wall time; an end of
    # time(0) means midnight at the end of the day
    hours: Mapping[int, tuple[tuple[time, time], ...]]
    holiday_country: str | None = None  # ISO 3166 code for holidays.country_holidays
    holiday_subdivision: str | None = None  # its region/state/province code (`subdiv`)
    extra_holidays: frozenset[date] = frozenset()  # the calendar's own closed dates
    always: bool = False  # 24x7: every instant counts, holidays ignored
    _windows: tuple[tuple[Window, ...], ...] = field(init=False, repr=False, compare=False)
    _day_totals: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        windows = _windows_by_weekday(self.hours)
        object.__setattr__(self, "hours", MappingProxyType(_frozen_hours(windows)))
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        object.__setattr__(self, "_windows", windows)
        object.__setattr__(
            self, "_day_totals", tuple(sum((e - s for s, e in w), _ZERO) for w in windows)
        )
        ZoneInfo(self.timezone)  # an unknown zone is a programming error here, found at once

    def __hash__(self) -> int:
        # the generated hash would fail on the `hours` mapping; the windows say the same thing
        return hash(
            (
                self.timezone,
                self._windows,
                self.holiday_country,
                self.holiday_subdivision,
                self.extra_holidays,
                self.always,
            )
        )

    # --- the questions an SLA clock asks -------------------------------------------------

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """The business time in [start, end); zero when end <= start."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= start:
            return _ZERO
        if self.always:
            return end - start
        total = _ZERO
        for a, b, offset in _constant_offset_spans(self.timezone, start):
            if a >= end:
                break
            total += self._wall_business(a + offset, min(b, end) + offset)
        return total

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant t with business_time(start, t) == amount, in UTC."""
        start = _utc(start, "start")
        if amount < _ZERO:
            raise ValueError(f"amount must not be negative, got {amount}")
        if self.always or amount == _ZERO:
            return start + amount
        if not any(self._day_totals):
            raise ValueError("a calendar without working hours never accrues business time")
        remaining = amount
        for a, b, offset in _constant_offset_spans(self.timezone, start):
            reached, remaining = self._wall_reach(a + offset, b + offset, remaining)
            if reached is not None:
                return reached - offset
        raise AssertionError("unreachable: the spans never end")  # pragma: no cover

    def is_business_instant(self, instant: datetime) -> bool:
        instant = _utc(instant, "instant")
        if self.always:
            return True
        local = instant.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        day = local.date()
        if self._closed(day):
            return False
        since_midnight = local - datetime.combine(day, time())
        return any(s <= since_midnight < e for s, e in self._windows[day.weekday()])

    # --- storage ------------------------------------------------------------------------

    def to_stored(self) -> dict[str, Any]:
        """Flat properties for a Neo4j node (lists of strings, no maps)."""
        return {
            "calendarTimezone": self.timezone,
            "calendarAlways": self.always,
            "calendarHours": [
                f"{WEEKDAYS[weekday]} {_clock(s)}-{_clock(e)}"
                for weekday, windows in enumerate(self._windows)
                for s, e in windows
            ],
            "holidayCountry": self.holiday_country,
            "holidaySubdivision": self.holiday_subdivision,
            "holidayDates": sorted(d.isoformat() for d in self.extra_holidays),
        }

    @classmethod
    def from_stored(cls, props: Mapping[str, Any]) -> BusinessCalendar:
        """The calendar `to_stored` wrote; a node that stores no calendar runs 24x7.

        Stored calendars were checked when they were written, so only their form is read here:
        a country that a later `holidays` release renamed still loads.
        """
        if props.get("calendarTimezone") is None:
            return TWENTY_FOUR_SEVEN
        field_prefix = "calendar."
        return cls(
            timezone=props["calendarTimezone"],
            hours=_parse_hours(props.get("calendarHours") or (), field_prefix),
            holiday_country=props.get("holidayCountry"),
            holiday_subdivision=props.get("holidaySubdivision"),
            extra_holidays=_parse_dates(props.get("holidayDates") or (), field_prefix),
            always=bool(props.get("calendarAlways")),
        )

    # --- the walk over wall-clock days ----------------------------------------------------

    def _closed(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return self.holiday_country is not None and day in _public_holidays(
            self.holiday_country, self.holiday_subdivision, day.year
        )

    def _wall_business(self, w0: datetime, w1: datetime) -> timedelta:
        """Business time between two wall-clock readings [w0, w1) of one constant-offset span."""
        total = _ZERO
        for midnight, weekday, whole_day in self._open_days(w0, w1):
            if whole_day:
                total += self._day_totals[weekday]
            else:
                for lo, hi in self._working_pieces(midnight, weekday, w0, w1):
                    total += hi - lo
        return total

    def _wall_reach(
        self, w0: datetime, w1: datetime, remaining: timedelta
    ) -> tuple[datetime | None, timedelta]:
        """Where `remaining` business time runs out between w0 and w1, or what is left after w1."""
        for midnight, weekday, whole_day in self._open_days(w0, w1):
            if whole_day and self._day_totals[weekday] < remaining:
                remaining -= self._day_totals[weekday]
                continue
            for lo, hi in self._working_pieces(midnight, weekday, w0, w1):
                if remaining <= hi - lo:
                    return lo + remaining, _ZERO
                remaining -= hi - lo
        return None, remaining

    def _open_days(self, w0: datetime, w1: datetime) -> Iterator[tuple[datetime, int, bool]]:
        """The local days [w0, w1) touches that are not closed: their midnight, their weekday, and
        whether [w0, w1) holds the whole day."""
        day = w0.date()
        midnight = datetime.combine(day, time(), w0.tzinfo)
        while midnight < w1:
            if not self._closed(day):
                yield midnight, day.weekday(), w0 <= midnight and midnight + _DAY <= w1
            day += _DAY
            midnight += _DAY

    def _working_pieces(
        self, midnight: datetime, weekday: int, w0: datetime, w1: datetime
    ) -> Iterator[tuple[datetime, datetime]]:
        """The day's working intervals cut to [w0, w1), in order, empty ones left out."""
        for s, e in self._windows[weekday]:
            lo, hi = max(w0, midnight + s), min(w1, midnight + e)
            if hi > lo:
                yield lo, hi


def calendar_from_input(
    *,
    timezone: str,
    hours: Iterable[str] | None,
    holiday_country: str | None,
    holiday_subdivision: str | None,
    holiday_dates: Iterable[str | date] | None,
    always: bool,
    field_prefix: str = "calendar.",
) -> BusinessCalendar:
    """A calendar from what a user typed, or a ValidationFailed naming the field and the rule.

    `hours` entries read like "mon-fri 08:00-17:00", "sat 09:00-12:00,13:00-15:00" or
    "sun 00:00-24:00".
    """
    zone = _checked_timezone(timezone, field_prefix)
    country, subdivision = _checked_region(holiday_country, holiday_subdivision, field_prefix)
    parsed_hours = _parse_hours(hours or (), field_prefix)
    if not always and not parsed_hours:
        raise ValidationFailed(
            f"{field_prefix}hours",
            "no_working_time",
            "a calendar that is not 24x7 needs working hours, or no clock on it could ever end: "
            'give entries like "mon-fri 08:00-17:00", or set it to run always',
        )
    return BusinessCalendar(
        timezone=zone,
        hours=parsed_hours,
        holiday_country=country,
        holiday_subdivision=subdivision,
        extra_holidays=_parse_dates(holiday_dates or (), field_prefix),
        always=always,
    )


# --- zone offsets --------------------------------------------------------------------------


def _constant_offset_spans(
    zone_name: str, start: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """Consecutive UTC spans [a, b) from `start` on, each with the zone's UTC offset all through it.

    The walks read wall-clock time as `instant + offset`, kept in UTC-labelled datetimes so that
    no zone rule applies twice; `reading - offset` is the instant again.
    """
    a = start
    offset = start.astimezone(ZoneInfo(zone_name)).utcoffset()
    assert offset is not None
    year = start.year
    while True:
        for change, new_offset in _offset_changes(zone_name, year):
            if change > a:
                yield a, change, offset
                a, offset = change, new_offset
        year_end = datetime(year + 1, 1, 1, tzinfo=UTC)
        yield a, year_end, offset
        a, year = year_end, year + 1


@lru_cache(maxsize=1024)
def _offset_changes(zone_name: str, year: int) -> tuple[tuple[datetime, timedelta], ...]:
    """The UTC instants in `year` at which the zone's offset changes, each with its new offset.

    zoneinfo keeps its transitions private, so they are found by asking for the offset hour by
    hour (no zone changes its offset twice within an hour) and bisecting to the second (zone
    files give transitions in whole seconds).
    """
    zone = ZoneInfo(zone_name)

    def offset_at(instant: datetime) -> timedelta:
        offset = instant.astimezone(zone).utcoffset()
        assert offset is not None
        return offset

    changes: list[tuple[datetime, timedelta]] = []
    hour = timedelta(hours=1)
    probe, year_end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    before = offset_at(probe)
    while probe < year_end:
        after = offset_at(probe + hour)
        if after != before:
            lo, hi = 0, 3600  # seconds after `probe`: lo still has the old offset, hi the new
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(probe + mid * _SECOND) == before:
                    lo = mid
                else:
                    hi = mid
            changes.append((probe + hi * _SECOND, after))
            before = after
        probe += hour
    return tuple(change for change in changes if change[0] < year_end)


@lru_cache(maxsize=4096)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(
        day
        for day in holidays.country_holidays(country, subdiv=subdivision, years=year)
        if day.year == year
    )


def _utc(instant: datetime, name: str) -> datetime:
    if instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive datetime {instant}")
    return instant.astimezone(UTC)


# --- working hours --------------------------------------------------------------------------


def _since_midnight(t: time) -> timedelta:
    if t.tzinfo is not None or t.microsecond:
        raise ValueError(f"working hours are wall-clock times to the second, got {t!r}")
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def _windows_by_weekday(
    hours: Mapping[int, Iterable[tuple[time, time]]],
) -> tuple[tuple[Window, ...], ...]:
    """Sorted [start, end) offsets per weekday, touching intervals joined."""
    days: list[list[Window]] = [[] for _ in WEEKDAYS]
    for weekday, intervals in hours.items():
        if weekday not in range(7):
            raise ValueError(f"weekdays run from 0 (Monday) to 6 (Sunday), got {weekday!r}")
        for start, end in intervals:
            s, e = _since_midnight(start), _since_midnight(end) or _DAY
            if e <= s:
                raise ValueError(f"working interval {start}-{end} does not end after it starts")
            days[weekday].append((s, e))
    result = []
    for windows in days:
        windows.sort()
        joined: list[Window] = []
        for s, e in windows:
            if joined and s < joined[-1][1]:
                raise ValueError(f"working intervals overlap: {joined[-1]} and {(s, e)}")
            if joined and s == joined[-1][1]:
                joined[-1] = (joined[-1][0], e)
            else:
                joined.append((s, e))
        result.append(tuple(joined))
    return tuple(result)


def _wall_time(offset: timedelta) -> time:
    seconds = int(offset.total_seconds()) % 86400  # 24:00 is time(0), midnight ending the day
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _frozen_hours(
    windows: tuple[tuple[Window, ...], ...],
) -> Mapping[int, tuple[tuple[time, time], ...]]:
    return {
        weekday: tuple((_wall_time(s), _wall_time(e)) for s, e in day)
        for weekday, day in enumerate(windows)
        if day
    }


def _clock(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    hh, mm, ss = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{hh:02d}:{mm:02d}:{ss:02d}" if ss else f"{hh:02d}:{mm:02d}"


_HOURS_ENTRY = re.compile(r"\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?)\s+(?P<intervals>\S.*?)\s*")
_INTERVAL = re.compile(r"\s*(\d\d):(\d\d)(?::(\d\d))?\s*-\s*(\d\d):(\d\d)(?::(\d\d))?\s*")
_HOURS_FORM = (
    "write a weekday or a range of weekdays (mon, tue, wed, thu, fri, sat, sun) and one or more "
    'intervals, like "mon-fri 08:00-17:00" or "sat 09:00-12:00,13:00-15:00"; times are HH:MM '
    "in the calendar's zone, 24:00 for midnight at the end of the day"
)


def _parse_hours(
    entries: Iterable[str], field_prefix: str
) -> dict[int, tuple[tuple[time, time], ...]]:
    where = f"{field_prefix}hours"
    seen: list[tuple[int, timedelta, timedelta, str]] = []  # weekday, start, end, entry
    for index, entry in enumerate(entries):
        match = _HOURS_ENTRY.fullmatch(entry.lower()) if isinstance(entry, str) else None
        if match is None:
            raise _malformed_hours(entry, where, index, "cannot be read")
        weekdays = _weekdays(match["days"], entry, where, index)
        for part in match["intervals"].split(","):
            start, end = _interval(part, entry, where, index)
            for weekday in weekdays:
                for other_day, other_start, other_end, other in seen:
                    if other_day == weekday and start < other_end and other_start < end:
                        raise ValidationFailed(
                            where,
                            "overlapping_hours",
                            f"working hours {entry!r} overlap {other!r} on "
                            f"{WEEKDAYS[weekday]}: give each stretch of a day once",
                            index=index,
                        )
                seen.append((weekday, start, end, entry))
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end, _ in sorted(seen):
        hours.setdefault(weekday, []).append((_wall_time(start), _wall_time(end)))
    return {weekday: tuple(intervals) for weekday, intervals in hours.items()}


def _malformed_hours(entry: str, where: str, index: int, trouble: str) -> ValidationFailed:
    return ValidationFailed(
        where, "malformed_hours", f"working hours {entry!r} {trouble}: {_HOURS_FORM}", index=index
    )


def _weekdays(days: str, entry: str, where: str, index: int) -> list[int]:
    names = [name.strip() for name in days.split("-")]
    if any(name not in WEEKDAYS for name in names):
        raise _malformed_hours(entry, where, index, "name no weekday")
    first, last = WEEKDAYS.index(names[0]), WEEKDAYS.index(names[-1])
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]  # "fri-mon" wraps


def _interval(part: str, entry: str, where: str, index: int) -> tuple[timedelta, timedelta]:
    match = _INTERVAL.fullmatch(part)
    if match is None:
        raise _malformed_hours(entry, where, index, "cannot be read")
    h1, m1, s1, h2, m2, s2 = (int(g or 0) for g in match.groups())
    start = timedelta(hours=h1, minutes=m1, seconds=s1)
    end = timedelta(hours=h2, minutes=m2, seconds=s2)
    if max(m1, m2) > 59 or max(s1, s2) > 59 or h1 > 23 or end > _DAY:
        raise _malformed_hours(entry, where, index, "hold a time that is not on the clock")
    if end <= start:
        raise ValidationFailed(
            where,
            "end_not_after_start",
            f"working hours {entry!r} end at {_clock(end)}, not after they start at "
            f"{_clock(start)}: hours that run past midnight are two entries, like "
            '"mon 22:00-24:00" and "tue 00:00-06:00"',
            index=index,
        )
    return start, end


# --- closed dates, zones and regions --------------------------------------------------------


def _parse_dates(values: Iterable[str | date], field_prefix: str) -> frozenset[date]:
    days = set()
    for index, value in enumerate(values):
        if isinstance(value, date) and not isinstance(value, datetime):
            days.add(value)
            continue
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            days.add(date.fromisoformat(value))
        except ValueError:
            raise ValidationFailed(
                f"{field_prefix}holidayDates",
                "malformed_date",
                f"{value!r} is not a calendar date: give closed dates as YYYY-MM-DD, "
                'like "2026-12-24"',
                index=index,
            ) from None
    return frozenset(days)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())  # reads the zone files from disk: once


def _checked_timezone(name: str, field_prefix: str) -> str:
    if isinstance(name, str) and name in _zone_names():
        return name
    spelt = name.lower() if isinstance(name, str) else None
    close = [zone for zone in _zone_names() if zone.lower() == spelt]
    hint = f'; did you mean "{close[0]}"?' if close else ""
    raise ValidationFailed(
        f"{field_prefix}timezone",
        "unknown_timezone",
        f'{name!r} is not an IANA time zone: give a name like "Europe/Berlin", '
        f'"America/New_York" or "UTC"{hint}',
    )


@lru_cache(maxsize=1)
def _supported_regions() -> Mapping[str, tuple[str, ...]]:
    return {
        country: tuple(subdivisions)
        for country, subdivisions in holidays.list_supported_countries().items()
    }


def _checked_region(
    country: str | None, subdivision: str | None, field_prefix: str
) -> tuple[str | None, str | None]:
    """The country and subdivision as the holidays package spells them; blanks mean none."""
    country = (country or "").strip().upper() or None
    subdivision = (subdivision or "").strip() or None
    if country is None:
        if subdivision is not None:
            raise ValidationFailed(
                f"{field_prefix}holidaySubdivision",
                "country_required",
                f"subdivision {subdivision!r} needs the country it belongs to in holidayCountry",
            )
        return None, None
    regions = _supported_regions()
    if country not in regions:
        raise ValidationFailed(
            f"{field_prefix}holidayCountry",
            "unknown_country",
            f"{country!r} is not a country with known public holidays: give an ISO 3166 code "
            'like "DE", "US" or "GB"',
        )
    if subdivision is None:
        return country, None
    for known in regions[country]:
        if known.lower() == subdivision.lower():
            return country, known
    accepted = ", ".join(regions[country]) or "none: leave it empty"
    raise ValidationFailed(
        f"{field_prefix}holidaySubdivision",
        "unknown_subdivision",
        f"{subdivision!r} is not a subdivision of {country} with its own holidays; "
        f"accepted: {accepted}",
    )


TWENTY_FOUR_SEVEN = BusinessCalendar(timezone="UTC", hours={}, always=True)
