"""The record types of the ten processes, as stored in the graph.

One place lists every label the storage layer may write; `graphdb` refuses any other, so a label
or relationship type never comes from user input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordType:
    label: str
    number_prefix: str | None = None  # the human number people quote: INC0001234, CHG0000042 …
    process: str = ""


RECORD_TYPES: dict[str, RecordType] = {
    r.label: r
    for r in (
        RecordType("CI", "CI", "Configuration Management"),
        RecordType("CatalogEntry", "SC", "Service Level Management"),
        RecordType("SLA", "SLA", "Service Level Management"),
        RecordType("OLA", "OLA", "Service Level Management"),
        RecordType("Team", None, "Service Level Management"),
        RecordType("Person", None, "Service Level Management"),
        RecordType("Customer", None, "Service Level Management"),
        RecordType("Threshold", None, "Availability Management"),
        RecordType("Outage", None, "Availability Management"),
        RecordType("Event", "EVT", "Event Management"),
        RecordType("Alert", "ALR", "Event Management"),
        RecordType("Interaction", "IMS", "Service Desk"),
        RecordType("Incident", "INC", "Incident Management"),
        RecordType("Request", "REQ", "Service Desk"),
        RecordType("Problem", "PRB", "Problem Management"),
        RecordType("KnownError", "KE", "Knowledge Management"),
        RecordType("KnowledgeArticle", "KB", "Knowledge Management"),
        RecordType("Change", "CHG", "Change Management"),
        RecordType("Release", "REL", "Release Management"),
        RecordType("AuditEntry", None, "Audit"),
        RecordType("ApiToken", None, "Access"),
    )
}

# Relationship types between process records (CI-to-CI types live in `domain.cmdb`).
PROCESS_RELATIONSHIPS: frozenset[str] = frozenset(
    {
        "DESCRIBES",  # CatalogEntry -> Service
        "COVERS",  # SLA -> Service
        "AGREED_WITH",  # SLA -> Customer
        "SUPPORTS",  # OLA -> SLA
        "PROVIDED_BY",  # OLA -> Team
        "ESCALATES_TO",  # SLA/OLA -> Team/Person
        "MEMBER_OF",  # Person -> Team
        "OWNED_BY",  # CI -> Team
        "DEFINED_BY",  # Threshold -> SLA/OLA
        "WATCHES",  # Threshold -> CI
        "ABOUT",  # Event/Alert -> CI
        "RAISED",  # Alert -> Incident
        "RESULTED_IN",  # Interaction -> Incident/Request
        "AFFECTS",  # Incident -> CI
        "ASSIGNED_TO",  # Incident -> Team
        "GOVERNED_BY",  # Incident -> SLA
        "TRIGGERED_BY",  # Problem -> Incident
        "CAUSED_BY",  # Incident -> Problem
        "DOCUMENTS",  # KnownError -> Problem
        "MATCHES",  # Incident -> KnownError
        "FIXES",  # Change -> KnownError
        "ADDRESSES",  # Change -> Incident/Problem
        "MODIFIES",  # Change -> CI
        "INCLUDES",  # Release -> Change
        "UPDATES",  # Release -> CatalogEntry
        "RECORDS",  # AuditEntry -> any record
    }
)
