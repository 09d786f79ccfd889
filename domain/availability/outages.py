"""Outages: the periods a CI was down or degraded, recorded from availability alerts or by hand.

(Owned by availability: `open_outage_in` and `end_outage_in` are what threshold evaluation calls
inside its unit of work.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.events import OutageKind
from graphdb.write_path import UnitOfWork


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
    (source `alert`), or entered by hand (source `manual`). Returns the outage."""
    raise NotImplementedError


def end_outage_in(uow: UnitOfWork, outage_id: str, end: datetime) -> dict[str, Any]:
    """End an outage at `end` (never before its start). Returns the outage."""
    raise NotImplementedError


def open_outage_of_alert(uow: UnitOfWork, alert_id: str) -> dict[str, Any] | None:
    """The outage an alert recorded that has not ended, if any."""
    raise NotImplementedError
