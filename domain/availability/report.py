"""Availability per CI and per Service, per period of an agreement, on the agreement's calendar,
and the compliance report of SLAs and customers against their availability targets.

For each period (month, quarter or year in the calendar's zone, as the agreement's terms say;
the first and last cut to the range asked) the agreed time is the calendar's business time, and
the downtime the business time during which the CI was down. A Service is down while the set of
CIs down at that moment takes it down by the CMDB's propagation and redundancy rules
(`domain.impact.down_with`): one member of a redundant pair down leaves it up, both take it down.
Degraded time (a degraded outage, or for a Service something it needs out while it stays up) is
reported beside the downtime and never counted in it. Availability is 1 - downtime / agreed time,
in percent.

Each period is measured against the agreement's terms in force at its end (for the period going
on, now); a period before the agreement's first terms against its first terms. The periods are
cut by the terms in force at the end of the range. An outage going on counts until the end of the
range, and the range ends now at the latest.

Everything is read in a fixed number of queries whatever the number of outages, services and
agreements: the agreements with their services, customers and terms; what the services need; the
outages of every CI concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from neo4j import ManagedTransaction

from core.access import Actor, Permission
from core.agreement_terms import AvailabilityPeriod
from core.errors import NotFound, ValidationFailed
from core.events import OutageKind
from domain import impact
from domain.availability.outages import native
from domain.service_level.calendar import BusinessCalendar
from domain.service_level.terms import AgreementTermsView, agreement_ref, view_of
from graphdb.cypher import agreement_terms as terms_cypher
from graphdb.cypher import availability as cypher
from graphdb.write_path import Store, now

MAX_RANGE = timedelta(days=5 * 366)  # a report beyond five years is a typo, and slow
_ZERO = timedelta(0)
_MONTHS = {AvailabilityPeriod.MONTH: 1, AvailabilityPeriod.QUARTER: 3, AvailabilityPeriod.YEAR: 12}
_ALWAYS = BusinessCalendar(timezone="UTC", hours={}, always=True)


@dataclass(frozen=True)
class OutageSpan:
    """An outage as a report lists it."""

    id: str
    number: str | None
    ci_id: str
    kind: OutageKind
    source: str | None
    start: datetime
    end: datetime | None  # None: going on
    notes: str | None = None
    record: Mapping[str, Any] = field(default_factory=dict, compare=False)  # as stored

    def until(self, end: datetime) -> datetime:
        return min(self.end, end) if self.end is not None else end


@dataclass(frozen=True)
class Agreement:
    label: str  # SLA or OLA
    id: str
    number: str | None
    name: str | None
    terms: tuple[AgreementTermsView, ...]  # oldest first


@dataclass(frozen=True)
class PeriodAvailability:
    start: datetime
    end: datetime
    agreed: timedelta
    downtime: timedelta
    degraded: timedelta
    target: float | None  # percent, from the terms in force; None: no target
    terms_version: int | None
    outages: tuple[OutageSpan, ...]  # those overlapping the period

    @property
    def availability(self) -> float | None:
        """In percent; None when the period holds no agreed time."""
        return percent(self.downtime, self.agreed)

    @property
    def breached(self) -> bool:
        actual = self.availability
        return self.target is not None and actual is not None and actual < self.target


@dataclass(frozen=True)
class Availability:
    """One CI's or Service's availability over a range, per period."""

    ci_id: str
    ci: Mapping[str, Any]
    service: bool  # measured by propagation from what it needs
    agreement: Agreement | None
    period: AvailabilityPeriod
    start: datetime
    end: datetime
    periods: tuple[PeriodAvailability, ...]

    @property
    def agreed(self) -> timedelta:
        return sum((p.agreed for p in self.periods), _ZERO)

    @property
    def downtime(self) -> timedelta:
        return sum((p.downtime for p in self.periods), _ZERO)

    @property
    def degraded(self) -> timedelta:
        return sum((p.degraded for p in self.periods), _ZERO)

    @property
    def availability(self) -> float | None:
        return percent(self.downtime, self.agreed)

    @property
    def breaches(self) -> tuple[PeriodAvailability, ...]:
        return tuple(p for p in self.periods if p.breached)


def percent(downtime: timedelta, agreed: timedelta) -> float | None:
    if agreed <= _ZERO:
        return None
    return 100.0 * (1.0 - downtime / agreed)


# -- periods and time -----------------------------------------------------------------------------


def periods_of(
    kind: AvailabilityPeriod, zone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The calendar months, quarters or years in `zone` that [start, end) touches, cut to it."""
    tz = ZoneInfo(zone)
    step = _MONTHS[kind]
    local = start.astimezone(tz)
    month = (local.month - 1) // step * step + 1
    year = local.year
    out = []
    begin = start
    while begin < end:
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        boundary = datetime(year, month, 1, tzinfo=tz).astimezone(UTC)
        out.append((begin, min(boundary, end)))
        begin = boundary
    return out


