"""Maintenance: alerts on a CI being worked on are recorded, not acted on.

A CI is in maintenance when its lifecycle says so, or when a maintenance window active at the
event's own time covers it or anything it depends on (upstream, by the CMDB's propagating
relationships: work on a database host silences the alerts of what runs on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.record_types import Lifecycle
from core.records import RecordType
from domain import records
from domain.changes import lifecycle as changes
from graphdb.cypher import alerts as cypher
from graphdb.write_path import Store, UnitOfWork, now


def suppression(uow: UnitOfWork, ci_id: str, upstream: Sequence[str], at: datetime) -> str | None:
    """Why an alert on `ci_id` at `at` is only recorded, or None when it is acted on."""
    facts = cypher.ci_facts(uow.tx, ci_id)
    if facts is not None and facts.get("lifecycle") == Lifecycle.MAINTENANCE:
        return f"{facts['name']} is in maintenance (its lifecycle)"
    by_change = changes.maintenance_reason(uow, ci_id, upstream)
    if by_change is not None:
        return by_change
    windows = cypher.active_windows(uow.tx, [ci_id, *upstream], at)
    if not windows:
        return None
    # The window on the CI itself explains it best; else the nearest one upstream.
    order = {ci: i for i, ci in enumerate([ci_id, *upstream])}
    window = min(windows, key=lambda w: order.get(w["ci"], len(order)))
    where = "on it" if window["ci"] == ci_id else f"on {window['ciName']}, which it depends on"
    return f"maintenance window {window['number']} ({window['title']}) {where}"


def _ends_after_start(uow: UnitOfWork, window: dict[str, Any]) -> None:
    # Checked on the record as written, in the same transaction: an update that gives only one
    # end is judged against the other as stored.
    start, end = (
        getattr(window[k], "to_native", lambda k=k: window[k])() for k in ("start", "end")
    )
    if end <= start:
        raise ValidationFailed(
            "end", "not_after_start", "a maintenance window must end after it starts"
        )


def create_window(
    store: Store,
    actor: Actor,
    record: RecordType,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """`createMaintenanceWindow`: the kernel's create, refused unless it ends after it starts."""
    return records.create(
        store, actor, record, values, links, permission=permission, also=_ends_after_start
    )


def update_window(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    version: int | None,
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """`updateMaintenanceWindow`: the kernel's update; the window still ends after it starts."""
    return records.update(
        store,
        actor,
        record,
        record_id,
        values,
        links,
        version=version,
        permission=permission,
        also=_ends_after_start,
    )


def in_maintenance(store: Store, actor: Actor, ci_ids: Sequence[str]) -> set[str]:
    """Which of these CIs are in maintenance now (lifecycle, or a window on the CI itself)."""
    actor.require(Permission.READ)
    at = now()
    return store.read(lambda tx: cypher.in_maintenance(tx, list(ci_ids), at))
