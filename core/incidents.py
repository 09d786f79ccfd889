"""The Service Desk's and Incident Management's records: interactions (every contact, from a
person or a system), requests (asking for something, not reporting a break) and incidents
(something is broken), with the policy that turns impact and urgency into a priority.

What an incident's clocks say is derived from its audited transitions (`domain.incidents.clock`);
the derived due instants stored here are a copy for queues to sort by, rewritten on every change.
"""

from __future__ import annotations

import enum

from core import links
from core.access import Role
from core.priority import Priority
from core.records import Kind, LinkField, Prop, RecordType, declare, describe
from core.states import StateMachine, Transition

PROCESS = "Incident Management"
DESK = "Service Desk"

# Who works records: automation opens and updates incidents from monitoring and chat bots.
WORKERS = frozenset({Role.AGENT, Role.MANAGER, Role.AUTOMATION, Role.ADMIN})
PEOPLE = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})


class Level(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


describe(
    Level,
    "How much (impact) or how soon (urgency), on the Service Desk's three-step scale.",
    {
        Level.HIGH: "Many users or a whole service; or it cannot wait.",
        Level.MEDIUM: "Some users or part of a service; or it should be handled today.",
        Level.LOW: "One user or a minor function; or it can be scheduled.",
    },
)


class Channel(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    PORTAL = "portal"
    API = "api"


describe(
    Channel,
    "How a contact reached the Service Desk.",
    {
        Channel.PHONE: "A call.",
        Channel.EMAIL: "An e-mail.",
        Channel.CHAT: "A chat conversation, with a person or a bot.",
        Channel.PORTAL: "The self-service portal.",
        Channel.API: "A system: monitoring, a script, another tool.",
    },
)


class HoldReason(enum.StrEnum):
    AWAITING_CALLER = "awaiting_caller"
    AWAITING_VENDOR = "awaiting_vendor"
    AWAITING_CHANGE = "awaiting_change"


describe(
    HoldReason,
    "Why work on an incident waits. Only waiting for the caller pauses its SLA clocks.",
    {
        HoldReason.AWAITING_CALLER: "Waiting for the caller to answer or test: the clocks pause.",
        HoldReason.AWAITING_VENDOR: "Waiting for a supplier: the clocks run on.",
        HoldReason.AWAITING_CHANGE: "Waiting for a change to be implemented: the clocks run on.",
    },
)


class ResolutionCode(enum.StrEnum):
    FIXED = "fixed"
    WORKAROUND = "workaround"
    NOT_REPRODUCIBLE = "not_reproducible"
    DUPLICATE = "duplicate"
    USER_ERROR = "user_error"
    RESOLVED_BY_CHANGE = "resolved_by_change"


describe(
    ResolutionCode,
    "How an incident was resolved.",
    {
        ResolutionCode.FIXED: "The cause was fixed.",
        ResolutionCode.WORKAROUND: "Service restored with a workaround; the cause remains.",
        ResolutionCode.NOT_REPRODUCIBLE: "The fault could not be reproduced.",
        ResolutionCode.DUPLICATE: "Another incident covers the same fault.",
        ResolutionCode.USER_ERROR: "Nothing was broken: the user was shown how.",
        ResolutionCode.RESOLVED_BY_CHANGE: "A change fixed it.",
    },
)


class IncidentState(enum.StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


describe(
    IncidentState,
    "Where an incident stands.",
    {
        IncidentState.NEW: "Logged; no team has it yet.",
        IncidentState.ASSIGNED: "A team has it; nobody has started.",
        IncidentState.IN_PROGRESS: "Someone works on it: the response clock has stopped.",
        IncidentState.ON_HOLD: "Waiting (see holdReason).",
        IncidentState.RESOLVED: "Service restored; may be reopened within the reopen window.",
        IncidentState.CLOSED: "Done: nothing changes any more.",
    },
)


class SlaStage(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


describe(
    SlaStage,
    "How an incident stands against its SLA targets: the worst of its clocks.",
    {
        SlaStage.OK: "Within its targets, short of any warning.",
        SlaStage.WARNING: "A clock passed one of the agreement's warning percentages.",
        SlaStage.BREACHED: "A clock passed its target.",
    },
)


# The guards, implemented in domain.incidents.lifecycle.
NEEDS_HOLD_REASON = "incident_needs_hold_reason"
NEEDS_RESOLUTION = "incident_needs_resolution"
WITHIN_REOPEN_WINDOW = "incident_within_reopen_window"
# Implemented in domain.service_desk.requests.
REJECT_NEEDS_NOTES = "request_reject_needs_notes"

_NEW, _ASSIGNED, _IN_PROGRESS, _ON_HOLD, _RESOLVED, _CLOSED = (s.value for s in IncidentState)
_OPEN = frozenset({_NEW, _ASSIGNED, _IN_PROGRESS, _ON_HOLD})
OPEN_STATES = tuple(sorted(_OPEN))

INCIDENT_STATES = StateMachine(
    initial=_NEW,
    states=tuple(s.value for s in IncidentState),
    transitions=(
        Transition(
            "assign",
            frozenset({_NEW}),
            _ASSIGNED,
            WORKERS,
            description="A team takes the incident: routing does this when it opens, and so "
            "does giving a new incident a team. Needs a team.",
        ),
        Transition(
            "start",
            frozenset({_NEW, _ASSIGNED}),
            _IN_PROGRESS,
            WORKERS,
            description="Work begins: the response clock stops.",
        ),
        Transition(
            "hold",
            frozenset({_ASSIGNED, _IN_PROGRESS}),
            _ON_HOLD,
            WORKERS,
            guards=(NEEDS_HOLD_REASON,),
            description="Work waits, for the reason given.",
        ),
        Transition(
            "resume",
            frozenset({_ON_HOLD}),
            _IN_PROGRESS,
            WORKERS,
            description="Work goes on; paused clocks run again.",
        ),
        Transition(
            "resolve",
            _OPEN,
            _RESOLVED,
            WORKERS,
            guards=(NEEDS_RESOLUTION,),
            description="Service is restored: needs a resolution code and notes.",
        ),
        Transition(
            "reopen",
            frozenset({_RESOLVED}),
            _IN_PROGRESS,
            WORKERS,
            guards=(WITHIN_REOPEN_WINDOW,),
            description="The fault is back, within the reopen window: the resolution clock "
            "runs on from where it stopped.",
        ),
        Transition(
            "close",
            frozenset({_RESOLVED}),
            _CLOSED,
            WORKERS,
            description="Confirmed resolved (done by the system when the reopen window ends).",
        ),
    ),
    final=frozenset({_CLOSED}),
)


links.register(
    links.LinkType(
        "WORKED_BY",
        frozenset({"Incident", "Request"}),
        frozenset({"Person"}),
        "the person who works a record",
    ),
    links.LinkType(
        "REPORTED_BY",
        frozenset({"Interaction", "Incident", "Request"}),
        frozenset({"Person"}),
        "the caller",
    ),
    links.LinkType(
        "CONCERNS_CI",
        frozenset({"Interaction", "Request"}),
        frozenset({"CI"}),
        "the CI or service a contact or request is about",
    ),
    links.LinkType(
        "SOLVED_BY",
        frozenset({"Interaction"}),
        frozenset({"KnowledgeArticle"}),
        "the article that answered a contact (a deflection)",
    ),
    links.LinkType(
        "IMPACTS",
        frozenset({"Incident"}),
        frozenset({"Service"}),
        "the Services an incident's CI takes down (the CMDB's impact analysis)",
    ),
    links.LinkType(
        "MAJOR_INCIDENTS_TO",
        frozenset({"IncidentPolicy"}),
        frozenset({"Team"}),
        "the team told of every major incident",
    ),
)


INCIDENT = RecordType(
    "Incident",
    "INC",
    PROCESS,
    "An unplanned interruption or reduction in quality of a service, or a failure of a CI.",
    properties=(
        Prop(
            "title",
            Kind.STRING,
            "What is broken, in one line.",
            required=True,
            fulltext=True,
            max_length=300,
        ),
        Prop("description", Kind.TEXT, "What the caller or the monitoring said.", fulltext=True),
        Prop(
            "impact",
            Kind.STRING,
            "How much of the business is affected.",
            values=Level,
            default=Level.MEDIUM,
            indexed=True,
        ),
        Prop(
            "urgency",
            Kind.STRING,
            "How soon it must be fixed.",
            values=Level,
            default=Level.MEDIUM,
            indexed=True,
        ),
        Prop(
            "priority",
            Kind.STRING,
            "From impact and urgency through the priority matrix, "
            "raised by the CI's criticality and the governing SLA.",
            values=Priority,
            derived=True,
            sortable=True,
        ),
        Prop("priorityReason", Kind.TEXT, "How the priority was reached.", derived=True),
        Prop("routingReason", Kind.TEXT, "How the team was chosen when it opened.", derived=True),
        Prop(
            "major",
            Kind.BOOL,
            "A major incident: its own notification and attention.",
            default=False,
            indexed=True,
        ),
        Prop("channel", Kind.STRING, "How it was reported.", values=Channel, indexed=True),
        Prop(
            "callerName",
            Kind.STRING,
            "Who reported it, when they are not a known person.",
            max_length=300,
        ),
        Prop(
            "state", Kind.STRING, "Where the incident stands.", values=IncidentState, indexed=True
        ),
        Prop(
            "holdReason",
            Kind.STRING,
            "Why it waits (given with the hold step).",
            values=HoldReason,
            by_transition=True,
            indexed=True,
        ),
        Prop(
            "resolutionCode",
            Kind.STRING,
            "How it was resolved (given with the resolve step).",
            values=ResolutionCode,
            by_transition=True,
        ),
        Prop(
            "resolutionNotes",
            Kind.TEXT,
            "What was done (given with the resolve step).",
            by_transition=True,
        ),
        Prop(
            "reassignmentCount",
            Kind.INT,
            "How often it changed team after the first.",
            derived=True,
            default=0,
        ),
        Prop(
            "responseDueAt",
            Kind.DATETIME,
            "When the response target falls due.",
            derived=True,
            sortable=True,
        ),
        Prop(
            "resolutionDueAt",
            Kind.DATETIME,
            "When the resolution target falls due.",
            derived=True,
            sortable=True,
        ),
        Prop("respondedAt", Kind.DATETIME, "When work first started.", derived=True),
        Prop("resolvedAt", Kind.DATETIME, "When it was last resolved.", derived=True),
        Prop("closedAt", Kind.DATETIME, "When it was closed.", derived=True),
        Prop(
            "reopenUntil",
            Kind.DATETIME,
            "While resolved: until when it may be reopened; then it is closed.",
            derived=True,
        ),
        Prop(
            "slaStage",
            Kind.STRING,
            "The worst of its clocks: ok, warning or breached.",
            values=SlaStage,
            derived=True,
            indexed=True,
        ),
    ),
    states=INCIDENT_STATES,
    link_fields=(
        LinkField(
            "ci",
            "AFFECTS",
            "CI",
            many=False,
            description="The CI (or Service) that is broken, by CI id.",
        ),
        LinkField(
            "team",
            "ASSIGNED_TO",
            "Team",
            many=False,
            description="The team that works it; routing sets it when it opens.",
        ),
        LinkField(
            "assignee", "WORKED_BY", "Person", many=False, description="The person who works it."
        ),
        LinkField(
            "caller",
            "REPORTED_BY",
            "Person",
            many=False,
            description="Who reported it, when they are a known person.",
        ),
    ),
)


class RequestState(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    REJECTED = "rejected"


describe(
    RequestState,
    "Where a service request stands.",
    {
        RequestState.SUBMITTED: "Asked for; nobody has started.",
        RequestState.IN_PROGRESS: "Being fulfilled.",
        RequestState.FULFILLED: "Done as asked.",
        RequestState.REJECTED: "Refused (see the notes).",
    },
)

REQUEST = RecordType(
    "Request",
    "REQ",
    DESK,
    "A service request: someone asks for something (access, a device, information), "
    "nothing is broken.",
    properties=(
        Prop(
            "title", Kind.STRING, "What is asked for.", required=True, fulltext=True, max_length=300
        ),
        Prop("description", Kind.TEXT, "The details.", fulltext=True),
        Prop(
            "callerName",
            Kind.STRING,
            "Who asked, when they are not a known person.",
            max_length=300,
        ),
        Prop("notes", Kind.TEXT, "What was done, or why it was refused.", by_transition=True),
        Prop("state", Kind.STRING, "Where the request stands.", values=RequestState, indexed=True),
    ),
    states=StateMachine(
        initial=RequestState.SUBMITTED.value,
        states=tuple(s.value for s in RequestState),
        transitions=(
            Transition(
                "start",
                frozenset({"submitted"}),
                "in_progress",
                WORKERS,
                description="Someone works on it.",
            ),
            Transition(
                "fulfil",
                frozenset({"submitted", "in_progress"}),
                "fulfilled",
                WORKERS,
                description="Done as asked.",
            ),
            Transition(
                "reject",
                frozenset({"submitted", "in_progress"}),
                "rejected",
                WORKERS,
                guards=(REJECT_NEEDS_NOTES,),
                description="Refused; say why in the notes.",
            ),
        ),
        final=frozenset({"fulfilled", "rejected"}),
    ),
    link_fields=(
        LinkField(
            "ci",
            "CONCERNS_CI",
            "CI",
            many=False,
            description="The CI or Service the request is about.",
        ),
        LinkField("team", "ASSIGNED_TO", "Team", many=False, description="Who fulfils it."),
        LinkField(
            "caller",
            "REPORTED_BY",
            "Person",
            many=False,
            description="Who asked, when they are a known person.",
        ),
    ),
)


class InteractionOutcome(enum.StrEnum):
    OPEN = "open"
    OPENED_INCIDENT = "opened_incident"
    OPENED_REQUEST = "opened_request"
    LINKED = "linked"
    DEFLECTED = "deflected"


describe(
    InteractionOutcome,
    "What became of a contact.",
    {
        InteractionOutcome.OPEN: "Logged; nothing decided yet.",
        InteractionOutcome.OPENED_INCIDENT: "It opened a new incident.",
        InteractionOutcome.OPENED_REQUEST: "It opened a service request.",
        InteractionOutcome.LINKED: 'Linked to an incident already open ("me too").',
        InteractionOutcome.DEFLECTED: "Solved by a knowledge article: no record needed.",
    },
)

INTERACTION = RecordType(
    "Interaction",
    "IMS",
    DESK,
    "A contact with the Service Desk, from a person or a system, on any channel.",
    properties=(
        Prop(
            "channel", Kind.STRING, "How it came in.", values=Channel, required=True, indexed=True
        ),
        Prop("text", Kind.TEXT, "What was said.", required=True, fulltext=True, max_length=20_000),
        Prop(
            "callerName",
            Kind.STRING,
            "Who called, when they are not a known person.",
            max_length=300,
        ),
        Prop(
            "outcome",
            Kind.STRING,
            "What became of it.",
            values=InteractionOutcome,
            derived=True,
            indexed=True,
        ),
    ),
    link_fields=(
        LinkField(
            "caller",
            "REPORTED_BY",
            "Person",
            many=False,
            description="Who called, when they are a known person.",
        ),
        LinkField(
            "ci",
            "CONCERNS_CI",
            "CI",
            many=False,
            description="The CI or Service the contact is about.",
        ),
    ),
)


POLICY = RecordType(
    "IncidentPolicy",
    None,
    PROCESS,
    "How incidents are prioritised and closed: the priority matrix and its raises, the "
    "reopen window. One policy, changed by managers, every change audited.",
    properties=(
        Prop(
            "matrix",
            Kind.STRINGS,
            'impact/urgency=priority, one entry per pair ("high/high=P1").',
            required=True,
        ),
        Prop(
            "criticalityFloors",
            Kind.STRINGS,
            "criticality=priority: an incident on a CI of "
            'that criticality is at least that priority ("critical=P2").',
        ),
        Prop(
            "reopenWindowHours",
            Kind.INT,
            "How long after resolving an incident may be reopened; after that it is closed.",
            required=True,
        ),
    ),
    link_fields=(
        LinkField(
            "majorIncidentTeam",
            "MAJOR_INCIDENTS_TO",
            "Team",
            many=False,
            description="The team told of every major incident.",
        ),
    ),
)

declare(INCIDENT, REQUEST, INTERACTION, POLICY)
