"""Escalation paths: the ordered levels of an agreement's terms, each firing on a clock after a
number of business minutes or at a percentage of the target, notifying people or teams and/or
handing the record to another team, once or repeating.

The path is data: the incident process runs it. Here it is checked, so that what is stored can
always be run: every level fires at a known point, later than the one before it on the same
clock at every priority, and names only active recipients.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from core.agreement_terms import EscalationClock
from core.errors import NotFound, ValidationFailed
from core.ids import parse_global_id
from core.priority import Priority

MAX_PERCENT = 1000  # a level may fire long after the breach: at 150 %, at 300 %
MAX_LEVELS = 20


E = TypeVar("E", bound=enum.StrEnum)


def closed_value(values: type[E], given: str, where: str, what: str) -> E:
    """A member of a closed set, or a refusal at `where` listing the members."""
    try:
        return values(given)
    except ValueError:
        raise ValidationFailed(
            where,
            f"unknown_{what}",
            f"unknown {what} {given!r}; one of: " + ", ".join(v.value for v in values),
        ) from None


@dataclass(frozen=True)
class EscalationLevelGiven:
    """One level as a caller gives it; recipients by global or stored id."""

    clock: str
    after_minutes: int | None = None
    at_percent: int | None = None
    repeat_every_minutes: int | None = None
    notify: Sequence[str] = ()
    notify_assignee: bool = False
    reassign_to: str | None = None


@dataclass(frozen=True)
class Recipient:
    """A Person or a Team an escalation level names."""

    label: str  # Person or Team
    id: str
    name: str | None = None


@dataclass(frozen=True)
class EscalationStep:
    """One level as stored and as the incident process runs it."""

    level: int
    clock: EscalationClock
    after: timedelta | None  # business time after the clock starts
    at_percent: int | None  # of the target at the record's priority
    repeat_every: timedelta | None  # None: once
    notify: tuple[Recipient, ...] = ()
    notify_assignee: bool = False
    reassign_to: Recipient | None = None

    def fires_after(self, target: timedelta | None) -> timedelta | None:
        """Business time after the clock starts when the level first fires; None when it is
        set as a percentage and the record's priority has no target on its clock."""
        if self.after is not None:
            return self.after
        if target is None or self.at_percent is None:
            return None
        return target * self.at_percent / 100

    def content(self) -> tuple[Any, ...]:
        """What the level says, for telling whether two paths are the same."""
        return (
            self.clock.value,
            self.after,
            self.at_percent,
            self.repeat_every,
            tuple(sorted((r.label, r.id) for r in self.notify)),
            self.notify_assignee,
            (self.reassign_to.label, self.reassign_to.id) if self.reassign_to else None,
        )


def step_from_stored(props: Mapping[str, Any]) -> EscalationStep:
    """A level as `graphdb.cypher.agreement_terms.levels_of` reads it."""

    def minutes(name: str) -> timedelta | None:
        value = props.get(name)
        return timedelta(minutes=value) if value is not None else None

    reassign = props.get("reassignTo")
    return EscalationStep(
        level=int(props["level"]),
        clock=EscalationClock(props["clock"]),
        after=minutes("afterMinutes"),
        at_percent=props.get("atPercent"),
        repeat_every=minutes("repeatEveryMinutes"),
        notify=tuple(Recipient(n["label"], n["id"], n.get("name")) for n in props["notify"]),
        notify_assignee=bool(props.get("notifyAssignee")),
        reassign_to=Recipient(reassign["label"], reassign["id"], reassign.get("name"))
        if reassign
        else None,
    )


def whole_minutes(amount: timedelta | None) -> int | None:
    """Business time as the whole minutes that targets and levels are stored in."""
    return int(amount.total_seconds()) // 60 if amount is not None else None


def stored_props(step: EscalationStep) -> dict[str, Any]:
    """A level's own properties as the EscalationLevel node stores them."""
    return {
        "level": step.level,
        "clock": step.clock.value,
        "afterMinutes": whole_minutes(step.after),
        "atPercent": step.at_percent,
        "repeatEveryMinutes": whole_minutes(step.repeat_every),
        "notifyAssignee": step.notify_assignee,
    }


def recipient_ids(given: Sequence[EscalationLevelGiven]) -> list[str]:
    """Every stored id the levels name, to look up in one read."""
    ids: list[str] = []
    for i, level in enumerate(given):
        ids += [_party_id(r, f"escalation[{i}].notify", ("Person", "Team")) for r in level.notify]
        if level.reassign_to is not None:
            ids.append(_party_id(level.reassign_to, f"escalation[{i}].reassignTo", ("Team",)))
    return ids


def _party_id(value: str, where: str, labels: tuple[str, ...]) -> str:
    parsed = parse_global_id(value)
    if parsed is None:
        return value
    label, stored = parsed
    if label not in labels:
        raise ValidationFailed(
            where,
            "wrong_type",
            f"{value!r} is the id of a {label}, not of a {' or a '.join(labels)}",
        )
    return stored


