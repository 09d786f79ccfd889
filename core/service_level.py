"""Service Level Management's records: the parties (Customers, Teams, People), the Service
Catalog's entries, and the agreements (SLAs with Customers, OLAs with internal Teams).

The terms of an agreement (targets per priority, calendar, escalation) are versioned records of
their own (`core.agreement_terms`); what is declared here is who and what an agreement is about.
Nothing is deleted: each of these records is retired by a transition and stays readable.
"""

from __future__ import annotations

from core import links
from core.access import Role
from core.priority import Priority
from core.records import Kind, LinkField, Prop, RecordType, declare
from core.states import StateMachine, Transition

PROCESS = "Service Level Management"

# Service levels are the managers' business (Permission.MANAGE_SERVICE_LEVELS).
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})

links.register(
    links.LinkType(
        "SUPPORTS_SERVICE",
        frozenset({"Team"}),
        frozenset({"Service"}),
        "the services a team supports",
    ),
)


def _name(what: str, *, fulltext: bool = True) -> Prop:
    return Prop(
        "name",
        Kind.STRING,
        f"What people call the {what}.",
        required=True,
        sortable=True,
        fulltext=fulltext,
    )


def _description(what: str) -> Prop:
    return Prop("description", Kind.TEXT, f"What the {what} is, in a few sentences.")


def _state(description: str) -> Prop:
    return Prop("state", Kind.STRING, description, indexed=True)


def _active_or_retired(what: str) -> StateMachine:
    return StateMachine(
        initial="active",
        states=("active", "retired"),
        transitions=(
            Transition(
                "retire",
                frozenset({"active"}),
                "retired",
                MANAGERS,
                description=f"The {what} is no longer in use; it stays, with its history.",
            ),
        ),
        final=frozenset({"retired"}),
    )


def _agreement_states(what: str) -> StateMachine:
    return StateMachine(
        initial="draft",
        states=("draft", "active", "retired"),
        transitions=(
            Transition(
                "activate",
                frozenset({"draft"}),
                "active",
                MANAGERS,
                description=f"The {what} is agreed: from now on it governs.",
            ),
            Transition(
                "retire",
                frozenset({"draft", "active"}),
                "retired",
                MANAGERS,
                description=f"The {what} governs nothing any more; it stays readable.",
            ),
        ),
        final=frozenset({"retired"}),
    )


CUSTOMER = RecordType(
    "Customer",
    "CUS",
    PROCESS,
    "Who services are agreed with: a business unit, a client, an internal department.",
    properties=(
        _name("customer"),
        _description("customer"),
        Prop("email", Kind.STRING, "Where the customer's service reports go.", max_length=254),
        _state("Whether the customer still has services agreed."),
    ),
    states=_active_or_retired("customer"),
)

TEAM = RecordType(
    "Team",
    "TEAM",
    PROCESS,
    "A group of people that supports services and delivers operational level agreements.",
    properties=(
        _name("team"),
        Prop("email", Kind.STRING, "The team's shared mailbox.", max_length=254),
        _description("team"),
        _state("Whether the team still works."),
    ),
    states=_active_or_retired("team"),
    link_fields=(
        LinkField(
            "services",
            "SUPPORTS_SERVICE",
            "Service",
            description="The Services (CI ids) the team supports.",
        ),
    ),
)

PERSON = RecordType(
    "Person",
    "PER",
    PROCESS,
    "Someone who works in a team or is notified by an escalation.",
    properties=(
        _name("person"),
        Prop("email", Kind.STRING, "Their e-mail address.", required=True, max_length=254),
        Prop(
            "pushUrl",
            Kind.STRING,
            "The https address of the webhook that pushes notifications to them.",
            max_length=2000,
        ),
        Prop("phone", Kind.STRING, "Their phone number.", max_length=50),
        _state("Whether the person still works here."),
    ),
    states=_active_or_retired("person"),
    link_fields=(
        LinkField("teams", "MEMBER_OF", "Team", description="The Teams the person is a member of."),
    ),
)


CATALOG_ENTRY = RecordType(
    "CatalogEntry",
    "SC",
    PROCESS,
    "A Service Catalog entry: a Service as it is offered, to whom, in which version.",
    properties=(
        _name("catalogue entry", fulltext=False),
        # Not `version`: every record's `version` counts its changes (optimistic concurrency).
        Prop(
            "offeringVersion",
            Kind.STRING,
            "The version of the offering, e.g. 2026.11.",
            max_length=50,
        ),
        _description("offering"),
        Prop("offering", Kind.TEXT, "What is offered: features, channels, hours."),
        Prop("audience", Kind.TEXT, "To whom it is offered.", max_length=2000),
        Prop("status", Kind.STRING, "Where the entry stands in the catalogue.", indexed=True),
    ),
    states=StateMachine(
        initial="pipeline",
        states=("pipeline", "live", "retired"),
        property="status",
        transitions=(
            Transition(
                "launch",
                frozenset({"pipeline"}),
                "live",
                MANAGERS,
                description="The offering is open to its audience.",
            ),
            Transition(
                "retire",
                frozenset({"pipeline", "live"}),
                "retired",
                MANAGERS,
                description="The offering is withdrawn (or never launched); the entry stays.",
            ),
        ),
        final=frozenset({"retired"}),
    ),
    link_fields=(
        LinkField(
            "service",
            "DESCRIBES",
            "Service",
            many=False,
            required=True,
            description="The Service (a CI id) the entry describes; a Service has at most one "
            "entry that is not retired.",
        ),
    ),
)


def _agreement(
    label: str, description: str, link_fields: tuple[LinkField, ...], extra: tuple[Prop, ...] = ()
) -> RecordType:
    return RecordType(
        label,
        label,
        PROCESS,
        description,
        properties=(
            _name("agreement"),
            _description("agreement"),
            _state(f"Only an active {label} governs anything."),
            *extra,
        ),
        states=_agreement_states(label),
        link_fields=link_fields,
    )


SLA = _agreement(
    "SLA",
    "A service level agreement: the Services it covers, agreed with Customers.",
    (
        LinkField("services", "COVERS", "Service", description="The Services (CI ids) covered."),
        LinkField(
            "customers", "AGREED_WITH", "Customer", description="The Customers it is agreed with."
        ),
    ),
    (
        Prop(
            "minimumPriority",
            Kind.STRING,
            "Incidents it governs are at least this priority (P1 highest): a customer's "
            "critical service is never handled as a low one.",
            values=Priority,
        ),
    ),
)

OLA = _agreement(
    "OLA",
    "An operational level agreement: what an internal Team delivers to underpin SLAs.",
    (
        LinkField("slas", "SUPPORTS", "SLA", description="The SLAs it underpins."),
        LinkField(
            "team", "PROVIDED_BY", "Team", many=False, description="The Team that delivers it."
        ),
    ),
)

SERVICE_LEVEL_RECORDS = (CUSTOMER, TEAM, PERSON, CATALOG_ENTRY, SLA, OLA)

declare(*SERVICE_LEVEL_RECORDS)
