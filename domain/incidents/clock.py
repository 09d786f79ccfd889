"""An incident's SLA clocks, derived from its recorded history only.

Two clocks run from the moment an incident opens:

* **response** until work first starts (the first step to in_progress or resolved);
* **resolution** until it is resolved; a reopen runs it again from where it stopped, and closing
  stops it for good.

Both pause while the incident is on hold waiting for the caller (other hold reasons do not
pause), and both count business time on the calendar of the agreement terms that govern the
incident. The target is the terms' target at the incident's *current* priority: a new priority
re-targets the clock and keeps what has elapsed. Everything here is a pure function of the
history (`Moment`s, oldest first), the terms and an instant, so that a clock reads the same in
the API, in the worker that fires it and in a test; `rearm` and the timer handler below store
and act on what it says.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.access import Actor, Permission
from core.agreement_terms import EscalationClock
from core.incident_clock import SLA_EVENT, ClockState, SlaEventKind
from core.incidents import HoldReason, IncidentState
from core.priority import Priority
from domain.incidents import events
from domain.notifications import Addressee, notify
from domain.service_level.escalation import EscalationStep
from domain.service_level.terms import AgreementTermsView, view_of
from graphdb.cypher import incident_clock as cypher
from graphdb.timers import DueTimer, cancel_timer, set_timer, timer_kind
from graphdb.write_path import Store, UnitOfWork, now

log = logging.getLogger(__name__)

_ZERO = timedelta(0)
INCIDENT = "Incident"
TIMER_KIND = "incident.clock"

# A repeating escalation level that a stopped worker missed many times over is announced for its
# latest repetitions only: a reminder per hour for a week of outage is noise, not escalation.
MAX_CATCH_UP = 20

_RESPONDED = frozenset({IncidentState.IN_PROGRESS.value, IncidentState.RESOLVED.value})
_RESOLVED = frozenset({IncidentState.RESOLVED.value, IncidentState.CLOSED.value})


class SlaStage(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


_STAGE_ORDER = (SlaStage.OK, SlaStage.WARNING, SlaStage.BREACHED)


@dataclass(frozen=True)
class Moment:
    """The incident as it stood from `at` on, until the next moment: after its creation, after
    each transition and after each change of its priority."""

    at: datetime
    state: str
    hold_reason: str | None = None
    priority: Priority | None = None


@dataclass(frozen=True)
class WarningPoint:
    percent: int
    at: datetime | None  # reached, or when it will be if the clock runs on; None while paused


@dataclass(frozen=True)
class ClockEvent:
    """A warning, the breach or one firing of an escalation level, at the instant it falls due
    (already reached, or projected while the clock runs)."""

    clock: EscalationClock
    kind: SlaEventKind
    at: datetime
    percent: int | None = None
    level: int | None = None
    repetition: int = 0
    step: EscalationStep | None = field(default=None, compare=False)

    def key(self, incident_id: str) -> str:
        """Which firing this is, the same every time the clock is derived again."""
        which = {
            SlaEventKind.WARNED: f"{self.percent}",
            SlaEventKind.BREACHED: "100",
            SlaEventKind.ESCALATED: f"L{self.level}.{self.repetition}",
        }[self.kind]
        return f"{incident_id}:{self.clock.value}:{self.kind.value}:{which}"


@dataclass(frozen=True)
class Clock:
    clock: EscalationClock
    state: ClockState
    target: timedelta | None  # at the current priority; None: no target, nothing falls due
    elapsed: timedelta  # business time it ran
    paused: timedelta  # business time it stood paused
    started_at: datetime | None
    stopped_at: datetime | None  # when it last stopped, while stopped
    breach_at: datetime | None  # when it reached (or, running, will reach) its target
    warnings: tuple[WarningPoint, ...] = ()
    events: tuple[ClockEvent, ...] = ()  # reached ones, and the next of each kind while running
    now: datetime | None = None

    @property
    def remaining(self) -> timedelta | None:
        """Business time left to the target; negative once breached."""
        return self.target - self.elapsed if self.target is not None else None

    @property
    def breached(self) -> bool:
        return self.target is not None and self.elapsed >= self.target

    @property
    def due_at(self) -> datetime | None:
        """When the target falls due, while the clock runs."""
        return self.breach_at if self.state is ClockState.RUNNING else None

    @property
    def stage(self) -> SlaStage:
        if self.breached:
            return SlaStage.BREACHED
        # A clock that stopped in time is no longer at risk, whatever it warned of on the way.
        if self.state in (ClockState.RUNNING, ClockState.PAUSED) and any(
            w.at is not None and self.now is not None and w.at <= self.now for w in self.warnings
        ):
            return SlaStage.WARNING
        return SlaStage.OK

    def due_events(self) -> list[ClockEvent]:
        """The events reached by now; none while the clock does not run."""
        if self.state is not ClockState.RUNNING or self.now is None:
            return []
        now = self.now
        return [e for e in self.events if e.at <= now]

    def next_event_at(self) -> datetime | None:
        """The earliest event still ahead, while the clock runs."""
        if self.state is not ClockState.RUNNING or self.now is None:
            return None
        now = self.now
        return min((e.at for e in self.events if e.at > now), default=None)


@dataclass(frozen=True)
class Clocks:
    response: Clock
    resolution: Clock

    def __iter__(self) -> Iterator[Clock]:
        return iter((self.response, self.resolution))

    @property
    def stage(self) -> SlaStage:
        return max((c.stage for c in self), key=_STAGE_ORDER.index)

    def of(self, clock: EscalationClock) -> Clock:
        return self.response if clock is EscalationClock.RESPONSE else self.resolution


# -- derivation ----------------------------------------------------------------------------------


def _status(clock: EscalationClock, moment: Moment, responded: bool) -> ClockState:
    if clock is EscalationClock.RESPONSE and responded:
        return ClockState.STOPPED
    if clock is EscalationClock.RESOLUTION and moment.state in _RESOLVED:
        return ClockState.STOPPED
    if (
        moment.state == IncidentState.ON_HOLD.value
        and moment.hold_reason == HoldReason.AWAITING_CALLER.value
    ):
        return ClockState.PAUSED
    return ClockState.RUNNING


def _spans(
    clock: EscalationClock, history: Sequence[Moment], now: datetime
) -> tuple[list[tuple[datetime, datetime, ClockState]], ClockState, datetime | None]:
    """[start, end) spans with the clock's state in each, up to `now`; the state at `now` and
    when the clock last stopped."""
    spans: list[tuple[datetime, datetime, ClockState]] = []
    responded = False
    state = ClockState.NOT_APPLICABLE
    stopped_at: datetime | None = None
    past = [m for m in history if m.at <= now]
    for i, moment in enumerate(past):
        responded = responded or moment.state in _RESPONDED
        new_state = _status(clock, moment, responded)
        if new_state is ClockState.STOPPED and state is not ClockState.STOPPED:
            stopped_at = moment.at
        state = new_state
        end = past[i + 1].at if i + 1 < len(past) else now
        if end > moment.at:
            spans.append((moment.at, end, state))
    return spans, state, stopped_at


def _priority(history: Sequence[Moment], now: datetime) -> Priority | None:
    current = None
    for moment in history:
        if moment.at <= now and moment.priority is not None:
            current = moment.priority
    return current


def derive(
    history: Sequence[Moment],
    terms: AgreementTermsView | None,
    now: datetime,
) -> Clocks:
    """Both clocks of an incident at `now`, from its history (oldest first) and its terms."""
    priority = _priority(history, now)
    response, resolution = (
        _derive_clock(clock, history, terms, priority, now) for clock in EscalationClock
    )
    return Clocks(response, resolution)


def _derive_clock(
    clock: EscalationClock,
    history: Sequence[Moment],
    terms: AgreementTermsView | None,
    priority: Priority | None,
    now: datetime,
) -> Clock:
    started = next((m.at for m in history if m.at <= now), None)
    if terms is None or started is None:
        return Clock(clock, ClockState.NOT_APPLICABLE, None, _ZERO, _ZERO, started, None, None)
    calendar = terms.calendar
    spans, state, stopped_at = _spans(clock, history, now)
    running = [(a, b) for a, b, s in spans if s is ClockState.RUNNING]
    pieces = [(a, b, calendar.business_time(a, b)) for a, b in running]
    elapsed = sum((t for _, _, t in pieces), _ZERO)
    paused = sum(
        (calendar.business_time(a, b) for a, b, s in spans if s is ClockState.PAUSED), _ZERO
    )

    def reached_at(amount: timedelta) -> datetime | None:
        """When the clock's elapsed time reaches `amount`: the earliest such instant, or, running,
        the one it will reach if nothing changes; None while it stands still short of it."""
        if amount <= _ZERO:
            return started
        done = _ZERO
        for a, _, took in pieces:
            if done + took >= amount:
                return calendar.add_business_time(a, amount - done)
            done += took
        if state is ClockState.RUNNING:
            return calendar.add_business_time(now, amount - elapsed)
        return None

    target = terms.target(clock, priority) if priority is not None else None
    breach_at = reached_at(target) if target is not None else None
    warnings = (
        tuple(WarningPoint(p, reached_at(target * p / 100)) for p in terms.warning_percents)
        if target is not None
        else ()
    )
    found: list[ClockEvent] = [
        ClockEvent(clock, SlaEventKind.WARNED, w.at, percent=w.percent)
        for w in warnings
        if w.at is not None
    ]
    if breach_at is not None:
        found.append(ClockEvent(clock, SlaEventKind.BREACHED, breach_at))
    for step in terms.escalation:
        if step.clock is clock:
            found += _firings(step, target, elapsed, reached_at)
    return Clock(
        clock,
        state,
        target,
        elapsed,
        paused,
        started,
        stopped_at if state is ClockState.STOPPED else None,
        breach_at,
        warnings,
        tuple(sorted(found, key=lambda e: e.at)),
        now,
    )


def _firings(
    step: EscalationStep,
    target: timedelta | None,
    elapsed: timedelta,
    reached_at: Any,
) -> list[ClockEvent]:
    """The level's firings reached so far (the latest `MAX_CATCH_UP` of a repeating one), and
    the next one when the clock can reach it."""
    first = step.fires_after(target)
    if first is None:
        return []
    every = step.repeat_every
    if every is None or elapsed < first:
        repetitions: Iterable[int] = [0]
    else:
        last = int((elapsed - first) / every)
        repetitions = range(max(0, last - MAX_CATCH_UP + 1), last + 2)
    out = []
    for n in repetitions:
        at = reached_at(first + (every * n if every is not None else _ZERO))
        if at is not None:
            out.append(
                ClockEvent(
                    step.clock,
                    SlaEventKind.ESCALATED,
                    at,
                    level=step.level,
                    repetition=n,
                    step=step,
                )
            )
    return out


def history_from_audit(entries: Iterable[Mapping[str, Any]]) -> list[Moment]:
    """Moments from an incident's audit entries (`graphdb.cypher.incident_clock.history`):
    the create, each transition and each update; an update that did not change the priority adds
    nothing. Each entry carries the `state`, `holdReason` and `priority` it set (when it set
    them), oldest first."""
    moments: list[Moment] = []
    state: str | None = None
    hold: str | None = None
    priority: Priority | None = None
    for entry in entries:
        changed = entry["changes"]
        if entry["action"] == "update" and "priority" not in changed:
            continue
        if "state" in changed:
            state = changed["state"]
            hold = changed.get("holdReason") if state == IncidentState.ON_HOLD.value else None
        elif "holdReason" in changed:
            hold = changed["holdReason"]
        if changed.get("priority") is not None:
            priority = Priority(changed["priority"])
        if state is None:
            continue
        moments.append(Moment(entry["at"], state, hold, priority))
    return moments


def clocks_of(tx: Any, incident_id: str, at: datetime) -> Clocks:
    """The incident's clocks at `at`, read from the graph in this transaction."""
    return clocks_of_many(tx, [incident_id], at)[incident_id]