def check_levels(
    given: Sequence[EscalationLevelGiven],
    parties: Mapping[str, Mapping[str, Any]],
    targets: Mapping[EscalationClock, Mapping[Priority, int]],
) -> list[EscalationStep]:
    """The levels as they will be stored, or the first rule broken, naming
    `escalation[i].<field>`. `parties` are the People and Teams the levels name (by stored id:
    label, state, name); `targets` the terms' minutes per clock and priority."""
    if len(given) > MAX_LEVELS:
        raise ValidationFailed(
            "escalation", "too_many", f"an escalation path has at most {MAX_LEVELS} levels"
        )
    steps = []
    for i, level in enumerate(given):
        where = f"escalation[{i}]"
        clock = closed_value(EscalationClock, level.clock, f"{where}.clock", "clock")
        if (level.after_minutes is None) == (level.at_percent is None):
            raise ValidationFailed(
                where if level.after_minutes is None else f"{where}.atPercent",
                "after_or_at_percent",
                "a level fires either afterMinutes after its clock starts or atPercent of the "
                "target: give exactly one of them",
            )
        if level.after_minutes is not None and level.after_minutes < 0:
            raise ValidationFailed(
                f"{where}.afterMinutes", "negative", "afterMinutes must not be negative"
            )
        if level.at_percent is not None:
            if not 1 <= level.at_percent <= MAX_PERCENT:
                raise ValidationFailed(
                    f"{where}.atPercent",
                    "out_of_range",
                    f"atPercent is between 1 and {MAX_PERCENT} (above 100: after the breach)",
                )
            if not targets.get(clock):
                raise ValidationFailed(
                    f"{where}.atPercent",
                    "no_target",
                    f"the terms set no {clock.value} target at any priority, so a level at a "
                    "percentage of it would never fire",
                )
        if level.repeat_every_minutes is not None and level.repeat_every_minutes <= 0:
            raise ValidationFailed(
                f"{where}.repeatEveryMinutes",
                "not_positive",
                "repeatEveryMinutes is a positive number of minutes; leave it out to fire once",
            )
        notify = tuple(
            _recipient(r, f"{where}.notify", ("Person", "Team"), parties) for r in level.notify
        )
        reassign = (
            _recipient(level.reassign_to, f"{where}.reassignTo", ("Team",), parties)
            if level.reassign_to is not None
            else None
        )
        if not notify and not level.notify_assignee and reassign is None:
            raise ValidationFailed(
                where,
                "no_action",
                "a level must notify someone (notify, notifyAssignee) or reassign the record",
            )
        steps.append(
            EscalationStep(
                level=i + 1,
                clock=clock,
                after=_minutes(level.after_minutes),
                at_percent=level.at_percent,
                repeat_every=_minutes(level.repeat_every_minutes),
                notify=tuple(dict.fromkeys(notify)),
                notify_assignee=level.notify_assignee,
                reassign_to=reassign,
            )
        )
    check_order(steps, targets)
    return steps


def check_order(
    steps: Sequence[EscalationStep], targets: Mapping[EscalationClock, Mapping[Priority, int]]
) -> None:
    """Levels on one clock must fire strictly one after the other at every priority: a level at
    a percentage is placed by the target at that priority, one after N minutes by N."""
    for clock in EscalationClock:
        for priority in Priority:
            minutes = targets.get(clock, {}).get(priority)
            target = timedelta(minutes=minutes) if minutes is not None else None
            last: tuple[EscalationStep, timedelta] | None = None
            for step in (s for s in steps if s.clock is clock):
                fires = step.fires_after(target)
                if fires is None:
                    continue
                if last is not None and fires <= last[1]:
                    name = "afterMinutes" if step.after is not None else "atPercent"
                    raise ValidationFailed(
                        f"escalation[{step.level - 1}].{name}",
                        "not_ascending",
                        f"level {step.level} fires {_said(fires)} into the {clock.value} clock "
                        f"at {priority.value}, not after level {last[0].level} "
                        f"({_said(last[1])}): give the levels of a clock in the order they fire",
                    )
                last = (step, fires)


def _said(amount: timedelta) -> str:
    minutes = amount.total_seconds() / 60
    return f"{minutes:g} min"


def _minutes(value: int | None) -> timedelta | None:
    return timedelta(minutes=value) if value is not None else None


def _recipient(
    value: str, where: str, labels: tuple[str, ...], parties: Mapping[str, Mapping[str, Any]]
) -> Recipient:
    stored = _party_id(value, where, labels)
    found = parties.get(stored)
    if found is None:
        raise NotFound(" or ".join(labels), stored, field=where)
    if found["label"] not in labels:
        raise ValidationFailed(
            where, "wrong_type", f"{stored!r} is a {found['label']}, not a {' or a '.join(labels)}"
        )
    if found.get("state") != "active":
        raise ValidationFailed(
            where,
            "not_active",
            f"{found['label']} {found.get('name') or stored!r} is {found.get('state')}: only "
            "active people and teams can be escalated to",
        )
    return Recipient(found["label"], stored, found.get("name"))
