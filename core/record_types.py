"""The record types of the ten processes, each declared once.

Configuration items are declared in full; the other records carry what every record has (label,
number, process) and grow their properties and state machines as each process is built.
"""

from __future__ import annotations

import enum

from core import (
    knowledge,  # noqa: F401 - declares the knowledge base's record types
    service_level,  # noqa: F401 (declares Service Level Management's records)
)
from core.records import RECORD_TYPES, Kind, Prop, RecordType, declare, describe


class Lifecycle(enum.StrEnum):
    PLANNED = "planned"
    LIVE = "live"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


describe(
    Lifecycle,
    "Where a CI stands in its life.",
    {
        Lifecycle.PLANNED: "Ordered or being built; not in use.",
        Lifecycle.LIVE: "In service.",
        Lifecycle.MAINTENANCE: "In service but under maintenance; may be degraded.",
        Lifecycle.RETIRED: "Out of service: kept with its history, gains no relationships.",
    },
)


class Criticality(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


describe(
    Criticality,
    "How much the business suffers when a CI fails.",
    {
        Criticality.LOW: "Little effect; can wait.",
        Criticality.MEDIUM: "Noticeable; the default.",
        Criticality.HIGH: "Serious harm to the business.",
        Criticality.CRITICAL: "Stops the business.",
    },
)


CI = RecordType(
    "CI",
    "CI",
    "Configuration Management",
    "A configuration item: anything under configuration control. Its class is a second label.",
    properties=(
        Prop(
            "name", Kind.STRING, "What people call it.", required=True, sortable=True, fulltext=True
        ),
        Prop(
            "ciClass", Kind.STRING, "Its class in the CMDB registry.", required=True, indexed=True
        ),
        Prop(
            "lifecycle",
            Kind.STRING,
            "Where it is in its life.",
            values=Lifecycle,
            default=Lifecycle.LIVE,
            indexed=True,
        ),
        Prop(
            "criticality",
            Kind.STRING,
            "How much the business needs it.",
            values=Criticality,
            default=Criticality.MEDIUM,
            indexed=True,
        ),
        Prop("owner", Kind.STRING, "Who answers for it.", max_length=1000),
        Prop("description", Kind.TEXT, "What it is for.", fulltext=True),
        Prop(
            "blastRadius",
            Kind.INT,
            "How many CIs depend on this one, within six hops.",
            derived=True,
        ),
        Prop("blastRadiusAt", Kind.DATETIME, "When the blast radius was counted.", derived=True),
    ),
)


def _plain(label: str, prefix: str | None, process: str, description: str) -> RecordType:
    return RecordType(label, prefix, process, description)


declare(
    CI,
    _plain("AuditEntry", None, "Audit", "Who changed what and when."),
    _plain("ApiToken", None, "Access", "An API token, stored as a digest."),
)

# Declared in their process's module, imported here so that every record type is registered.
import core.agreement_terms  # noqa: E402
import core.changes  # noqa: E402
import core.events  # noqa: E402
import core.incident_clock  # noqa: E402
import core.incidents  # noqa: E402
import core.notifications  # noqa: E402
import core.problems  # noqa: E402
import core.releases  # noqa: E402, F401

__all__ = ["CI", "RECORD_TYPES", "Criticality", "Lifecycle"]
