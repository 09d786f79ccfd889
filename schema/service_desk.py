"""What the incident affects and who reported it (placeholder)."""

from __future__ import annotations

import strawberry


@strawberry.type
class IncidentScopeFields:
    """Fields of the Incident type that this module serves."""
