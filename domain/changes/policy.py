"""The change policy: how far back changes are looked for as causes of a new incident and as
the history behind a change's risk. One policy; its defaults apply until a manager sets it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.access import Actor, Permission
from core.changes import CHANGE_POLICY, DEFAULT_FOLLOWING_HOURS, DEFAULT_PROPOSAL_HOURS
from core.errors import ValidationFailed
from domain import records
from graphdb.cypher import changes as cypher
from graphdb.write_path import Store

MAX_HOURS = 24 * 366


def default_values() -> dict[str, Any]:
    return {
        "proposalWindowHours": DEFAULT_PROPOSAL_HOURS,
        "followingIncidentHours": DEFAULT_FOLLOWING_HOURS,
    }


def stored_policy(store: Store, actor: Actor) -> dict[str, Any]:
    """The policy as stored, or the defaults (with no id or version) while none was set."""
    actor.require(Permission.READ)
    return store.read(cypher.policy) or {**default_values(), "id": None, "version": None}


def set_policy(
    store: Store, actor: Actor, values: Mapping[str, Any], *, version: int | None
) -> dict[str, Any]:
    """Change the policy (creating it from the defaults the first time); managers only."""
    for name, hours in values.items():
        if hours is not None and not 1 <= int(hours) <= MAX_HOURS:
            raise ValidationFailed(name, "out_of_range", f"{name} is 1 to {MAX_HOURS} hours")
    return records.set_singleton(
        store,
        actor,
        CHANGE_POLICY,
        store.read(cypher.policy),
        default_values(),
        values,
        None,
        version=version,
        permission=Permission.MANAGE_SERVICE_LEVELS,
    )