def period_around(kind: AvailabilityPeriod, zone: str, at: datetime) -> tuple[datetime, datetime]:
    """The whole calendar month, quarter or year in `zone` that holds `at`."""
    local = at.astimezone(ZoneInfo(zone))
    step = _MONTHS[kind]
    month = (local.month - 1) // step * step + 1
    begin = datetime(local.year, month, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    # Past a year from its start, the first period periods_of cuts is the whole one.
    (_, end), *_ = periods_of(kind, zone, begin, begin + timedelta(days=367))
    return begin, end


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _business(
    calendar: BusinessCalendar,
    intervals: Sequence[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
) -> timedelta:
    return sum(
        (calendar.business_time(max(a, start), min(b, end)) for a, b in intervals if a < end),
        _ZERO,
    )


def timeline(
    outages: Sequence[OutageSpan],
    start: datetime,
    end: datetime,
    down: Callable[[frozenset[str]], bool],
) -> tuple[list[tuple[datetime, datetime]], list[tuple[datetime, datetime]]]:
    """The times in [start, end) the subject was down, and those it was degraded (something out
    while it was not down), given `down`: whether it is down while these CIs are."""
    cuts = {start, end}
    for o in outages:
        cuts.update(t for t in (o.start, o.until(end)) if start < t < end)
    points = sorted(cuts)
    was_down: list[tuple[datetime, datetime]] = []
    was_degraded: list[tuple[datetime, datetime]] = []
    for a, b in pairwise(points):
        active = [o for o in outages if o.start <= a and o.until(end) >= b]
        if not active:
            continue
        failed = frozenset(o.ci_id for o in active if o.kind is OutageKind.DOWN)
        (was_down if failed and down(failed) else was_degraded).append((a, b))
    return _merged(was_down), _merged(was_degraded)


# -- terms ---------------------------------------------------------------------------------------


def terms_at(agreement: Agreement | None, at: datetime) -> AgreementTermsView | None:
    """The agreement's terms in force at `at`; before its first terms, its first terms."""
    if agreement is None or not agreement.terms:
        return None
    for terms in reversed(agreement.terms):
        begins = terms.valid_from
        if (begins is None or begins <= at) and (terms.valid_to is None or at < terms.valid_to):
            return terms
    later = [t for t in agreement.terms if t.valid_from is not None and t.valid_from > at]
    return later[0] if later else agreement.terms[-1]


def _calendar(terms: AgreementTermsView | None) -> BusinessCalendar:
    return terms.calendar if terms is not None else _ALWAYS


def measure(
    subject: str,
    ci: Mapping[str, Any],
    *,
    service: bool,
    agreement: Agreement | None,
    outages: Sequence[OutageSpan],
    start: datetime,
    end: datetime,
    down: Callable[[frozenset[str]], bool],
) -> Availability:
    """The subject's availability per period of the agreement (24x7 per month without one)."""
    last = terms_at(agreement, end - timedelta(microseconds=1))
    kind = AvailabilityPeriod(
        last.availability.period
        if last is not None and last.availability is not None
        else AvailabilityPeriod.MONTH
    )
    was_down, was_degraded = timeline(outages, start, end, down)
    out = []
    for a, b in periods_of(kind, _calendar(last).timezone, start, end):
        terms = terms_at(agreement, b - timedelta(microseconds=1))
        calendar = _calendar(terms)
        out.append(
            PeriodAvailability(
                start=a,
                end=b,
                agreed=calendar.business_time(a, b),
                downtime=_business(calendar, was_down, a, b),
                degraded=_business(calendar, was_degraded, a, b),
                target=terms.availability.target
                if terms is not None and terms.availability is not None
                else None,
                terms_version=terms.version if terms is not None else None,
                outages=tuple(o for o in outages if o.start < b and o.until(end) > a),
            )
        )
    return Availability(subject, ci, service, agreement, kind, start, end, tuple(out))


def _range(start: datetime, end: datetime, at: datetime) -> tuple[datetime, datetime]:
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise ValidationFailed(name, "not_a_time", f"{name} is a time with its UTC offset")
    if end <= start:
        raise ValidationFailed("to", "before_from", "to must be after from")
    if start >= at:
        raise ValidationFailed("from", "in_future", "from is in the future: nothing to measure")
    if end - start > MAX_RANGE:
        raise ValidationFailed(
            "to", "range_too_long", f"a report covers at most {MAX_RANGE.days} days"
        )
    return start.astimezone(UTC), min(end, at).astimezone(UTC)


# -- reading -------------------------------------------------------------------------------------


def _spans(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[OutageSpan]]:
    by_ci: dict[str, list[OutageSpan]] = {}
    for row in rows:
        o = row["outage"]
        start = native(o["start"])
        assert start is not None  # required by the declaration
        by_ci.setdefault(row["ciId"], []).append(
            OutageSpan(
                id=o["id"],
                number=o.get("number"),
                ci_id=row["ciId"],
                kind=OutageKind(o["kind"]),
                source=o.get("source"),
                start=start,
                end=native(o.get("end")),
                notes=o.get("notes"),
                record=o,
            )
        )
    return by_ci


def _agreement(
    label: str, row: Mapping[str, Any], versions: Sequence[Mapping[str, Any]]
) -> Agreement:
    return Agreement(
        label=label,
        id=row["id"],
        number=row.get("number"),
        name=row.get("name"),
        terms=tuple(sorted((view_of(v) for v in versions), key=lambda t: t.version)),
    )


def _closure(root: str, needs: Mapping[str, list[impact.Edge]]) -> set[str]:
    """The root and everything it needs, transitively."""
    seen, todo = {root}, [root]
    while todo:
        for edge in needs.get(todo.pop(), []):
            if edge.provider not in seen:
                seen.add(edge.provider)
                todo.append(edge.provider)
    return seen


def _service_availability(
    service_id: str,
    ci: Mapping[str, Any],
    agreement: Agreement | None,
    needs: dict[str, list[impact.Edge]],
    outages: Mapping[str, list[OutageSpan]],
    start: datetime,
    end: datetime,
) -> Availability:
    concerned = _closure(service_id, needs)
    return measure(
        service_id,
        ci,
        service=True,
        agreement=agreement,
        outages=sorted(
            (o for c in concerned for o in outages.get(c, [])), key=lambda o: (o.start, o.id)
        ),
        start=start,
        end=end,
        down=lambda failed: impact.down_with(service_id, failed, needs),
    )


def availability(
    store: Store,
    actor: Actor,
    *,
    ci_id: str | None,
    service_id: str | None,
    start: datetime,
    end: datetime,
    agreement: str | None = None,
) -> Availability:
    """`availability(ci | service, from, to, agreement)`: a CI by its own outages, or a Service
    by what it needs, per period of the agreement on its calendar."""
    actor.require(Permission.READ)
    if (ci_id is None) == (service_id is None):
        raise ValidationFailed("ci", "ci_or_service", "give either ci or service")
    subject, named = (ci_id, "ci") if ci_id is not None else (service_id, "service")
    assert subject is not None
    since, until = _range(start, end, now())

    def read(tx: ManagedTransaction) -> Availability:
        found = cypher.cis(tx, [subject])
        if subject not in found:
            raise NotFound("CI", subject, field=named)
        ci = found[subject]
        if service_id is not None and ci.get("ciClass") != "Service":
            raise ValidationFailed(
                "service", "not_a_service", f"{ci.get('name')!r} is a {ci.get('ciClass')}"
            )
        chosen = None
        if agreement is not None:
            label, stored = agreement_ref(tx, agreement)
            row = cypher.agreements(tx, label, [stored]).get(stored)
            if row is None:
                raise NotFound(label, stored, field="agreement")
            versions = terms_cypher.history_of(tx, label, [stored])[stored]
            chosen = _agreement(label, row, versions)
        if service_id is None:
            spans = _spans(cypher.outages_of(tx, [subject], since, until))
            return measure(
                subject,
                ci,
                service=False,
                agreement=chosen,
                outages=spans.get(subject, []),
                start=since,
                end=until,
                down=lambda failed: subject in failed,
            )
        needs, _ = impact.needs_of(tx, [subject])
        spans = _spans(cypher.outages_of(tx, sorted(_closure(subject, needs)), since, until))
        return _service_availability(subject, ci, chosen, needs, spans, since, until)

    return store.read(read)


# -- the compliance report -----------------------------------------------------------------------


@dataclass(frozen=True)
class SLACompliance:
    sla: Agreement
    services: tuple[Availability, ...]
    target: float | None  # the target of the terms in force at the end of the range

    @property
    def actual(self) -> float | None:
        """The lowest availability of its services over the range."""
        figures = [a for a in (s.availability for s in self.services) if a is not None]
        return min(figures) if figures else None

    @property
    def breached(self) -> bool:
        return any(s.breaches for s in self.services)


@dataclass(frozen=True)
class CustomerCompliance:
    customer: Mapping[str, Any]
    slas: tuple[SLACompliance, ...]

    @property
    def breached(self) -> bool:
        return any(s.breached for s in self.slas)


@dataclass(frozen=True)
class ComplianceReport:
    start: datetime
    end: datetime
    slas: tuple[SLACompliance, ...]
    customers: tuple[CustomerCompliance, ...]


def compliance(
    store: Store,
    actor: Actor,
    *,
    start: datetime,
    end: datetime,
    sla_ids: Sequence[str] = (),
    customer_ids: Sequence[str] = (),
) -> ComplianceReport:
    """`availabilityReport`: each SLA asked (and each SLA agreed with a customer asked) against
    its availability target, per Service it covers; each customer by its SLAs. With neither, every
    active SLA that sets an availability target."""
    actor.require(Permission.READ)
    since, until = _range(start, end, now())

    def read(tx: ManagedTransaction) -> ComplianceReport:
        customers = cypher.customers(tx, customer_ids)
        for i, customer in enumerate(customer_ids):
            if customer not in customers:
                raise NotFound("Customer", customer, field=f"customers[{i}]")
        rows = cypher.slas_for_report(tx, sla_ids, customer_ids)
        by_id = {row["sla"]["id"]: row for row in rows}
        for i, sla in enumerate(sla_ids):
            if sla not in by_id:
                raise NotFound("SLA", sla, field=f"slas[{i}]")
        services = sorted({s["id"] for row in rows for s in row["services"]})
        needs, _ = impact.needs_of(tx, services) if services else ({}, {})
        concerned = sorted({c for s in services for c in _closure(s, needs)})
        spans = _spans(cypher.outages_of(tx, concerned, since, until)) if concerned else {}
        measured: dict[str, SLACompliance] = {}
        for row in rows:
            agreed = _agreement("SLA", row["sla"], row["terms"])
            last = terms_at(agreed, until - timedelta(microseconds=1))
            measured[agreed.id] = SLACompliance(
                agreed,
                tuple(
                    _service_availability(s["id"], s, agreed, needs, spans, since, until)
                    for s in sorted(row["services"], key=lambda s: (s.get("name") or "", s["id"]))
                ),
                last.availability.target if last and last.availability else None,
            )
        chosen = (
            [measured[i] for i in dict.fromkeys(sla_ids)]
            if sla_ids or customer_ids
            else [m for m in measured.values() if m.target is not None]
        )
        return ComplianceReport(
            since,
            until,
            tuple(chosen),
            tuple(
                CustomerCompliance(
                    customers[c],
                    tuple(measured[row["sla"]["id"]] for row in rows if c in row["customerIds"]),
                )
                for c in dict.fromkeys(customer_ids)
            ),
        )

    return store.read(read)
