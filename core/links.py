"""The one registry of relationship types, with the labels each may join.

Every relationship the write path creates is checked here first: an unlisted type, or one between
labels it does not join, is refused, so that the graph keeps the shape `docs/MODEL.md` describes.
The CMDB's CI-to-CI types (with their propagation rules, which are the CMDB's business) register
themselves from `domain.cmdb`, including the ones configuration adds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import ValidationFailed


@dataclass(frozen=True)
class LinkType:
    name: str
    sources: frozenset[str]  # labels at the start of the relationship
    targets: frozenset[str]  # labels at its end
    description: str = ""

    def joins(self, source_labels: Iterable[str], target_labels: Iterable[str]) -> bool:
        return _matches(self.sources, source_labels) and _matches(self.targets, target_labels)


def _matches(allowed: frozenset[str], labels: Iterable[str]) -> bool:
    return "*" in allowed or bool(allowed & set(labels))


LINK_TYPES: dict[str, LinkType] = {}


def register(*links: LinkType) -> None:
    """Add relationship types; the same name again widens the labels it may join."""
    for link in links:
        known = LINK_TYPES.get(link.name)
        if known is not None:
            link = LinkType(
                link.name,
                known.sources | link.sources,
                known.targets | link.targets,
                link.description or known.description,
            )
        LINK_TYPES[link.name] = link


def link_type(rel_type: str) -> LinkType:
    try:
        return LINK_TYPES[rel_type]
    except KeyError:
        raise ValidationFailed(
            "type",
            "unknown_relationship_type",
            f"{rel_type!r} is not a registered relationship type",
        ) from None


def check_link(rel_type: str, source_labels: Iterable[str], target_labels: Iterable[str]) -> None:
    """Refuse a relationship the registry does not list between nodes with these labels."""
    link = link_type(rel_type)
    sources, targets = sorted(source_labels), sorted(target_labels)
    if not link.joins(sources, targets):
        raise ValidationFailed(
            "type",
            "link_not_allowed",
            f"{rel_type} joins {'/'.join(sorted(link.sources))} to "
            f"{'/'.join(sorted(link.targets))}, not {':'.join(sources)} to {':'.join(targets)}",
        )


def _l(name: str, sources: str, targets: str, description: str) -> LinkType:
    return LinkType(name, frozenset(sources.split()), frozenset(targets.split()), description)


# The process links of docs/MODEL.md. A CI class label (Service) names a CI of that class.
register(
    _l("DESCRIBES", "CatalogEntry", "Service", "the catalogue entry of a service"),
    _l("COVERS", "SLA", "Service", "the services an SLA covers"),
    _l("AGREED_WITH", "SLA", "Customer", "the customers an SLA is agreed with"),
    _l("SUPPORTS", "OLA", "SLA", "the SLA an OLA underpins"),
    _l("PROVIDED_BY", "OLA", "Team", "the team that delivers an OLA"),
    _l("HAS_TERMS", "SLA OLA", "AgreementTerms", "every version of an agreement's terms"),
    _l("ESCALATES_AT", "AgreementTerms", "EscalationLevel", "the levels of an escalation path"),
    _l("NOTIFIES", "EscalationLevel", "Person Team", "whom an escalation level notifies"),
    _l("REASSIGNS_TO", "EscalationLevel", "Team", "the team an escalation level hands over to"),
    _l("MEMBER_OF", "Person", "Team", "team membership"),
    _l("OWNED_BY", "CI", "Team", "the team that owns a CI"),
    _l("DEFINED_BY", "Threshold", "SLA OLA", "the agreement a threshold comes from"),
    _l("WATCHES", "Threshold", "CI", "the CIs a threshold watches"),
    _l("ABOUT", "Event Alert", "CI", "the CI an event or alert is about"),
    _l("RAISED", "Alert", "Incident", "the incident an alert opened"),
    _l("RESULTED_IN", "Interaction", "Incident Request", "what an interaction led to"),
    _l("AFFECTS", "Incident", "CI", "the CIs an incident affects"),
    _l("ASSIGNED_TO", "Incident Request", "Team Person", "who works the record"),
    _l(
        "GOVERNED_BY",
        "Incident",
        "SLA OLA AgreementTerms",
        "the agreement, and the version of its terms, whose clocks run",
    ),
    _l("TRIGGERED_BY", "Problem", "Incident", "the incident a problem came from"),
    _l("CAUSED_BY", "Incident", "Problem", "the problem behind an incident"),
    _l("DOCUMENTS", "KnownError", "Problem", "the problem a known error documents"),
    _l("MATCHES", "Incident", "KnownError", "a known error that matches an incident"),
    _l("FIXES", "Change", "KnownError", "the known errors a change is expected to fix"),
    _l("ADDRESSES", "Change", "Incident Problem", "the records a change addresses"),
    _l("MODIFIES", "Change", "CI", "the CIs a change modifies"),
    _l("INCLUDES", "Release", "Change", "the changes a release ships"),
    _l("UPDATES", "Release", "CatalogEntry", "the catalogue entries a release updates"),
    _l("RECORDS", "AuditEntry", "*", "the record an audit entry is about"),
)
