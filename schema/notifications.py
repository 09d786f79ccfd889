"""What was sent about the incident (placeholder)."""

from __future__ import annotations

import strawberry


@strawberry.type
class IncidentNotificationFields:
    """Fields of the Incident type that this module serves."""
