"""Outages: the periods a CI was down or degraded, recorded from availability alerts or by hand.

`open_outage_in` and `end_outage_in` work inside a unit of work the caller holds, so threshold
evaluation records an outage in the same transaction as the alert it fires. An outage from an
alert has source `alert` and is linked to it (RECORDED_FROM); one a person enters has source
`manual`. A CI may have several outages, overlapping ones too (down while already degraded).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.errors import ValidationFailed
from core.events import OUTAGE, OutageKind, OutageSource
from core.records import check_properties
from domain import records
from graphdb.cypher import availability as cypher
from graphdb.write_path import UnitOfWork

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
    another end only by updating it."""
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
    return uow.update(LABEL, outage_id, {"end": end}, expected_version=None)


def open_outage_of_alert(uow: UnitOfWork, alert_id: str) -> dict[str, Any] | None:
    """The outage an alert recorded that has not ended, if any."""
    return cypher.open_outage_of_alert(uow.tx, alert_id)
