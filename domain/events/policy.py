"""The event policy: how long a new root waits for its storm to settle, what makes an alert flap,
what each severity of a monitoring event prescribes, and whom alerts fall back to.

One `EventPolicy` record holds it; until a manager sets one, the defaults below apply. Each change
is an audited update of that record, as the incident policy's are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.events import EVENT_POLICY, Severity, ThresholdAction
from domain import records
from graphdb.cypher import alerts as cypher
from graphdb.write_path import Store

DEFAULT_SEVERITY_ACTIONS: Mapping[Severity, ThresholdAction] = {
    Severity.CRITICAL: ThresholdAction.BOTH,
    Severity.ERROR: ThresholdAction.INCIDENT,
    Severity.WARNING: ThresholdAction.NOTIFY,
    Severity.INFO: ThresholdAction.RECORD,
}
DEFAULT_CORRELATION_WINDOW = 30
DEFAULT_FLAP_CHANGES = 4
DEFAULT_FLAP_WINDOW = 600
DEFAULT_FLAP_QUIET = 900
# Bounds that keep a typo from silencing alerts for a year.
MAX_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Policy:
    correlation_window: int = DEFAULT_CORRELATION_WINDOW
    flap_changes: int = DEFAULT_FLAP_CHANGES
    flap_window: int = DEFAULT_FLAP_WINDOW
    flap_quiet: int = DEFAULT_FLAP_QUIET
    severity_actions: Mapping[Severity, ThresholdAction] = field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_ACTIONS)
    )
    fallback_team_id: str | None = None
    id: str | None = None  # None: the defaults, never set

    def action_for(self, severity: Severity) -> ThresholdAction:
        return self.severity_actions.get(severity, ThresholdAction.NOTIFY)


def _parse_actions(entries: Sequence[str], where: str) -> dict[Severity, ThresholdAction]:
    out: dict[Severity, ThresholdAction] = {}
    for index, entry in enumerate(entries):
        name, _, value = entry.partition("=")
        try:
            severity, action = Severity(name.strip()), ThresholdAction(value.strip())
        except ValueError:
            raise ValidationFailed(
                f"{where}[{index}]",
                "malformed_entry",
                f"{entry!r} is not severity=action with a severity of "
                + ", ".join(s.value for s in Severity)
                + " and an action of "
                + ", ".join(a.value for a in ThresholdAction)
                + ' ("critical=both")',
            ) from None
        if severity in out:
            raise ValidationFailed(f"{where}[{index}]", "duplicate", f"{severity} is given twice")
        out[severity] = action
    return out


def policy_of(props: Mapping[str, Any] | None) -> Policy:
    if props is None:
        return Policy()
    return Policy(
        correlation_window=int(props["correlationWindowSeconds"]),
        flap_changes=int(props["flapChanges"]),
        flap_window=int(props["flapWindowSeconds"]),
        flap_quiet=int(props["flapQuietSeconds"]),
        severity_actions={
            **DEFAULT_SEVERITY_ACTIONS,
            **_parse_actions(props.get("severityActions") or [], "severityActions"),
        },
        fallback_team_id=props.get("fallbackTeamId"),
        id=props["id"],
    )


def current(tx: ManagedTransaction) -> Policy:
    return policy_of(cypher.policy(tx))


def default_values() -> dict[str, Any]:
    return {
        "correlationWindowSeconds": DEFAULT_CORRELATION_WINDOW,
        "flapChanges": DEFAULT_FLAP_CHANGES,
        "flapWindowSeconds": DEFAULT_FLAP_WINDOW,
        "flapQuietSeconds": DEFAULT_FLAP_QUIET,
        "severityActions": [f"{s}={a}" for s, a in DEFAULT_SEVERITY_ACTIONS.items()],
    }


def check(values: Mapping[str, Any]) -> None:
    """The policy's own rules, beyond what its declaration checks."""
    if values.get("severityActions") is not None:
        _parse_actions(values["severityActions"], "severityActions")
    for name in ("correlationWindowSeconds", "flapWindowSeconds", "flapQuietSeconds"):
        seconds = values.get(name)
        if seconds is not None and not 0 <= int(seconds) <= MAX_SECONDS:
            raise ValidationFailed(name, "out_of_range", f"{name} is 0 to {MAX_SECONDS} seconds")
    changes = values.get("flapChanges")
    if changes is not None and not 2 <= int(changes) <= 1000:
        raise ValidationFailed(
            "flapChanges", "out_of_range", "flapChanges is 2 to 1000 state changes"
        )


def stored_policy(store: Store, actor: Actor) -> dict[str, Any]:
    """The policy as stored, or the defaults (with no id) while none was set."""
    actor.require(Permission.READ)
    return store.read(cypher.policy) or {**default_values(), "id": None, "fallbackTeamId": None}


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
        EVENT_POLICY,
        store.read(cypher.policy),
        default_values(),
        values,
        links,
        version=version,
        permission=Permission.MANAGE_SERVICE_LEVELS,
    )