def clocks_of_many(tx: Any, incident_ids: Sequence[str], at: datetime) -> dict[str, Clocks]:
    """Many incidents' clocks at `at`, in one read of their histories and terms."""
    inputs = cypher.clock_inputs(tx, incident_ids)
    return {
        i: derive(
            history_from_audit(found["history"]),
            view_of(found["terms"], found["levels"]) if found["terms"] else None,
            at,
        )
        for i, found in inputs.items()
    }


def clocks_for(
    store: Store, actor: Actor, incident_ids: Sequence[str], at: datetime | None = None
) -> dict[str, Clocks]:
    """What the API shows: the incidents' clocks now (or at `at`), in one read."""
    actor.require(Permission.READ)
    when = at or now()
    return store.read(lambda tx: clocks_of_many(tx, incident_ids, when))


def events_for(
    store: Store, actor: Actor, incident_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The SLA events the incidents' clocks fired, oldest first, in one read."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.events_of(tx, incident_ids))


# -- keeping the stored figures and the timer in step -----------------------------------------


def derived_props(clocks: Clocks) -> dict[str, Any]:
    """The copies queues sort by: a due instant only while its clock runs."""
    return {
        "responseDueAt": clocks.response.due_at,
        "resolutionDueAt": clocks.resolution.due_at,
        "slaStage": clocks.stage.value,
    }


def rearm(uow: UnitOfWork, incident: Mapping[str, Any]) -> dict[str, Any]:
    """After any change of an incident (opened, a transition, a new priority or agreement):
    recompute its clocks from its history, store the derived figures the queues sort by
    (`responseDueAt`, `resolutionDueAt`, `slaStage`) and move its clock timer to the next
    warning, breach or escalation. Returns the derived properties written."""
    incident_id = str(incident["id"])
    clocks = clocks_of(uow.tx, incident_id, uow.at)
    props = derived_props(clocks)
    # A plain SET, not `uow.update`: these are copies of what the audited history already says,
    # so they need no audit entry, and a new version would make the edit of someone who read the
    # incident a moment before a timer fired fail with a conflict they did not cause.
    cypher.store_derived(uow.tx, incident_id, props)
    fired = cypher.fired_keys(uow.tx, incident_id)
    due = [e for c in clocks for e in c.due_events() if e.key(incident_id) not in fired]
    ahead = [t for t in (c.next_event_at() for c in clocks) if t is not None]
    if due:
        # Something fell due that has not fired: a priority change moved a target into the past.
        set_timer(uow, TIMER_KIND, INCIDENT, incident_id, uow.at)
    elif ahead:
        set_timer(uow, TIMER_KIND, INCIDENT, incident_id, min(ahead))
    else:
        cancel_timer(uow, TIMER_KIND, INCIDENT, incident_id)
    return props


@timer_kind(TIMER_KIND, "an incident's next SLA warning, breach or escalation level")
def fire_clock_events(uow: UnitOfWork, timer: DueTimer) -> None:
    """Record every event of the incident's running clocks that is due and has not fired, act on
    it (notify, reassign), announce the change and set the timer to what comes next."""
    incident_id = timer.record_id
    clocks = clocks_of(uow.tx, incident_id, uow.at)
    fired = cypher.fired_keys(uow.tx, incident_id)
    due = [e for c in clocks for e in c.due_events() if e.key(incident_id) not in fired]
    woke = cypher.timer_firing(uow.tx, timer.id)
    terms_id = cypher.governing_terms_id(uow.tx, incident_id)
    for event in due:
        _act_on(uow, incident_id, event, clocks, woke, terms_id)
    incident = cypher.incident(uow.tx, incident_id)
    if incident is None:
        return
    rearm(uow, incident)
    if due:
        # What fired changed the incident (its stage, its notifications, maybe its team): a new
        # version, so that subscribers, who hear each version once and in order, hear of it.
        uow.touch(INCIDENT, incident_id)
        events.incident_changed(
            uow, cypher.incident(uow.tx, incident_id) or incident, events.Change.CHANGED
        )


def _act_on(
    uow: UnitOfWork,
    incident_id: str,
    event: ClockEvent,
    clocks: Clocks,
    woke: Mapping[str, Any],
    terms_id: str | None,
) -> None:
    key = event.key(incident_id)
    people = cypher.holders(uow.tx, incident_id)
    number = people.get("number") or incident_id
    title = people.get("title") or ""
    holders = _holders(people)
    clock = clocks.of(event.clock)
    reassigned: str | None = None
    if event.kind is SlaEventKind.ESCALATED and event.step is not None:
        step = event.step
        to = [Addressee(r.label, r.id) for r in step.notify]
        if step.notify_assignee:
            to += holders[:1]
        reason = "escalation"
        subject = f"{number} escalated (level {step.level}): {title}"
        body = (
            f"The {event.clock.value} clock of {number} reached escalation level {step.level}"
            + (f" (repetition {event.repetition})" if event.repetition else "")
            + f"; {_left(clock)}."
        )
        if step.reassign_to is not None and step.reassign_to.id != people.get("teamId"):
            reassigned = step.reassign_to.id
            from domain.incidents import lifecycle  # it calls rearm: imported when first needed

            lifecycle.reassign(
                uow,
                incident_id,
                step.reassign_to.id,
                f"escalation level {step.level} of the {event.clock.value} clock",
            )
    elif event.kind is SlaEventKind.WARNED:
        to, reason = holders, "warning"
        subject = f"{number} at {event.percent}% of its {event.clock.value} target: {title}"
        body = f"The {event.clock.value} clock of {number} passed {event.percent}%; {_left(clock)}."
    else:
        to, reason = holders, "breach"
        subject = f"{number} breached its {event.clock.value} target: {title}"
        body = (
            f"The {event.clock.value} target of {number} was due at {event.at:%Y-%m-%d %H:%M} UTC."
        )
    to = list(dict.fromkeys(to))
    sent = (
        notify(
            uow,
            about_label=INCIDENT,
            about_id=incident_id,
            to=to,
            subject=subject,
            body=body,
            reason=reason,
            key=key,
        )
        if to
        else 0
    )
    record = uow.create(
        SLA_EVENT.label,
        {
            "incidentId": incident_id,
            "clock": event.clock.value,
            "kind": event.kind.value,
            "percent": event.percent,
            "level": event.level,
            "repetition": event.repetition if event.kind is SlaEventKind.ESCALATED else None,
            "dueAt": event.at,
            "firedAt": uow.at,
            "firedVia": woke.get("firedVia"),
            "firedBy": woke.get("firedBy"),
            "priority": people.get("priority"),
            "termsId": terms_id,
            "recipients": [f"{a.label}:{a.id}" for a in to] or None,
            "notified": sent,
            "reassignedTo": reassigned,
        },
        record_id=key,
    )
    cypher.attach_event(uow.tx, incident_id, record["id"])
    log.info("incident %s: %s fired (due %s)", number, key, event.at.isoformat())


def _holders(people: Mapping[str, Any]) -> list[Addressee]:
    """Whoever holds the incident: its assignee, then its team (an escalation that notifies the
    assignee takes the first of them)."""
    out = []
    if people.get("assigneeId"):
        out.append(Addressee("Person", str(people["assigneeId"])))
    if people.get("teamId"):
        out.append(Addressee("Team", str(people["teamId"])))
    return out


def _left(clock: Clock) -> str:
    remaining = clock.remaining
    if remaining is None:
        return "it has no target at this priority"
    minutes = int(remaining.total_seconds() // 60)
    if minutes >= 0:
        return f"{minutes} business minutes are left"
    return f"it is {-minutes} business minutes past its target"
