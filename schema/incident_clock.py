"""The incident's SLA clocks and escalations (placeholder)."""

from __future__ import annotations

import strawberry


@strawberry.type
class IncidentClockFields:
    """Fields of the Incident type that this module serves."""
