"""The outage trigger: as a `DOWN` outage ends, it opens a problem if it alone took a Service
down for longer than an SLA covering that Service allows in its availability period.

The Services are those a failure of the outage's CI takes down (`domain.impact`, the CI itself
when it is a Service); the SLAs the active ones covering them whose terms in force at the end of
the outage set an availability target. Each is measured as availability management measures it
(`domain.availability.report`): the whole period (month, quarter or year on the SLA's calendar)
holding the outage, its agreed time the calendar's business time, the downtime this outage's
business time in it. The period allows (100 - target)% of its agreed time; more opens a problem
at fault on the CI, triggered by and causing the outage's incident (the one its alert, or its
alert's root, raised). An outage entered by hand has no incident: its problem is opened from
none. While the incident is caused by an open problem, or an open problem is at fault on the
CI, nothing opens: the incident is linked to that problem instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.agreement_terms import AvailabilityPeriod
from core.events import OutageKind
from core.problems import OPEN_STATES, Trigger
from domain import impact
from domain.availability import report
from domain.availability.outages import native
from domain.problems import known_errors, triggers
from domain.problems.policy import current
from domain.service_level.terms import view_of
from graphdb.cypher import problems as cypher
from graphdb.write_path import UnitOfWork

_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class Breach:
    """One SLA whose period's allowed downtime the outage exceeded."""

    sla: Mapping[str, Any]
    services: Sequence[str]  # the names of those it covers that the outage took down
    period: report.PeriodAvailability
    target: float
    allowed: timedelta
    zone: str  # the SLA's calendar's, in which its periods begin

    def says(self) -> str:
        sla = self.sla.get("name") or self.sla["id"]
        number = f" ({self.sla['number']})" if self.sla.get("number") else ""
        begins = self.period.start.astimezone(ZoneInfo(self.zone)).strftime("%Y-%m-%d")
        return (
            f"SLA {sla}{number} on {', '.join(self.services)}: {_duration(self.period.downtime)} "
            f"of downtime in its period from {begins}, over the {_duration(self.allowed)} its "
            f"{self.target:g}% availability target allows ({100 - self.target:g}% of "
            f"{_duration(self.period.agreed)} agreed time)"
        )


def outage_ended(uow: UnitOfWork, outage: Mapping[str, Any]) -> None:
    """Called as an outage ends (in its transaction): opens a problem when it took a Service
    down for longer than an SLA allows, or links its incident to the open problem already at
    fault."""
    if outage.get("kind") != OutageKind.DOWN.value:
        return
    if not current(uow).outage_trigger:
        return
    ci = cypher.outage_ci(uow.tx, outage["id"])
    start, end = native(outage.get("start")), native(outage.get("end"))
    if ci is None or start is None or end is None or end <= start:
        return
    span = report.OutageSpan(
        id=outage["id"],
        number=outage.get("number"),
        ci_id=ci["id"],
        kind=OutageKind.DOWN,
        source=outage.get("source"),
        start=start,
        end=end,
        record=outage,
    )
    breaches = _breaches(uow, span)
    if not breaches:
        return
    incident = cypher.outage_incident(uow.tx, outage["id"])
    if incident is not None and cypher.open_caused(uow.tx, incident["id"], OPEN_STATES):
        return
    number = outage.get("number") or outage["id"]
    at_fault = cypher.open_at_fault(uow.tx, [ci["id"]], OPEN_STATES)
    if at_fault:
        if incident is not None:
            problem = at_fault[0]["problem"]
            triggers.link_in(
                uow,
                incident["id"],
                problem["id"],
                f"{problem['number']} ({problem['title']}) is open with the fault on its CI "
                f"{ci['name']}; {number} ended over its SLA's availability threshold",
            )
        return
    opened = triggers.open_problem_in(
        uow,
        triggers.Opening(
            Trigger.OUTAGE_OVER_THRESHOLD,
            f"{number} took {ci['name']} down from {_at(start)} to {_at(end)}; "
            + "; ".join(b.says() for b in breaches),
            f"Outage {number} of {ci['name']} over the availability target of "
            f"{breaches[0].sla.get('name') or breaches[0].sla['id']}",
            [ci["id"]],
            incident["id"] if incident is not None else None,
            [incident["id"]] if incident is not None else [],
        ),
    )
    known_errors.follow_problem(uow, opened)


def _breaches(uow: UnitOfWork, span: report.OutageSpan) -> list[Breach]:
    assert span.end is not None
    reach, _ = impact.failure_reach(
        uow.tx, span.ci_id, max_depth=impact.MAX_DEPTH, explain=False, ci_properties=("name",)
    )
    down = [span.ci_id, *(r.ci_id for r in reach.reached)]
    found = []
    for row in cypher.slas_covering(uow.tx, down):
        sla = row["sla"]
        agreement = report.Agreement(
            label="SLA",
            id=sla["id"],
            number=sla.get("number"),
            name=sla.get("name"),
            terms=tuple(sorted((view_of(t) for t in row["terms"]), key=lambda t: t.version)),
        )
        terms = report.terms_at(agreement, span.end - _JUST_BEFORE)
        if terms is None or terms.availability is None:
            continue
        kind = AvailabilityPeriod(terms.availability.period)
        zone = terms.calendar.timezone
        first, _ = report.period_around(kind, zone, span.start)
        _, last = report.period_around(kind, zone, span.end - _JUST_BEFORE)
        service = row["services"][0]
        measured = report.measure(
            service["id"],
            service,
            service=True,
            agreement=agreement,
            outages=[span],
            start=first,
            end=last,
            # Each Service here is one the CI's failure takes down, so it is down exactly while
            # this outage goes on.
            down=lambda failed: span.ci_id in failed,
        )
        for period in measured.periods:
            if period.target is None or period.downtime <= timedelta(0):
                continue
            allowed = period.agreed * ((100.0 - period.target) / 100.0)
            if period.downtime > allowed:
                names = [s.get("name") or s["id"] for s in row["services"]]
                found.append(Breach(sla, names, period, period.target, allowed, zone))
                break
    return found


def _duration(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((hours, "h"), (minutes, "min"), (seconds, "s")) if n]
    return " ".join(parts) or "0 s"


def _at(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
