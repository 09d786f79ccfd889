"""The problem policy: when problems open by themselves and what later incidents do. One policy;
its defaults apply until a manager sets it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.problems import POLICY, LinkMode
from domain import records
from graphdb.cypher import problems as cypher
from graphdb.write_path import Store, UnitOfWork

DEFAULT_RECURRENCE_COUNT = 3
DEFAULT_RECURRENCE_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 366


@dataclass(frozen=True)
class Policy:
    recurrence_count: int = DEFAULT_RECURRENCE_COUNT
    recurrence_window: timedelta = timedelta(hours=DEFAULT_RECURRENCE_WINDOW_HOURS)
    upstream_recurrence: bool = True
    major_incident_trigger: bool = True
    outage_trigger: bool = True
    link_mode: LinkMode = LinkMode.LINK


def default_values() -> dict[str, Any]:
    return {
        "recurrenceCount": DEFAULT_RECURRENCE_COUNT,
        "recurrenceWindowHours": DEFAULT_RECURRENCE_WINDOW_HOURS,
        "upstreamRecurrence": True,
        "majorIncidentTrigger": True,
        "outageTrigger": True,
        "linkMode": LinkMode.LINK.value,
    }


def policy_of(stored: Mapping[str, Any] | None) -> Policy:
    values = {**default_values(), **{k: v for k, v in (stored or {}).items() if v is not None}}
    return Policy(
        recurrence_count=int(values["recurrenceCount"]),
        recurrence_window=timedelta(hours=int(values["recurrenceWindowHours"])),
        upstream_recurrence=bool(values["upstreamRecurrence"]),
        major_incident_trigger=bool(values["majorIncidentTrigger"]),
        outage_trigger=bool(values["outageTrigger"]),
        link_mode=LinkMode(values["linkMode"]),
    )


def current(uow: UnitOfWork) -> Policy:
    return policy_of(cypher.policy(uow.tx))


def stored_policy(store: Store, actor: Actor) -> dict[str, Any]:
    """The policy as stored, or the defaults (with no id or version) while none was set."""
    actor.require(Permission.READ)
    return store.read(cypher.policy) or {**default_values(), "id": None, "version": None}


def check(values: Mapping[str, Any]) -> None:
    """The policy's own rules, beyond what its declaration checks."""
    count = values.get("recurrenceCount")
    if count is not None and not 2 <= int(count) <= 1000:
        raise ValidationFailed(
            "recurrenceCount", "out_of_range", "recurrenceCount is 2 to 1000 incidents"
        )
    hours = values.get("recurrenceWindowHours")
    if hours is not None and not 1 <= int(hours) <= MAX_WINDOW_HOURS:
        raise ValidationFailed(
            "recurrenceWindowHours",
            "out_of_range",
            f"recurrenceWindowHours is 1 to {MAX_WINDOW_HOURS} hours",
        )


def set_policy(
    store: Store, actor: Actor, values: Mapping[str, Any], *, version: int | None
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
        None,
        version=version,
        permission=Permission.MANAGE_SERVICE_LEVELS,
    )
