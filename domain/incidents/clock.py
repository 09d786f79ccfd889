"""An incident's SLA clocks, derived from its recorded history only (placeholder: the clocks
land with their own change)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphdb.write_path import UnitOfWork


def rearm(uow: UnitOfWork, incident: Mapping[str, Any]) -> dict[str, Any]:
    """After any change of an incident (opened, a transition, a new priority or agreement):
    recompute its clocks from its history, store the derived figures the queues sort by
    (`responseDueAt`, `resolutionDueAt`, `slaStage`) and move its clock timer to the next
    warning, breach or escalation. Returns the derived properties written."""
    return {}
