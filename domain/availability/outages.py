"""Outages: the periods a CI was down or degraded, recorded from availability alerts or by hand.

`open_outage_in` and `end_outage_in` work inside a unit of work the caller holds, so threshold
evaluation records an outage in the same transaction as the alert it fires. An outage from an
alert has source `alert` and is linked to it (RECORDED_FROM); one a person enters has source
`manual`. A CI may have several outages, overlapping ones too (down while already degraded).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed, VersionConflict
from core.events import OUTAGE, OutageKind, OutageSource
from core.records import RecordType, check_properties, check_value
from domain import records
from graphdb.cypher import availability as cypher
from graphdb.records import PageQuery, page
from graphdb.write_path import Store, UnitOfWork

LABEL = OUTAGE.label
_CI = next(link for link in OUTAGE.link_fields if link.name == "ci")
# Outages recorded from alerts get ids derived from the alert and the start, so that evaluating
# the same samples twice finds the outage it recorded the first time instead of a second one.
_FROM_ALERT = uuid.UUID("6c0b1f0e-3f55-4c64-9d0b-3f2a4f1f0a11")


def native(value: Any) -> datetime | None:
    """A stored time as a Python datetime (the driver answers its own type)."""
    if value is None:
        return None
    native_time: datetime = value.to_native() if hasattr(value, "to_native") else value
    return native_time


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationFailed(field, "not_a_time", f"{field} is a time with its UTC offset")
    return value


def open_outage_in(
    uow: UnitOfWork,
    ci_id: str,
    kind: OutageKind,
    start: datetime,
    *,
    alert_id: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """Record an outage that began at `start` and goes on; linked to the alert it came from
    (source `alert`), or entered by hand (source `manual`). Returns the outage.

    From an alert it is recorded once: the alert's outage with this start, or the one it has
    going on, is answered as it is."""
    start = _aware(start, "start")
    values = check_properties(
        OUTAGE, {"start": start, "kind": OutageKind(kind).value, "notes": notes}, creating=True
    )
    if alert_id is None:
        created = records.create_in(
            uow, OUTAGE, values, [(_CI, [ci_id])], {"source": OutageSource.MANUAL.value}
        )
        return created
    outage_id = str(uuid.uuid5(_FROM_ALERT, f"{alert_id}|{start.isoformat()}"))
    recorded = cypher.outage(uow.tx, outage_id) or cypher.open_outage_of_alert(uow.tx, alert_id)
    if recorded is not None:
        return recorded
    created = uow.create(LABEL, {**values, "source": OutageSource.ALERT.value}, record_id=outage_id)
    uow.set_links(LABEL, outage_id, _CI, [ci_id], field="ci")
    uow.link(LABEL, outage_id, "RECORDED_FROM", "Alert", alert_id)
    return uow.lock(LABEL, created["id"])


def check_end(start: Any, end: datetime | None, field: str = "end") -> None:
    """An outage never ends before it began."""
    began = native(start)
    if end is not None and began is not None and _aware(end, field) < began:
        raise ValidationFailed(
            field,
            "before_start",
            f"an outage cannot end ({end.isoformat()}) before it began ({began.isoformat()})",
        )


def end_outage_in(uow: UnitOfWork, outage_id: str, end: datetime) -> dict[str, Any]:
    """End an outage at `end` (never before its start). Returns the outage.

    Ending it again at the same time changes nothing; an outage that has ended is moved to
    another end only by updating it. A down outage over what an SLA allows opens a problem
    (`domain.problems.outages`)."""
    end = _aware(end, "end")
    outage = uow.lock(LABEL, outage_id)
    check_end(outage["start"], end)
    ended = native(outage.get("end"))
    if ended is not None:
        if ended == end:
            return outage
        raise ValidationFailed(
            "end",
            "already_ended",
            f"{outage.get('number')} ended at {ended.isoformat()}: change its end by updating it",
        )
    over = uow.update(LABEL, outage_id, {"end": end}, expected_version=None)
    _ended(uow, over)
    return over


def _ended(uow: UnitOfWork, outage: dict[str, Any]) -> None:
    """However an outage got its end (ended, recorded already over, its end set by an update),
    Problem Management measures it against the SLAs above it."""
    # Imported here: Problem Management measures the outage with this process's report, which
    # imports this module.
    from domain.problems import outages as problem_outages

    problem_outages.outage_ended(uow, outage)


def open_outage_of_alert(uow: UnitOfWork, alert_id: str) -> dict[str, Any] | None:
    """The outage an alert recorded that has not ended, if any."""
    return cypher.open_outage_of_alert(uow.tx, alert_id)


# -- by hand: the API's createOutage, updateOutage and endOutage -------------------------------


def _not_in_future(uow: UnitOfWork, values: Mapping[str, Any]) -> None:
    """What a person records has happened: neither its start nor its end is after now."""
    for name in ("start", "end"):
        value = values.get(name)
        if value is not None and value > uow.at:
            raise ValidationFailed(
                name,
                "in_future",
                f"{name} {value.isoformat()} is in the future: record an outage once it began "
                "(and end it once it is over)",
            )


def record_outage(
    store: Store,
    actor: Actor,
    record: RecordType,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    permission: Permission = Permission.WORK_RECORDS,
    also: records.Also | None = None,
) -> dict[str, Any]:
    """`createOutage`: an outage a person enters (source `manual`), going on or already over,
    in one transaction."""
    actor.require(permission)
    checked = check_properties(OUTAGE, values, creating=True)
    wanted = records.checked_links(OUTAGE, links, creating=True)
    check_end(checked["start"], checked.get("end"))

    def work(uow: UnitOfWork) -> dict[str, Any]:
        _not_in_future(uow, checked)
        created = records.create_in(
            uow, OUTAGE, checked, wanted, {"source": OutageSource.MANUAL.value}
        )
        if also is not None:
            also(uow, created)
        if created.get("end") is not None:
            _ended(uow, uow.lock(LABEL, created["id"]))
        return uow.lock(LABEL, created["id"])

    return store.write(actor, work)


def update_outage(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    version: int | None,
    permission: Permission = Permission.WORK_RECORDS,
    also: records.Also | None = None,
) -> dict[str, Any]:
    """`updateOutage`: the kernel's update, checked on the outage as it would be (its end never
    before its start, nothing in the future); an outage recorded from an alert stays on the
    alert's CI."""

    def checked(uow: UnitOfWork, after: dict[str, Any]) -> None:
        check_end(after["start"], native(after.get("end")))
        _not_in_future(uow, {k: v for k, v in values.items() if k in ("start", "end")})
        moved = uow.relinked.get((LABEL, after["id"], _CI.name))
        if moved and after.get("source") == OutageSource.ALERT:
            raise ValidationFailed(
                "ci", "from_alert", "an outage recorded from an alert is about the alert's CI"
            )
        if also is not None:
            also(uow, after)
        if values.get("end") is not None:
            _ended(uow, uow.lock(LABEL, after["id"]))

    return records.update(
        store,
        actor,
        record,
        record_id,
        values,
        links,
        version=version,
        permission=permission,
        also=checked,
    )


