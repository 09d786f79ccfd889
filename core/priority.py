"""Priorities, shared by the agreements that set targets per priority and by the records those
targets govern (incidents, requests)."""

from __future__ import annotations

import enum

from core.records import describe


class Priority(enum.StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"


describe(
    Priority,
    "How urgently a record must be handled, from P1 (critical) to P5 (planning).",
    {
        Priority.P1: "Critical: a business-critical service is down for many users.",
        Priority.P2: "High: a critical service is degraded, or a service is down for some users.",
        Priority.P3: "Moderate: a service is degraded for some users; a workaround may exist.",
        Priority.P4: "Low: a single user or a minor part of a service is affected.",
        Priority.P5: "Planning: no present impact; to be scheduled.",
    },
)
