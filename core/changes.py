"""Change Management's records: changes (CHG), the pre-approved templates standard changes come
from, the approvals a change collects, and freeze windows when nothing may be scheduled.

What a change's risk and conflicts say is computed by `domain.changes` on every save and stored
as derived figures; the approvals are records of their own, so each says who, in which role,
when and why.
"""

from __future__ import annotations

import enum

from core import (
    incidents,  # noqa: F401 - a change addresses incidents: declared first
    links,
    problems,  # noqa: F401 - and problems: declared first too
)
from core.access import Role
from core.records import Kind, LinkField, Prop, RecordType, declare, describe
from core.states import StateMachine, Transition

PROCESS = "Change Management"

WORKERS = frozenset({Role.AGENT, Role.MANAGER, Role.AUTOMATION, Role.ADMIN})
# Who may approve a change as its change manager.
CHANGE_MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


class ChangeType(enum.StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


describe(
    ChangeType,
    "How a change is authorised.",
    {
        ChangeType.STANDARD: "Routine, from a pre-approved template: no assessment or approval.",
        ChangeType.NORMAL: "Assessed, then approved by the change manager and the CAB.",
        ChangeType.EMERGENCY: "Urgent: one change manager's approval, reviewed afterwards.",
    },
)


class ChangeState(enum.StrEnum):
    DRAFT = "draft"
    ASSESSMENT = "assessment"
    AUTHORISATION = "authorisation"
    SCHEDULED = "scheduled"
    IMPLEMENTING = "implementing"
    REVIEW = "review"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    FAILED = "failed"


describe(
    ChangeState,
    "Where a change stands.",
    {
        ChangeState.DRAFT: "Being written.",
        ChangeState.ASSESSMENT: "Its risk and impact are being assessed.",
        ChangeState.AUTHORISATION: "Waiting for its approvals.",
        ChangeState.SCHEDULED: "Approved and planned for its window.",
        ChangeState.IMPLEMENTING: "Being carried out: its CIs are in maintenance.",
        ChangeState.REVIEW: "Carried out; the outcome is being reviewed.",
        ChangeState.CLOSED: "Done.",
        ChangeState.CANCELLED: "Withdrawn before it was carried out.",
        ChangeState.FAILED: "Carried out and failed, or rolled back.",
    },
)


class Outcome(enum.StrEnum):
    SUCCESSFUL = "successful"
    FAILED = "failed"


describe(
    Outcome,
    "How a change that was carried out went.",
    {Outcome.SUCCESSFUL: "It did what it should.", Outcome.FAILED: "It failed or was undone."},
)


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


describe(
    RiskLevel,
    "How likely and how bad a change's failure would be, from its risk terms.",
    {
        RiskLevel.LOW: "Little at stake.",
        RiskLevel.MEDIUM: "Some services or customers at stake.",
        RiskLevel.HIGH: "Critical CIs, agreements or a bad history at stake.",
        RiskLevel.VERY_HIGH: "Much at stake: plan a fallback and a quiet window.",
    },
)


class ApprovalRole(enum.StrEnum):
    CHANGE_MANAGER = "change_manager"
    CAB = "cab"


describe(
    ApprovalRole,
    "In which capacity someone approves a change.",
    {
        ApprovalRole.CHANGE_MANAGER: "The change manager (a manager).",
        ApprovalRole.CAB: "The change advisory board.",
    },
)


class Decision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


describe(
    Decision,
    "What an approver decided.",
    {Decision.APPROVED: "Go ahead.", Decision.REJECTED: "Do not go ahead."},
)


# What each type needs approved before it is scheduled (or, for an emergency, implemented).
REQUIRED_APPROVALS: dict[str, tuple[str, ...]] = {
    ChangeType.STANDARD: (),
    ChangeType.NORMAL: (ApprovalRole.CHANGE_MANAGER.value, ApprovalRole.CAB.value),
    ChangeType.EMERGENCY: (ApprovalRole.CHANGE_MANAGER.value,),
}

# The guards, implemented in domain.changes.lifecycle.
NOT_STANDARD = "change_not_standard"
READY_TO_SCHEDULE = "change_ready_to_schedule"
READY_TO_IMPLEMENT = "change_ready_to_implement"
NEEDS_OUTCOME = "change_needs_outcome"

_S = ChangeState
_BEFORE = frozenset({_S.DRAFT, _S.ASSESSMENT, _S.AUTHORISATION, _S.SCHEDULED})

CHANGE_STATES = StateMachine(
    initial=_S.DRAFT.value,
    states=tuple(s.value for s in ChangeState),
    transitions=(
        Transition(
            "assess",
            frozenset({_S.DRAFT}),
            _S.ASSESSMENT,
            WORKERS,
            guards=(NOT_STANDARD,),
            description="Submit a normal or emergency change for assessment.",
        ),
        Transition(
            "request_authorisation",
            frozenset({_S.ASSESSMENT}),
            _S.AUTHORISATION,
            WORKERS,
            guards=(NOT_STANDARD,),
            description="Assessed: ask for the approvals its type needs.",
        ),
        Transition(
            "schedule",
            frozenset({_S.DRAFT, _S.AUTHORISATION}),
            _S.SCHEDULED,
            WORKERS,
            guards=(READY_TO_SCHEDULE,),
            description="Plan it for its window: a standard change from its template straight "
            "from draft; a normal one with every approval its type needs, and without "
            "conflicts unless overrideConflicts is given.",
        ),
        Transition(
            "implement",
            frozenset({_S.DRAFT, _S.ASSESSMENT, _S.AUTHORISATION, _S.SCHEDULED}),
            _S.IMPLEMENTING,
            WORKERS,
            guards=(READY_TO_IMPLEMENT,),
            description="Start the work: from scheduled, or an emergency change with its "
            "change manager's approval from any earlier state.",
        ),
        Transition(
            "complete",
            frozenset({_S.IMPLEMENTING}),
            _S.REVIEW,
            WORKERS,
            guards=(NEEDS_OUTCOME,),
            description="The work is done: needs its outcome.",
        ),
        Transition(
            "close", frozenset({_S.REVIEW}), _S.CLOSED, WORKERS, description="Reviewed: done."
        ),
        Transition(
            "fail",
            frozenset({_S.IMPLEMENTING, _S.REVIEW}),
            _S.FAILED,
            WORKERS,
            description="It failed or was rolled back.",
        ),
        Transition(
            "cancel", _BEFORE, _S.CANCELLED, WORKERS, description="Withdrawn before the work."
        ),
    ),
    final=frozenset({_S.CLOSED, _S.CANCELLED, _S.FAILED}),
)

links.register(
    links._l("USES_TEMPLATE", "Change", "ChangeTemplate", "the template a standard change uses"),
    links._l("APPROVAL_OF", "ChangeApproval", "Change", "the change an approval decides"),
    links._l("FREEZES", "FreezeWindow", "CI", "the CIs (or services) a freeze window covers"),
    links._l("CAUSED_BY_CHANGE", "Incident", "Change", "the change that caused an incident"),
    links._l(
        "PROPOSED_CAUSE",
        "Incident",
        "Change",
        "a change proposed as the likely cause of an incident (rank, hops, reason)",
    ),
)

CHANGE_TEMPLATE = RecordType(
    "ChangeTemplate",
    "CHT",
    PROCESS,
    "A pre-approved way of making a routine change: standard changes are made from one.",
    properties=(
        Prop("name", Kind.STRING, "What people call it.", required=True, sortable=True),
        Prop("description", Kind.TEXT, "What the change does and how.", fulltext=True),
        Prop("active", Kind.BOOL, "Whether new changes may use it.", default=True),
    ),
)

CHANGE = RecordType(
    "Change",
    "CHG",
    PROCESS,
    "A code or configuration change to CIs.",
    properties=(
        Prop("title", Kind.STRING, "What the change is.", required=True, fulltext=True),
        Prop("description", Kind.TEXT, "What will be done and why.", fulltext=True),
        Prop(
            "changeType",
            Kind.STRING,
            "How it is authorised.",
            values=ChangeType,
            default=ChangeType.NORMAL,
            indexed=True,
        ),
        Prop("state", Kind.STRING, "Where it stands.", values=ChangeState, indexed=True),
        Prop("plannedStart", Kind.DATETIME, "When the work is planned to begin.", sortable=True),
        Prop("plannedEnd", Kind.DATETIME, "When the work is planned to end.", sortable=True),
        Prop("implementedAt", Kind.DATETIME, "When the work began.", derived=True, sortable=True),
        Prop(
            "outcome",
            Kind.STRING,
            "How it went (given when the work is completed).",
            values=Outcome,
            by_transition=True,
        ),
        Prop(
            "overrideConflicts",
            Kind.BOOL,
            "Given with schedule: go ahead despite its conflicts (they stay listed).",
            by_transition=True,
        ),
        Prop("risk", Kind.STRING, "Its risk level.", values=RiskLevel, derived=True),
        Prop("riskScore", Kind.INT, "The sum of its risk terms' scores.", derived=True),
        Prop("riskExplanation", Kind.TEXT, "Why its risk is what it is.", derived=True),
        Prop("riskTerms", Kind.TEXT, "Its risk terms as JSON.", derived=True),
        Prop("conflictCount", Kind.INT, "How many conflicts its last save found.", derived=True),
        Prop(
            "approvedRoles",
            Kind.STRINGS,
            "The approval roles that approved it.",
            derived=True,
        ),
        Prop(
            "rejectedRoles",
            Kind.STRINGS,
            "The approval roles that rejected it.",
            derived=True,
        ),
    ),
    states=CHANGE_STATES,
    link_fields=(
        LinkField("cis", "MODIFIES", "CI", description="The CIs it modifies."),
        LinkField("fixes", "FIXES", "KnownError", description="The known errors it should fix."),
        LinkField("incidents", "ADDRESSES", "Incident", description="The incidents it addresses."),
        LinkField("problems", "ADDRESSES", "Problem", description="The problems it addresses."),
        LinkField(
            "template",
            "USES_TEMPLATE",
            "ChangeTemplate",
            many=False,
            description="The template of a standard change.",
        ),
    ),
)

CHANGE_APPROVAL = RecordType(
    "ChangeApproval",
    None,
    PROCESS,
    "One approver's decision on a change, in one approval role.",
    properties=(
        Prop("approvalRole", Kind.STRING, "In which capacity.", values=ApprovalRole, indexed=True),
        Prop("decision", Kind.STRING, "What was decided.", values=Decision),
        Prop("approver", Kind.STRING, "Who decided."),
        Prop("approverRole", Kind.STRING, "The approver's access role."),
        Prop("comment", Kind.TEXT, "Why."),
        Prop("at", Kind.DATETIME, "When."),
        Prop("changeId", Kind.STRING, "The change decided on.", indexed=True),
    ),
)

FREEZE_WINDOW = RecordType(
    "FreezeWindow",
    "FRZ",
    PROCESS,
    "A period when no change may be carried out on its CIs and services, or on any CI when it "
    "is global.",
    properties=(
        Prop("title", Kind.STRING, "What the freeze is for.", required=True),
        Prop("start", Kind.DATETIME, "When it begins.", required=True, sortable=True),
        Prop("end", Kind.DATETIME, "When it ends.", required=True, sortable=True),
        Prop("reason", Kind.TEXT, "Why."),
        Prop("isGlobal", Kind.BOOL, "It covers every CI.", default=False),
    ),
    link_fields=(LinkField("cis", "FREEZES", "CI", description="The CIs or services frozen."),),
)

CHANGE_POLICY = RecordType(
    "ChangePolicy",
    None,
    PROCESS,
    "How far back changes are looked for: as likely causes of a new incident, and as the "
    "history behind a change's risk.",
    properties=(
        Prop(
            "proposalWindowHours",
            Kind.INT,
            "Changes implemented this many hours before an incident opens are proposed as causes.",
            default=72,
        ),
        Prop(
            "followingIncidentHours",
            Kind.INT,
            "An incident on a CI within this many hours after a change on it counts against "
            "the CI's change history.",
            default=48,
        ),
    ),
)

DEFAULT_PROPOSAL_HOURS = 72
DEFAULT_FOLLOWING_HOURS = 48

declare(CHANGE_TEMPLATE, CHANGE, CHANGE_APPROVAL, FREEZE_WINDOW, CHANGE_POLICY)