def end_outage(
    store: Store,
    actor: Actor,
    outage_id: str,
    end: datetime | None,
    *,
    version: int | None,
) -> dict[str, Any]:
    """`endOutage`: an outage going on is over, at `end` (now when not given)."""
    actor.require(Permission.WORK_RECORDS)
    if end is not None:
        _aware(end, "end")

    def work(uow: UnitOfWork) -> dict[str, Any]:
        current = uow.lock(LABEL, outage_id)
        if version is not None and current["version"] != version:
            raise VersionConflict(LABEL, outage_id, version, int(current["version"]))
        at = end or uow.at
        _not_in_future(uow, {"end": at})
        if current.get("end") is not None:
            raise ValidationFailed(
                "id", "already_ended", f"{current.get('number')} has ended already"
            )
        return end_outage_in(uow, outage_id, at)

    return store.write(actor, work)


def _filters(given: Mapping[str, Sequence[Any] | None]) -> dict[str, list[Any]]:
    """Kinds and sources to match, as stored; any other property is not a filter."""
    out = {}
    for name, values in given.items():
        if name not in ("kind", "source"):
            raise ValidationFailed(
                f"filter.{name}", "not_filterable", "outages are filtered by kind and source"
            )
        if values is None:
            continue
        if not values:
            raise ValidationFailed(f"filter.{name}", "empty", f"give at least one {name} to match")
        out[name] = [check_value(OUTAGE.by_name[name], v, f"filter.{name}") for v in values]
    return out


def outage_page(
    store: Store,
    actor: Actor,
    search: records.RecordSearch,
    *,
    ci_ids: Sequence[str] | None = None,
    ongoing: bool | None = None,
    overlapping: tuple[datetime | None, datetime | None] = (None, None),
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """A page of outages: the kernel's page with conditions of their own (about these CIs, going
    on or over, overlapping a time range)."""
    actor.require(Permission.READ)
    if ci_ids is not None and not ci_ids:
        raise ValidationFailed("filter.cis", "empty", "give at least one CI to match")
    since, until = overlapping
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("filter.to", "before_from", "to must be after from")
    conditions, params = cypher.outage_conditions(
        ci_ids=ci_ids, ongoing=ongoing, since=since, until=until
    )
    query = PageQuery(
        order="start",
        descending=search.descending,
        filters=_filters(search.filters),
        after=search.after,
        before=search.before,
        backward=search.backward,
        limit=search.limit,
        count=search.count,
        scope=records.scope_for(actor, OUTAGE),
        conditions=conditions,
        params=params,
    )
    return store.read(lambda tx: page(tx, OUTAGE, query))
