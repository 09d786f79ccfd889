"""The incident policy: the priority matrix (impact by urgency), the raises on top of it (the CI's
criticality, the governing SLA's floor), and the reopen window.

One `IncidentPolicy` record holds it; until a manager sets one, the defaults below apply (the
usual ITIL three-by-three matrix). Each change is an audited update of that record, so how an old
incident got its priority can be traced; the incident keeps the reasoning in `priorityReason`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from neo4j import ManagedTransaction

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.incidents import POLICY, Level
from core.priority import Priority
from core.record_types import Criticality
from domain import records
from graphdb.cypher import incidents as cypher
from graphdb.write_path import Store

_H, _M, _L = Level.HIGH, Level.MEDIUM, Level.LOW
DEFAULT_MATRIX: Mapping[tuple[Level, Level], Priority] = {
    (_H, _H): Priority.P1,
    (_H, _M): Priority.P2,
    (_M, _H): Priority.P2,
    (_H, _L): Priority.P3,
    (_M, _M): Priority.P3,
    (_L, _H): Priority.P3,
    (_M, _L): Priority.P4,
    (_L, _M): Priority.P4,
    (_L, _L): Priority.P5,
}
DEFAULT_FLOORS: Mapping[Criticality, Priority] = {
    Criticality.CRITICAL: Priority.P2,
    Criticality.HIGH: Priority.P3,
}
DEFAULT_REOPEN_HOURS = 72


def stricter(a: Priority, b: Priority | None) -> Priority:
    """The more urgent of two priorities (P1 is the most urgent)."""
    if b is None:
        return a
    return a if a.value <= b.value else b


@dataclass(frozen=True)
class Policy:
    matrix: Mapping[tuple[Level, Level], Priority] = field(
        default_factory=lambda: dict(DEFAULT_MATRIX)
    )
    floors: Mapping[Criticality, Priority] = field(default_factory=lambda: dict(DEFAULT_FLOORS))
    reopen_window: timedelta = timedelta(hours=DEFAULT_REOPEN_HOURS)
    major_team_id: str | None = None
    id: str | None = None  # None: the defaults, never set

    def priority(
        self,
        impact: Level,
        urgency: Level,
        criticality: Criticality | None,
        sla_floor: Priority | None = None,
        sla_name: str | None = None,
    ) -> tuple[Priority, str]:
        """The priority and, in words, how it was reached."""
        base = self.matrix[(impact, urgency)]
        said = [f"{base} from impact {impact} and urgency {urgency}"]
        priority = base
        floor = self.floors.get(criticality) if criticality else None
        if floor is not None and stricter(priority, floor) != priority:
            priority = floor
            said.append(f"raised to {floor}: the CI is {criticality}")
        if sla_floor is not None and stricter(priority, sla_floor) != priority:
            priority = sla_floor
            said.append(f"raised to {sla_floor}: {sla_name or 'the governing SLA'} says so")
        return priority, "; ".join(said)


def _parse_matrix(entries: Sequence[str], where: str) -> dict[tuple[Level, Level], Priority]:
    out: dict[tuple[Level, Level], Priority] = {}
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        pair, _, value = entry.partition("=")
        impact, _, urgency = pair.partition("/")
        try:
            key = (Level(impact.strip()), Level(urgency.strip()))
            priority = Priority(value.strip().upper())
        except ValueError:
            raise ValidationFailed(
                at,
                "malformed_entry",
                f"{entry!r} is not impact/urgency=priority with impact and urgency one of "
                'high, medium, low and a priority P1-P5 ("high/high=P1")',
            ) from None
        if key in out:
            raise ValidationFailed(at, "duplicate", f"{pair.strip()} is given twice")
        out[key] = priority
    missing = [f"{i}/{u}" for i in Level for u in Level if (i, u) not in out]
    if missing:
        raise ValidationFailed(
            where, "incomplete", f"the matrix needs every impact/urgency pair; missing {missing}"
        )
    return out


def _parse_floors(entries: Sequence[str], where: str) -> dict[Criticality, Priority]:
    out: dict[Criticality, Priority] = {}
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        name, _, value = entry.partition("=")
        try:
            out[Criticality(name.strip())] = Priority(value.strip().upper())
        except ValueError:
            raise ValidationFailed(
                at,
                "malformed_entry",
                f"{entry!r} is not criticality=priority with a criticality of "
                + ", ".join(c.value for c in Criticality)
                + ' and a priority P1-P5 ("critical=P2")',
            ) from None
    return out


def policy_of(props: Mapping[str, Any] | None) -> Policy:
    if props is None:
        return Policy()
    return Policy(
        matrix=_parse_matrix(props["matrix"], "matrix"),
        floors=_parse_floors(props.get("criticalityFloors") or [], "criticalityFloors"),
        reopen_window=timedelta(hours=int(props["reopenWindowHours"])),
        major_team_id=props.get("majorTeamId"),
        id=props["id"],
    )


def current(tx: ManagedTransaction) -> Policy:
    return policy_of(cypher.policy(tx))


def read_policy(store: Store, actor: Actor) -> Policy:
    actor.require(Permission.READ)
    return store.read(current)


def stored_policy(store: Store, actor: Actor) -> dict[str, Any] | None:
    """The policy record as stored; None while the defaults apply."""
    actor.require(Permission.READ)
    return store.read(cypher.policy)


def check(values: Mapping[str, Any]) -> None:
    """The policy's own rules, beyond what its declaration checks."""
    if values.get("matrix") is not None:
        _parse_matrix(values["matrix"], "matrix")
    if values.get("criticalityFloors") is not None:
        _parse_floors(values["criticalityFloors"], "criticalityFloors")
    hours = values.get("reopenWindowHours")
    if hours is not None and not 0 <= int(hours) <= 24 * 90:
        raise ValidationFailed(
            "reopenWindowHours", "out_of_range", "the reopen window is 0 to 2160 hours (90 days)"
        )


def default_values() -> dict[str, Any]:
    return {
        "matrix": [f"{i}/{u}={p}" for (i, u), p in DEFAULT_MATRIX.items()],
        "criticalityFloors": [f"{c}={p}" for c, p in DEFAULT_FLOORS.items()],
        "reopenWindowHours": DEFAULT_REOPEN_HOURS,
    }


def set_policy(
    store: Store,
    actor: Actor,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None,
    *,
    version: int | None,
) -> dict[str, Any]:
    """Change the policy (creating it from the defaults the first time); managers only."""
    check(values)
    return records.set_singleton(
        store,
        actor,
        POLICY,
        store.read(cypher.policy),
        default_values(),
        values,
        links,
        version=version,
        permission=Permission.MANAGE_SERVICE_LEVELS,
    )
