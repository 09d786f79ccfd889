"""Announcing incident changes to live subscribers (placeholder: subscriptions land with their
own change)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from graphdb.write_path import UnitOfWork


class Change(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"


def incident_changed(uow: UnitOfWork, incident: Mapping[str, Any], kind: Change) -> None:
    """Called at the end of every unit of work that opened or changed an incident (one call per
    incident per unit of work is enough; more are harmless). Subscribers in every API process
    hear of it once the transaction commits."""
    return None
