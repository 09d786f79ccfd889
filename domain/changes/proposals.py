"""Which changes may have caused an incident: when an incident opens, the changes implemented
on its CI or anything it depends on within the policy's window are proposed, nearest first
(fewest hops), then newest; accepting one links the incident to it, and the change failure
rate and time to restore per service and team come from those links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from core.access import Actor, Permission
from core.changes import CHANGE, DEFAULT_PROPOSAL_HOURS
from core.errors import NotFound, ValidationFailed
from core.incidents import INCIDENT
from domain.changes.lifecycle import not_dependencies
from graphdb.cypher import changes as cypher
from graphdb.write_path import Store, UnitOfWork


def _window_hours(uow: UnitOfWork) -> int:
    found = cypher.policy(uow.tx) or {}
    return int(found.get("proposalWindowHours") or DEFAULT_PROPOSAL_HOURS)


def _native(value: Any) -> datetime:
    native: datetime = getattr(value, "to_native", lambda: value)()
    return native


def propose_causes(uow: UnitOfWork, incident_id: str, ci_id: str | None) -> None:
    """Called as an incident opens: link the likely causing changes, ranked, with the reason."""
    if ci_id is None:
        return
    hours = _window_hours(uow)
    found = cypher.recent_upstream(
        uow.tx, ci_id, uow.at - timedelta(hours=hours), uow.at, not_dependencies()
    )
    for rank, c in enumerate(found, start=1):
        ago = (uow.at - _native(c["at"])).total_seconds() / 3600
        where = "on its CI" if c["hops"] == 0 else f"on {c['ciName']}, {c['hops']} hop(s) upstream"
        uow.link(
            INCIDENT.label,
            incident_id,
            "PROPOSED_CAUSE",
            CHANGE.label,
            c["id"],
            {
                "rank": rank,
                "hops": c["hops"],
                "reason": f"{c['number']} ({c['title']}) was implemented {ago:.1f} h before, "
                f"{where}",
            },
        )


def proposals_of(
    store: Store, actor: Actor, incident_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.proposals(tx, incident_ids))


def accept_proposal(store: Store, actor: Actor, incident_id: str, change_id: str) -> dict[str, Any]:
    """`acceptChangeProposal`: the incident was caused by the change."""
    actor.require(Permission.WORK_RECORDS)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        incident = uow.lock(INCIDENT.label, incident_id)
        uow.lock(CHANGE.label, change_id)
        if cypher.caused_by(uow.tx, incident_id, change_id):
            raise ValidationFailed("change", "already_linked", "the change is already its cause")
        uow.link(INCIDENT.label, incident_id, "CAUSED_BY_CHANGE", CHANGE.label, change_id)
        uow.touch(INCIDENT.label, incident_id)
        return incident

    return store.write(actor, work)


def touching(
    store: Store,
    actor: Actor,
    ci_ids: Sequence[str],
    days: int,
    upstream: bool,
    until: datetime,
) -> dict[str, list[dict[str, Any]]]:
    """Changes implemented in the last `days` on each CI, or on anything it depends on."""
    actor.require(Permission.READ)
    if days < 0 or days > 3660:
        raise ValidationFailed("days", "out_of_range", "days is between 0 and 3660")
    since = until - timedelta(days=days)
    skip = not_dependencies()
    return store.read(lambda tx: cypher.changes_on(tx, ci_ids, since, upstream, skip))


def incident_ci(store: Store, actor: Actor, incident_id: str) -> str | None:
    actor.require(Permission.READ)
    found = store.read(lambda tx: cypher.incident_ci(tx, incident_id))
    if found is None:
        raise NotFound(INCIDENT.label, incident_id)
    ci: str | None = found["ci"]
    return ci


def metrics(store: Store, actor: Actor, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Change failure rate and mean time to restore per service and per team."""
    actor.require(Permission.READ)
    if end <= start:
        raise ValidationFailed("to", "not_after_from", "to is after from")
    skip = not_dependencies()
    rows = store.read(lambda tx: cypher.change_metrics(tx, start, end, skip))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        incidents = [i for i in row["incidents"] if i.get("id")]
        failed = row["outcome"] == "failed" or bool(incidents)
        restores = [
            (_native(i["resolvedAt"]) - _native(i["openedAt"])).total_seconds() / 60
            for i in incidents
            if i.get("resolvedAt") and i.get("openedAt")
        ]
        for kind, items in (("service", row["services"]), ("team", row["teams"])):
            for item in items:
                if not item.get("id"):
                    continue
                g = groups.setdefault(
                    (kind, item["id"]),
                    {
                        "kind": kind,
                        "id": item["id"],
                        "name": item["name"],
                        "changes": 0,
                        "failed": 0,
                        "restores": [],
                    },
                )
                g["changes"] += 1
                g["failed"] += int(failed)
                g["restores"].extend(restores)
    out = []
    for g in sorted(groups.values(), key=lambda g: (g["kind"], g["name"] or "")):
        restores = g.pop("restores")
        g["change_failure_rate"] = g["failed"] / g["changes"] if g["changes"] else 0.0
        g["mean_time_to_restore_minutes"] = sum(restores) / len(restores) if restores else None
        out.append(g)
    return out
