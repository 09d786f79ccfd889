"""SLA clocks derived from an incident's history, checked against a minute-by-minute reading of
the rules and on examples.

The reference knows nothing of spans or of the calendar's arithmetic: for every whole minute it
finds the last recorded moment, decides from the rules whether each clock runs, stands paused or
has stopped, asks the calendar test's own literal model whether the minute is business time, and
counts. Histories, working hours and zone offsets are all on whole minutes, so counting minutes
measures business time exactly, across the daylight-saving changes the histories straddle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.agreement_terms import EscalationClock
from core.incident_clock import SlaEventKind
from core.priority import Priority
from domain.incidents.clock import (
    MAX_CATCH_UP,
    ClockState,
    Moment,
    SlaStage,
    derive,
    history_from_audit,
)
from domain.service_level.calendar import BusinessCalendar
from domain.service_level.escalation import EscalationStep, Recipient
from domain.service_level.terms import AgreementTermsView, always_on
from tests.test_calendar import reference_counts

MINUTE = timedelta(minutes=1)
RESPONSE, RESOLUTION = EscalationClock.RESPONSE, EscalationClock.RESOLUTION
OFFICE = {d: ((time(8), time(17)),) for d in range(5)}  # mon-fri 08:00-17:00


def terms(
    calendar: BusinessCalendar | None = None,
    response: dict[Priority, int] | None = None,
    resolution: dict[Priority, int] | None = None,
    warnings: tuple[int, ...] = (),
    escalation: tuple[EscalationStep, ...] = (),
) -> AgreementTermsView:
    return AgreementTermsView(
        id="terms-1",
        version=1,
        current=True,
        valid_from=None,
        valid_to=None,
        response={p: m * MINUTE for p, m in (response or {}).items()},
        resolution={p: m * MINUTE for p, m in (resolution or {}).items()},
        availability=None,
        warning_percents=warnings,
        calendar=calendar or always_on(),
        escalation=escalation,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def moment(when: str, state: str, hold: str | None = None, priority: str = "P2") -> Moment:
    return Moment(at(when), state, hold, Priority(priority))


# --- examples --------------------------------------------------------------------------------


def test_the_response_clock_stops_when_work_starts_and_the_resolution_clock_runs_on() -> None:
    history = [
        moment("2026-06-01T10:00", "new"),
        moment("2026-06-01T10:00", "assigned"),
        moment("2026-06-01T10:30", "in_progress"),
    ]
    clocks = derive(
        history,
        terms(response={Priority.P2: 60}, resolution={Priority.P2: 240}),
        at("2026-06-01T11:00"),
    )
    assert clocks.response.state is ClockState.STOPPED
    assert clocks.response.elapsed == 30 * MINUTE
    assert clocks.response.stopped_at == at("2026-06-01T10:30")
    assert clocks.response.due_at is None and not clocks.response.breached
    assert clocks.resolution.state is ClockState.RUNNING
    assert clocks.resolution.elapsed == 60 * MINUTE
    assert clocks.resolution.remaining == 180 * MINUTE
    assert clocks.resolution.due_at == at("2026-06-01T14:00")
    assert clocks.stage is SlaStage.OK


def test_waiting_for_the_caller_pauses_both_clocks_and_waiting_for_a_vendor_does_not() -> None:
    targets = terms(response={Priority.P2: 60}, resolution={Priority.P2: 240})
    history = [
        moment("2026-06-01T10:00", "assigned"),
        moment("2026-06-01T10:10", "on_hold", "awaiting_caller"),
        moment("2026-06-01T10:50", "in_progress"),
        moment("2026-06-01T11:00", "on_hold", "awaiting_vendor"),
        moment("2026-06-01T11:30", "in_progress"),
    ]
    clocks = derive(history, targets, at("2026-06-01T12:00"))
    assert clocks.response.elapsed == 10 * MINUTE  # responded at the resume, 10:50
    assert clocks.response.paused == 40 * MINUTE
    assert clocks.resolution.elapsed == 80 * MINUTE  # 10 + 10 + 30 + 30
    assert clocks.resolution.paused == 40 * MINUTE
    # The due instant moves by the pause: 240 minutes of running from 10:00, plus 40 paused.
    assert clocks.resolution.due_at == at("2026-06-01T14:40")
    paused = derive(history[:2], targets, at("2026-06-01T10:30"))
    assert paused.resolution.state is ClockState.PAUSED
    assert paused.resolution.due_at is None and paused.resolution.breach_at is None


def test_a_reopen_runs_the_resolution_clock_on_from_where_it_stopped_and_closing_stops_it() -> None:
    targets = terms(resolution={Priority.P2: 120})
    history = [
        moment("2026-06-01T10:00", "in_progress"),
        moment("2026-06-01T11:00", "resolved"),
        moment("2026-06-01T13:00", "in_progress"),
    ]
    reopened = derive(history, targets, at("2026-06-01T13:30"))
    assert reopened.resolution.state is ClockState.RUNNING
    assert reopened.resolution.elapsed == 90 * MINUTE
    assert reopened.resolution.due_at == at("2026-06-01T13:30") + 30 * MINUTE
    closed = derive(
        [*history, moment("2026-06-01T13:40", "resolved"), moment("2026-06-01T15:00", "closed")],
        targets,
        at("2026-06-02T09:00"),
    )
    assert closed.resolution.state is ClockState.STOPPED
    assert closed.resolution.elapsed == 100 * MINUTE
    assert closed.resolution.stopped_at == at("2026-06-01T13:40")


def test_a_new_priority_retargets_the_clock_and_keeps_what_elapsed() -> None:
    targets = terms(resolution={Priority.P1: 60, Priority.P3: 480}, warnings=(50,))
    history = [
        moment("2026-06-01T10:00", "assigned", priority="P3"),
        moment("2026-06-01T10:40", "on_hold", "awaiting_caller", priority="P3"),
        moment("2026-06-01T11:00", "in_progress", priority="P3"),
        moment("2026-06-01T11:10", "in_progress", priority="P1"),
    ]
    clocks = derive(history, targets, at("2026-06-01T11:30"))
    assert clocks.resolution.target == 60 * MINUTE
    assert clocks.resolution.elapsed == 70 * MINUTE
    assert clocks.resolution.paused == 20 * MINUTE
    assert clocks.resolution.breached and clocks.resolution.remaining == -10 * MINUTE
    # Measured against the new target, it was breached back at 11:20 (60 minutes of running).
    assert clocks.resolution.breach_at == at("2026-06-01T11:20")
    assert [w.at for w in clocks.resolution.warnings] == [at("2026-06-01T10:30")]
    assert clocks.stage is SlaStage.BREACHED


def test_business_hours_carry_a_clock_over_the_weekend() -> None:
    office = BusinessCalendar("Europe/Berlin", OFFICE)
    targets = terms(office, resolution={Priority.P2: 120}, warnings=(50, 75))
    history = [moment("2026-06-05T14:00", "assigned")]  # Friday 16:00 in Berlin
    clocks = derive(history, targets, at("2026-06-06T10:00"))
    assert clocks.resolution.elapsed == 60 * MINUTE
    assert clocks.resolution.due_at == at("2026-06-08T07:00")  # Monday 09:00 in Berlin
    assert [w.at for w in clocks.resolution.warnings] == [
        at("2026-06-05T15:00"),
        at("2026-06-08T06:30"),
    ]
    assert clocks.stage is SlaStage.WARNING


def test_no_target_at_the_priority_means_nothing_falls_due_and_no_terms_no_clock() -> None:
    history = [moment("2026-06-01T10:00", "assigned", priority="P5")]
    clocks = derive(history, terms(resolution={Priority.P1: 60}), at("2026-06-03T10:00"))
    assert clocks.resolution.state is ClockState.RUNNING
    assert clocks.resolution.target is None and clocks.resolution.due_at is None
    assert not clocks.resolution.breached and clocks.stage is SlaStage.OK
    ungoverned = derive(history, None, at("2026-06-03T10:00"))
    assert ungoverned.resolution.state is ClockState.NOT_APPLICABLE
    assert ungoverned.response.state is ClockState.NOT_APPLICABLE


def test_escalation_levels_fire_after_their_time_and_repeat_while_the_clock_runs() -> None:
    desk = Recipient("Team", "desk", "Service Desk")
    path = (
        EscalationStep(1, RESOLUTION, None, 50, None, notify_assignee=True),
        EscalationStep(2, RESOLUTION, None, 150, 30 * MINUTE, reassign_to=desk),
    )
    targets = terms(resolution={Priority.P2: 60}, escalation=path)
    history = [moment("2026-06-01T10:00", "assigned")]
    clocks = derive(history, targets, at("2026-06-01T12:05"))
    fired = [
        (e.kind, e.level, e.repetition, e.at)
        for e in clocks.resolution.due_events()
        if e.kind is SlaEventKind.ESCALATED
    ]
    assert fired == [
        (SlaEventKind.ESCALATED, 1, 0, at("2026-06-01T10:30")),
        (SlaEventKind.ESCALATED, 2, 0, at("2026-06-01T11:30")),
        (SlaEventKind.ESCALATED, 2, 1, at("2026-06-01T12:00")),
    ]
    assert clocks.resolution.next_event_at() == at("2026-06-01T12:30")
    keys = {e.key("inc") for e in clocks.resolution.due_events()}
    assert "inc:resolution:escalated:L2.1" in keys and "inc:resolution:breached:100" in keys
    resolved = derive(
        [*history, moment("2026-06-01T12:01", "resolved")], targets, at("2026-06-01T12:05")
    )
    assert resolved.resolution.due_events() == [] and resolved.resolution.next_event_at() is None


def test_history_is_read_from_audit_entries_with_hold_reasons_and_priority_updates() -> None:
    entries: list[dict[str, Any]] = [
        {
            "action": "create",
            "at": at("2026-06-01T10:00"),
            "changes": {"state": "new", "priority": "P3", "title": "x"},
        },
        {
            "action": "transition",
            "at": at("2026-06-01T10:00"),
            "changes": {"transition": "assign", "state": "assigned"},
        },
        {"action": "update", "at": at("2026-06-01T10:05"), "changes": {"title": "y"}},
        {
            "action": "update",
            "at": at("2026-06-01T10:10"),
            "changes": {"priority": "P1", "impact": "high"},
        },
        {
            "action": "transition",
            "at": at("2026-06-01T10:20"),
            "changes": {"state": "on_hold", "holdReason": "awaiting_caller"},
        },
        {"action": "transition", "at": at("2026-06-01T10:30"), "changes": {"state": "in_progress"}},
    ]
    assert history_from_audit(entries) == [
        Moment(at("2026-06-01T10:00"), "new", None, Priority.P3),
        Moment(at("2026-06-01T10:00"), "assigned", None, Priority.P3),
        Moment(at("2026-06-01T10:10"), "assigned", None, Priority.P1),
        Moment(at("2026-06-01T10:20"), "on_hold", "awaiting_caller", Priority.P1),
        Moment(at("2026-06-01T10:30"), "in_progress", None, Priority.P1),
    ]


# --- the reference ---------------------------------------------------------------------------


def reference_state(clock: EscalationClock, history: list[Moment], t: datetime) -> str:
    """The rules, read literally for one minute."""
    seen = [m for m in history if m.at <= t]
    current = seen[-1]
    if clock is RESPONSE and any(m.state in ("in_progress", "resolved") for m in seen):
        return "stopped"
    if clock is RESOLUTION and current.state in ("resolved", "closed"):
        return "stopped"
    if current.state == "on_hold" and current.hold_reason == "awaiting_caller":
        return "paused"
    return "running"


@dataclass
class Reference:
    elapsed: int
    paused: int
    reached: dict[int, datetime | None]  # minutes of running -> the instant they are reached


def reference_clock(
    clock: EscalationClock,
    history: list[Moment],
    calendar: BusinessCalendar,
    hours: Any,
    now: datetime,
    amounts: list[int],
) -> Reference:
    elapsed = paused = 0
    reached: dict[int, datetime | None] = {a: None for a in amounts}
    t = history[0].at
    state_now = reference_state(clock, history, now)
    horizon = now + timedelta(days=40)
    while t < horizon:
        state = reference_state(clock, history, min(t, now)) if t < now else state_now
        if t >= now and state != "running":
            break
        business = reference_counts(calendar, hours, t)
        if state == "running" and business:
            elapsed += 1
            for a in amounts:
                if a == elapsed and reached[a] is None:
                    reached[a] = t + MINUTE
        elif state == "paused" and business and t < now:
            paused += 1
        t += MINUTE
        if t == now:
            counted = elapsed, paused
        if t > now and all(reached[a] is not None for a in amounts):
            break
    if history[0].at >= now:
        counted = (0, 0)
    for a in amounts:
        if a == 0:
            reached[a] = history[0].at
    return Reference(*counted, reached)  # type: ignore[possibly-undefined]


# --- random histories ------------------------------------------------------------------------

STEPS = {
    "new": ("assigned", "in_progress", "resolved"),
    "assigned": ("in_progress", "on_hold", "resolved"),
    "in_progress": ("on_hold", "resolved"),
    "on_hold": ("in_progress", "resolved"),
    "resolved": ("in_progress", "closed"),
    "closed": (),
}
CALENDARS = {
    "Europe/Berlin": (date(2026, 3, 29), date(2026, 10, 25)),
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
}
HOURS = (
    OFFICE,
    {d: ((time(7, 30), time(12)), (time(13), time(19, 45))) for d in range(6)},
    {d: ((time(0), time(4)), (time(22), time(0))) for d in range(7)},  # nights, over the change
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Moment], AgreementTermsView, Any, datetime]:
    zone = draw(st.sampled_from(sorted(CALENDARS)))
    change = draw(st.sampled_from(CALENDARS[zone]))
    always = draw(st.booleans()) and draw(st.booleans())
    hours = draw(st.sampled_from(HOURS))
    closed = draw(st.lists(st.integers(-2, 3), max_size=2))
    calendar = BusinessCalendar(
        "UTC" if always else zone,
        {} if always else hours,
        holiday_country=draw(st.sampled_from([None, "DE" if zone.startswith("Europe") else "US"])),
        extra_holidays=frozenset(change + timedelta(days=d) for d in closed),
        always=always,
    )
    start = datetime.combine(change, time(0), UTC) - timedelta(
        minutes=draw(st.integers(0, 3 * 24 * 60))
    )
    state = "new"
    priority = draw(st.sampled_from(list(Priority)))
    history = [Moment(start, state, None, priority)]
    t = start
    for _ in range(draw(st.integers(0, 7))):
        t += draw(st.integers(0, 900)) * MINUTE
        if draw(st.booleans()) and state != "closed":
            priority = draw(st.sampled_from(list(Priority)))
        elif STEPS[state]:
            state = draw(st.sampled_from(STEPS[state]))
        hold = (
            draw(st.sampled_from(["awaiting_caller", "awaiting_vendor", "awaiting_change"]))
            if state == "on_hold"
            else None
        )
        if history[-1].state == "on_hold" and state == "on_hold":
            hold = history[-1].hold_reason
        history.append(Moment(t, state, hold, priority))
    now = t + draw(st.integers(0, 1200)) * MINUTE
    targets = st.dictionaries(st.sampled_from(list(Priority)), st.integers(1, 600), max_size=5)
    after = draw(st.integers(0, 300))
    path = (
        EscalationStep(
            1,
            RESOLUTION,
            after * MINUTE,
            None,
            draw(st.sampled_from([None, 45 * MINUTE])),
            notify_assignee=True,
        ),
        EscalationStep(2, RESPONSE, None, draw(st.integers(1, 300)), None, notify_assignee=True),
    )
    view = terms(
        calendar,
        response=draw(targets),
        resolution=draw(targets),
        warnings=tuple(sorted(draw(st.sets(st.integers(1, 99), max_size=3)))),
        escalation=path,
    )
    return history, view, hours, now


def minutes(amount: timedelta) -> int:
    assert amount % MINUTE == timedelta(0), amount
    return int(amount / MINUTE)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_clocks_agree_with_a_minute_by_minute_reading_of_the_rules(
    case: tuple[list[Moment], AgreementTermsView, Any, datetime],
) -> None:
    history, view, hours, now = case
    clocks = derive(history, view, now)
    for clock in (clocks.response, clocks.resolution):
        name = clock.clock
        target = minutes(clock.target) if clock.target is not None else None
        assert clock.target == view.target(name, history[-1].priority or Priority.P3)
        warn_amounts = [target * p / 100 for p in view.warning_percents] if target else []
        step = next(s for s in view.escalation if s.clock is name)
        first = step.fires_after(clock.target)
        every = step.repeat_every or timedelta(0)
        firings = [e for e in clock.events if e.kind is SlaEventKind.ESCALATED]
        firing_amounts = [(first or timedelta(0)) + every * e.repetition for e in firings]
        amounts = [target, *warn_amounts, *(a / MINUTE for a in firing_amounts)]
        whole = [a for a in amounts if a is not None and a == int(a)]
        ref = reference_clock(
            name, history, view.calendar, hours, now, sorted({int(a) for a in whole})
        )
        assert (minutes(clock.elapsed), minutes(clock.paused)) == (ref.elapsed, ref.paused)
        assert clock.state.value == reference_state(name, history, now)
        if target is not None:
            assert clock.breach_at == ref.reached[target]
            assert clock.breached == (ref.elapsed >= target)
            assert clock.remaining == (target - ref.elapsed) * MINUTE
            expected_due = ref.reached[target] if clock.state is ClockState.RUNNING else None
            assert clock.due_at == expected_due
        for warning in clock.warnings:
            amount = target * warning.percent / 100 if target else None
            if amount is not None and amount == int(amount):
                assert warning.at == ref.reached[int(amount)]
        # Each firing at its place; a repeating level's latest MAX_CATCH_UP that were reached,
        # and the next one while the clock runs.
        for event, amount in zip(firings, firing_amounts, strict=True):
            if amount % MINUTE == timedelta(0):
                assert event.at == ref.reached[minutes(amount)]
        if first is not None:
            reached = (
                0
                if clock.elapsed < first
                else (1 if not every else int((clock.elapsed - first) / every) + 1)
            )
            expected = list(range(max(0, reached - MAX_CATCH_UP), reached))
            if clock.state is ClockState.RUNNING and (every or reached == 0):
                expected.append(reached)
            assert [e.repetition for e in firings] == expected
        # Events fall due only on a running clock, and never ahead of time.
        assert all(e.at <= now for e in clock.due_events())
        if clock.state is not ClockState.RUNNING:
            assert clock.due_events() == [] and clock.next_event_at() is None
