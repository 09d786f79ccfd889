"""Problem Management's records: problems (the cause behind incidents), the known errors that
document them in the knowledge base, and the policy that says when a problem opens by itself.

A known error's symptoms, root cause and workaround come from its problem: a problem with both a
root cause and a workaround generates one, and every later problem update rewrites it in the
same transaction, so the two never disagree.
"""

from __future__ import annotations

import enum

from core import links
from core.access import Role
from core.incidents import INCIDENT
from core.priority import Priority
from core.records import Direction, Kind, LinkField, Prop, RecordType, declare, describe
from core.states import StateMachine, Transition

PROCESS = "Problem Management"
KNOWLEDGE = "Knowledge Management"
WORKERS = frozenset({Role.AGENT, Role.MANAGER, Role.AUTOMATION, Role.ADMIN})


class Trigger(enum.StrEnum):
    OUTAGE_OVER_THRESHOLD = "outage_over_threshold"
    RECURRENCE_ON_CI = "recurrence_on_ci"
    RECURRENCE_BELOW_UPSTREAM = "recurrence_below_upstream"
    MAJOR_INCIDENT = "major_incident"
    MANUAL = "manual"


describe(
    Trigger,
    "Why a problem was opened.",
    {
        Trigger.OUTAGE_OVER_THRESHOLD: "An outage lasted longer than its SLA's availability "
        "target allows in its period.",
        Trigger.RECURRENCE_ON_CI: "Enough incidents on one CI within the policy's window.",
        Trigger.RECURRENCE_BELOW_UPSTREAM: "Enough incidents within the window on CIs that "
        "all depend on one upstream CI.",
        Trigger.MAJOR_INCIDENT: "A major incident was resolved.",
        Trigger.MANUAL: "Opened by hand.",
    },
)


class ProblemState(enum.StrEnum):
    NEW = "new"
    UNDER_INVESTIGATION = "under_investigation"
    ROOT_CAUSE_KNOWN = "root_cause_known"
    FIX_IN_PROGRESS = "fix_in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


describe(
    ProblemState,
    "Where a problem stands.",
    {
        ProblemState.NEW: "Opened; nobody investigates yet.",
        ProblemState.UNDER_INVESTIGATION: "The cause is being looked for.",
        ProblemState.ROOT_CAUSE_KNOWN: "The root cause is known (rootCause is set).",
        ProblemState.FIX_IN_PROGRESS: "A fix is being built or deployed.",
        ProblemState.RESOLVED: "The fix is in place; may be reopened if the fault returns.",
        ProblemState.CLOSED: "Done: nothing changes any more.",
        ProblemState.CANCELLED: "Not a problem after all (a false trigger, a duplicate).",
    },
)


class LinkMode(enum.StrEnum):
    LINK = "link"
    PROPOSE = "propose"


describe(
    LinkMode,
    "What happens to a later incident that an open problem explains.",
    {
        LinkMode.LINK: "It is linked to the problem (CAUSED_BY) at once.",
        LinkMode.PROPOSE: "A proposal is recorded; someone accepts it to link.",
    },
)


class KnownErrorState(enum.StrEnum):
    ACTIVE = "active"
    FIXED = "fixed"
    RETIRED = "retired"


describe(
    KnownErrorState,
    "Where a known error stands.",
    {
        KnownErrorState.ACTIVE: "The fault exists; its workaround applies.",
        KnownErrorState.FIXED: "A release fixed it; kept for reference, reopened if it returns.",
        KnownErrorState.RETIRED: "Withdrawn.",
    },
)


class KnownErrorMatchKind(enum.StrEnum):
    TOPOLOGY = "topology"
    TEXT = "text"
    PROBLEM = "problem"


describe(
    KnownErrorMatchKind,
    "How a known error was matched to an incident.",
    {
        KnownErrorMatchKind.TOPOLOGY: "It applies to the incident's CI or to a CI that one "
        "needs (the CMDB's impact rules), or to the CI's class and version.",
        KnownErrorMatchKind.TEXT: "Its text shares enough of the words of the incident's "
        "title and description.",
        KnownErrorMatchKind.PROBLEM: "The incident is caused by the problem it documents: "
        "linked when the known error appeared, or when the incident was linked to the problem.",
    },
)

# The guard, implemented in domain.problems.
NEEDS_ROOT_CAUSE = "problem_needs_root_cause"

_N, _UI, _RCK, _FIP, _RES, _CLO, _CAN = (s.value for s in ProblemState)
_OPEN = frozenset({_N, _UI, _RCK, _FIP})
OPEN_STATES = tuple(sorted(_OPEN))

PROBLEM_STATES = StateMachine(
    initial=_N,
    states=tuple(s.value for s in ProblemState),
    transitions=(
        Transition(
            "investigate",
            frozenset({_N}),
            _UI,
            WORKERS,
            description="Start looking for the cause.",
        ),
        Transition(
            "identify_root_cause",
            frozenset({_N, _UI}),
            _RCK,
            WORKERS,
            guards=(NEEDS_ROOT_CAUSE,),
            description="The cause is found: needs rootCause.",
        ),
        Transition(
            "start_fix",
            frozenset({_RCK}),
            _FIP,
            WORKERS,
            description="A fix is being built.",
        ),
        Transition(
            "resolve",
            frozenset({_RCK, _FIP}),
            _RES,
            WORKERS,
            description="The fix is in place.",
        ),
        Transition(
            "reopen",
            frozenset({_RES}),
            _UI,
            WORKERS,
            description="The fault is back.",
        ),
        Transition("close", frozenset({_RES}), _CLO, WORKERS, description="Confirmed fixed."),
        Transition("cancel", _OPEN, _CAN, WORKERS, description="Not a problem after all."),
    ),
    final=frozenset({_CLO, _CAN}),
)

KNOWN_ERROR_STATES = StateMachine(
    initial=KnownErrorState.ACTIVE.value,
    states=tuple(s.value for s in KnownErrorState),
    transitions=(
        Transition(
            "fix",
            frozenset({"active"}),
            "fixed",
            WORKERS,
            description="A release fixed the fault.",
        ),
        Transition(
            "reopen", frozenset({"fixed"}), "active", WORKERS, description="The fault is back."
        ),
        Transition(
            "retire",
            frozenset({"active", "fixed"}),
            "retired",
            WORKERS,
            description="Withdraw it.",
        ),
    ),
    final=frozenset({"retired"}),
)

links.register(
    links.LinkType("AT_FAULT", frozenset({"Problem"}), frozenset({"CI"}), "the CIs at fault"),
    links.LinkType(
        "APPLIES_TO",
        frozenset({"KnownError"}),
        frozenset({"CI"}),
        "the CIs or Services a known error applies to",
    ),
    links.LinkType(
        "PUBLISHED_AS",
        frozenset({"KnownError"}),
        frozenset({"KnowledgeArticle"}),
        "the knowledge article a known error publishes, found by the knowledge search",
    ),
    links.LinkType(
        "PROPOSED_FOR",
        frozenset({"Incident"}),
        frozenset({"Problem"}),
        "a proposed link of a later incident to an open problem, waiting to be accepted",
    ),
)

PROBLEM = RecordType(
    "Problem",
    "PRB",
    PROCESS,
    "The cause behind one or more incidents.",
    properties=(
        Prop("title", Kind.STRING, "The fault, in one line.", required=True, fulltext=True),
        Prop("description", Kind.TEXT, "What is known of it.", fulltext=True),
        Prop(
            "rootCause",
            Kind.TEXT,
            "Why it happens; needed to reach root_cause_known.",
            fulltext=True,
        ),
        Prop("workaround", Kind.TEXT, "How to restore service until it is fixed.", fulltext=True),
        Prop(
            "priority",
            Kind.STRING,
            "How urgent the fix is.",
            values=Priority,
            default=Priority.P3,
            sortable=True,
        ),
        Prop(
            "trigger",
            Kind.STRING,
            "Why it opened.",
            values=Trigger,
            default=Trigger.MANUAL,
            indexed=True,
            derived=True,
        ),
        Prop("triggerReason", Kind.TEXT, "Why it opened, in words.", derived=True),
        Prop("state", Kind.STRING, "Where the problem stands.", values=ProblemState, indexed=True),
        Prop("resolvedAt", Kind.DATETIME, "When it was last resolved.", derived=True),
    ),
    states=PROBLEM_STATES,
    link_fields=(
        LinkField("cisAtFault", "AT_FAULT", "CI", description="The CIs at fault, by CI id."),
        LinkField(
            "incidents",
            "CAUSED_BY",
            INCIDENT.label,
            direction=Direction.IN,
            description="The incidents it causes, by incident id.",
        ),
    ),
)

KNOWN_ERROR = RecordType(
    "KnownError",
    "KE",
    KNOWLEDGE,
    "A fault with a documented root cause and workaround, found by the knowledge search and "
    "matched to new incidents.",
    properties=(
        Prop("title", Kind.STRING, "The fault, in one line.", required=True, fulltext=True),
        Prop("symptoms", Kind.TEXT, "What users and monitoring see.", fulltext=True),
        Prop("rootCause", Kind.TEXT, "Why it happens.", fulltext=True),
        Prop("workaround", Kind.TEXT, "How to restore service meanwhile.", fulltext=True),
        Prop("ciClass", Kind.STRING, "A CI class it applies to, besides its CIs.", indexed=True),
        Prop("ciVersion", Kind.STRING, "The version of that class it applies to.", indexed=True),
        Prop("state", Kind.STRING, "Where it stands.", values=KnownErrorState, indexed=True),
        Prop(
            "generated",
            Kind.BOOL,
            "Whether its problem generated it: then it follows the problem, where its root "
            "cause and workaround are edited.",
            default=False,
            derived=True,
        ),
    ),
    states=KNOWN_ERROR_STATES,
    link_fields=(
        LinkField(
            "cis", "APPLIES_TO", "CI", description="The CIs or Services it applies to, by CI id."
        ),
        LinkField(
            "problem",
            "DOCUMENTS",
            "Problem",
            many=False,
            description="The problem it documents; a generated one follows it.",
        ),
    ),
)

POLICY = RecordType(
    "ProblemPolicy",
    None,
    PROCESS,
    "When problems open by themselves, and what later incidents do. One policy.",
    properties=(
        Prop(
            "recurrenceCount",
            Kind.INT,
            "Incidents (this one included) that open a problem.",
            required=True,
        ),
        Prop("recurrenceWindowHours", Kind.INT, "The window they must fall in.", required=True),
        Prop(
            "upstreamRecurrence",
            Kind.BOOL,
            "Count incidents below one upstream CI together.",
            default=True,
        ),
        Prop(
            "majorIncidentTrigger",
            Kind.BOOL,
            "A resolved major incident opens a problem.",
            default=True,
        ),
        Prop(
            "outageTrigger",
            Kind.BOOL,
            "An outage over its SLA's threshold opens a problem.",
            default=True,
        ),
        Prop(
            "linkMode",
            Kind.STRING,
            "What a later incident does.",
            values=LinkMode,
            default=LinkMode.LINK,
        ),
    ),
)

declare(PROBLEM, KNOWN_ERROR, POLICY)
