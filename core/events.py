"""Availability Management's and Event Management's records.

Thresholds come from agreements and watch CIs; metric samples that cross one for its duration
raise an alert, as monitoring's own events do. Events are what arrived, kept as sent; an alert is
the de-duplicated, stateful thing people act on: one per dedup key at a time, a root or a symptom
of another alert upstream in the CI graph. Outages are the periods a CI was down or degraded,
from availability alerts or entered by hand; maintenance windows say when alerts on a CI (and on
what runs on it) are recorded but not acted on.

How it is evaluated lives in `domain.events` and `domain.availability`; docs/EVENTS.md,
docs/THRESHOLDS.md, docs/AVAILABILITY.md and docs/MONITORING_API.md say it for users.
"""

from __future__ import annotations

import enum

# SLA and OLA are declared first: the Threshold's two link fields over DEFINED_BY are told apart
# by the record types they reach, which must be known when it is declared.
from core import links, service_level  # noqa: F401
from core.access import Role
from core.records import Kind, LinkField, Prop, RecordType, declare, describe
from core.states import StateMachine, Transition

AVAILABILITY = "Availability Management"
EVENTS = "Event Management"

# Who acts on alerts: people on call, and the monitoring tools' own automation.
RESPONDERS = frozenset({Role.AGENT, Role.MANAGER, Role.AUTOMATION, Role.ADMIN})
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


describe(
    Severity,
    "How bad an event or alert is, on the scale of PagerDuty's Events API v2.",
    {
        Severity.CRITICAL: "A service is down or about to be: act now.",
        Severity.ERROR: "Something failed and needs fixing soon.",
        Severity.WARNING: "Something may fail if nobody looks.",
        Severity.INFO: "For the record: nothing to do.",
    },
)

SEVERITY_ORDER = (Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.CRITICAL)


class EventAction(enum.StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


describe(
    EventAction,
    "What an event asks of the alert under its dedup key.",
    {
        EventAction.TRIGGER: "Something is wrong: raise the alert, or count it again.",
        EventAction.ACKNOWLEDGE: "Someone is on it: stop notifying.",
        EventAction.RESOLVE: "It is fine again: resolve the alert.",
    },
)


class EventOrigin(enum.StrEnum):
    MONITORING = "monitoring"
    THRESHOLD = "threshold"


describe(
    EventOrigin,
    "Where an event came from.",
    {
        EventOrigin.MONITORING: "Sent by a monitoring tool to the events endpoint or mutation.",
        EventOrigin.THRESHOLD: "Raised by a threshold of an agreement, from metric samples.",
    },
)


class Operator(enum.StrEnum):
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


describe(
    Operator,
    "How a sample is compared with a threshold's value: the condition that breaches it.",
    {
        Operator.GT: "Breached above the value (value > limit).",
        Operator.GE: "Breached at or above the value (value >= limit).",
        Operator.LT: "Breached below the value (value < limit).",
        Operator.LE: "Breached at or below the value (value <= limit).",
    },
)


class ThresholdAction(enum.StrEnum):
    RECORD = "record"
    NOTIFY = "notify"
    INCIDENT = "incident"
    BOTH = "both"


describe(
    ThresholdAction,
    "What the agreement prescribes when an alert fires.",
    {
        ThresholdAction.RECORD: "Keep the alert; tell nobody and open nothing.",
        ThresholdAction.NOTIFY: "Notify (e-mail and push) whom the agreement names.",
        ThresholdAction.INCIDENT: "Open an incident, prioritised and routed like any other.",
        ThresholdAction.BOTH: "Open an incident and notify.",
    },
)


class ThresholdCondition(enum.StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"


describe(
    ThresholdCondition,
    "Where a threshold stands for one CI, by the samples' own timestamps.",
    {
        ThresholdCondition.OK: "Not breached (or cleared at the clear value).",
        ThresholdCondition.PENDING: "Breached for less than its duration: nothing raised yet.",
        ThresholdCondition.FIRING: "Breached for its duration: each breaching sample triggers.",
    },
)


class OutageKind(enum.StrEnum):
    DOWN = "down"
    DEGRADED = "degraded"


describe(
    OutageKind,
    "How badly a CI was out.",
    {
        OutageKind.DOWN: "Not available at all: counts against availability.",
        OutageKind.DEGRADED: "Available but impaired: reported, not counted as downtime.",
    },
)


class OutageSource(enum.StrEnum):
    ALERT = "alert"
    MANUAL = "manual"


describe(
    OutageSource,
    "How an outage was recorded.",
    {
        OutageSource.ALERT: "From an availability threshold's alert, opened and closed with it.",
        OutageSource.MANUAL: "Entered by a person.",
    },
)


class AlertState(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    FLAPPING = "flapping"
    RESOLVED = "resolved"


describe(
    AlertState,
    "Where an alert stands.",
    {
        AlertState.TRIGGERED: "Firing: nobody has acknowledged it.",
        AlertState.ACKNOWLEDGED: "Firing, and someone is on it: no more notifications.",
        AlertState.FLAPPING: "Changing state too often: recorded, not notified, until quiet.",
        AlertState.RESOLVED: "Over. A later trigger under the same dedup key is a new alert.",
    },
)


class AlertRole(enum.StrEnum):
    ROOT = "root"
    SYMPTOM = "symptom"


describe(
    AlertRole,
    "Whether an alert is a cause of its own or the effect of another alert upstream.",
    {
        AlertRole.ROOT: "No alerting CI upstream explains it: it is acted on.",
        AlertRole.SYMPTOM: "A CI it depends on is alerting: linked to that root, not acted on.",
    },
)


_TRIGGERED, _ACKNOWLEDGED, _FLAPPING, _RESOLVED = (s.value for s in AlertState)
OPEN_ALERT_STATES = (_TRIGGERED, _ACKNOWLEDGED, _FLAPPING)

ALERT_STATES = StateMachine(
    initial=_TRIGGERED,
    states=tuple(s.value for s in AlertState),
    transitions=(
        Transition(
            "acknowledge",
            frozenset({_TRIGGERED}),
            _ACKNOWLEDGED,
            RESPONDERS,
            description="Someone is on it: no more notifications for this alert.",
        ),
        Transition(
            "flap",
            frozenset({_TRIGGERED, _ACKNOWLEDGED}),
            _FLAPPING,
            frozenset({Role.ADMIN}),
            description="The system saw it change state too often in the policy's window.",
        ),
        Transition(
            "steady",
            frozenset({_FLAPPING}),
            _TRIGGERED,
            frozenset({Role.ADMIN}),
            description="Quiet for the policy's time and still firing: it is triggered again; "
            "an alert that acted before does not act again.",
        ),
        Transition(
            "resolve",
            frozenset({_TRIGGERED, _ACKNOWLEDGED, _FLAPPING}),
            _RESOLVED,
            RESPONDERS,
            description="It is over: by a resolve event, a cleared threshold or a person.",
        ),
    ),
    final=frozenset({_RESOLVED}),
)

# Registered before the declarations whose link fields use them.
links.register(
    links._l("SCOPED_TO", "Threshold", "Service", "the service whose CIs a threshold watches"),
    links._l("NOTIFIES", "Threshold", "Person Team", "whom a threshold's alerts notify"),
    links._l("ABOUT", "Outage", "CI", "the CI an outage is about"),
    links._l("FEEDS", "Event", "Alert", "the alert an event fed"),
    links._l("SYMPTOM_OF", "Alert", "Alert", "the root alert upstream that explains a symptom"),
    links._l("FROM_THRESHOLD", "Alert Event", "Threshold", "the threshold that raised it"),
    links._l("RECORDED_FROM", "Outage", "Alert", "the availability alert an outage came from"),
    links._l("SCHEDULED_FOR", "MaintenanceWindow", "CI", "the CIs a maintenance window covers"),
    links._l("EVENTS_TO", "EventPolicy", "Team", "the team alerts fall back to"),
)

THRESHOLD = RecordType(
    "Threshold",
    "THR",
    AVAILABILITY,
    "A performance or availability limit an SLA or OLA sets on CIs: breached for its duration "
    "it fires an alert, cleared at its clear value (hysteresis) it resolves it.",
    properties=(
        Prop("name", Kind.STRING, "What people call it.", required=True, sortable=True),
        Prop(
            "metric",
            Kind.STRING,
            'The metric it watches, as monitoring names it ("cpu.load", "up").',
            required=True,
            indexed=True,
            max_length=200,
        ),
        Prop("operator", Kind.STRING, "How a sample breaches it.", values=Operator, required=True),
        Prop("value", Kind.FLOAT, "The limit.", required=True),
        Prop(
            "forSeconds",
            Kind.INT,
            "How long samples must breach it before it fires; 0 fires on the first.",
            default=0,
        ),
        Prop(
            "clearValue",
            Kind.FLOAT,
            "The value a sample must reach to resolve a firing threshold; none means the limit "
            "itself (no hysteresis).",
        ),
        Prop(
            "severity",
            Kind.STRING,
            "The severity of the alerts it raises.",
            values=Severity,
            default=Severity.WARNING,
        ),
        Prop(
            "action",
            Kind.STRING,
            "What the agreement prescribes when it fires.",
            values=ThresholdAction,
            default=ThresholdAction.NOTIFY,
        ),
        Prop(
            "outageKind",
            Kind.STRING,
            "For an availability threshold: the outage its firing records; none records none.",
            values=OutageKind,
        ),
        Prop(
            "ciClass",
            Kind.STRING,
            "With a service: it watches every CI of this class the service depends on.",
            indexed=True,
        ),
        Prop("enabled", Kind.BOOL, "Whether it is evaluated.", default=True),
        Prop("description", Kind.TEXT, "Why the agreement sets it."),
    ),
    link_fields=(
        # One of the two, checked by the domain: the agreement that sets it.
        LinkField("sla", "DEFINED_BY", "SLA", many=False, description="The SLA that sets it."),
        LinkField("ola", "DEFINED_BY", "OLA", many=False, description="The OLA that sets it."),
        LinkField("cis", "WATCHES", "CI", description="The CIs it watches by name."),
        LinkField(
            "service",
            "SCOPED_TO",
            "Service",
            many=False,
            description="With ciClass: the service whose CIs of that class it watches.",
        ),
        LinkField(
            "notifyTeams",
            "NOTIFIES",
            "Team",
            description="Teams its alerts notify; with no one named, the CI's owner team.",
        ),
        LinkField("notifyPeople", "NOTIFIES", "Person", description="People its alerts notify."),
    ),
)

EVENT = RecordType(
    "Event",
    None,  # numbering every event would make one counter the bottleneck of the event stream
    EVENTS,
    "What monitoring (or a threshold) sent, kept as it arrived; the alert it fed says what "
    "became of it.",
    properties=(
        Prop("action", Kind.STRING, "What it asked.", values=EventAction, required=True),
        Prop("dedupKey", Kind.STRING, "The alert it belongs to.", required=True, indexed=True),
        Prop("severity", Kind.STRING, "How bad, as sent.", values=Severity),
        Prop("summary", Kind.STRING, "What it said, in one line.", max_length=1024),
        Prop("source", Kind.STRING, "The host or thing it came from, as sent.", max_length=255),
        Prop("at", Kind.DATETIME, "When it happened, by its own timestamp.", sortable=True),
        Prop("receivedAt", Kind.DATETIME, "When the API accepted it."),
        Prop("customDetails", Kind.TEXT, "Whatever else it carried, as JSON."),
        Prop("origin", Kind.STRING, "Where it came from.", values=EventOrigin),
        Prop("metric", Kind.STRING, "For a threshold's event: the metric."),
        Prop("value", Kind.FLOAT, "For a threshold's event: the sample that decided it."),
    ),
)

ALERT = RecordType(
    "Alert",
    "ALR",
    EVENTS,
    "The de-duplicated, stateful alert: every event under one dedup key while it is open.",
    properties=(
        Prop("dedupKey", Kind.STRING, "What groups its events.", required=True, indexed=True),
        Prop("summary", Kind.STRING, "What is wrong, in one line.", fulltext=True, max_length=1024),
        Prop("source", Kind.STRING, "Where it came from, as sent.", max_length=255),
        Prop("severity", Kind.STRING, "How bad.", values=Severity, indexed=True),
        Prop("state", Kind.STRING, "Where it stands.", indexed=True),
        Prop("origin", Kind.STRING, "Where its first event came from.", values=EventOrigin),
        Prop("role", Kind.STRING, "Root or symptom.", values=AlertRole, derived=True, indexed=True),
        Prop("count", Kind.INT, "How many events it has had.", derived=True),
        Prop("firstSeenAt", Kind.DATETIME, "Its first event's time.", derived=True, sortable=True),
        Prop("lastSeenAt", Kind.DATETIME, "Its latest event's time.", derived=True, sortable=True),
        Prop("acknowledgedAt", Kind.DATETIME, "When it was acknowledged.", derived=True),
        Prop("resolvedAt", Kind.DATETIME, "When it was resolved.", derived=True),
        Prop("customDetails", Kind.TEXT, "Its latest event's details, as JSON.", derived=True),
        Prop("metric", Kind.STRING, "For a threshold's alert: the metric.", derived=True),
        Prop("value", Kind.FLOAT, "For a threshold's alert: the latest value.", derived=True),
        Prop("suppressed", Kind.BOOL, "Recorded only: its CI is in maintenance.", derived=True),
        Prop("suppressionReason", Kind.STRING, "Which maintenance suppresses it.", derived=True),
        Prop("correlationReason", Kind.TEXT, "Why it is a root or a symptom.", derived=True),
        Prop("action", Kind.STRING, "What it prescribes.", values=ThresholdAction, derived=True),
        Prop("actionReason", Kind.TEXT, "Why that action, and what was done.", derived=True),
        Prop(
            "actionsDueAt", Kind.DATETIME, "When its actions run, after correlation.", derived=True
        ),
        Prop("actedAt", Kind.DATETIME, "When its actions ran.", derived=True),
        Prop("flapCount", Kind.INT, "State changes within the flapping window.", derived=True),
        Prop("flappingSince", Kind.DATETIME, "When it started flapping.", derived=True),
        Prop(
            "lastAction",
            Kind.STRING,
            "What its latest trigger or resolve event said: what a flapping alert returns to.",
            values=EventAction,
            derived=True,
        ),
        Prop(
            "lastChangeAt",
            Kind.DATETIME,
            "By event time, when it last changed between firing and clear.",
            derived=True,
        ),
    ),
    states=ALERT_STATES,
    link_fields=(LinkField("ci", "ABOUT", "CI", many=False, description="The CI it is about."),),
)

OUTAGE = RecordType(
    "Outage",
    "OUT",
    AVAILABILITY,
    "A period a CI was down or degraded: from an availability alert, or entered by hand.",
    properties=(
        Prop("start", Kind.DATETIME, "When it began.", required=True, sortable=True),
        Prop("end", Kind.DATETIME, "When it ended; none while it goes on.", sortable=True),
        Prop("kind", Kind.STRING, "Down or degraded.", values=OutageKind, required=True),
        Prop("source", Kind.STRING, "How it was recorded.", values=OutageSource, derived=True),
        Prop("notes", Kind.TEXT, "What happened."),
    ),
    link_fields=(
        LinkField(
            "ci", "ABOUT", "CI", many=False, required=True, description="The CI that was out."
        ),
    ),
)

MAINTENANCE_WINDOW = RecordType(
    "MaintenanceWindow",
    "MW",
    EVENTS,
    "A period when CIs are worked on: alerts on them, and on what runs on them, are recorded "
    "but notify nobody and open no incident.",
    properties=(
        Prop("title", Kind.STRING, "What the work is.", required=True, fulltext=True),
        Prop("start", Kind.DATETIME, "When it begins.", required=True, sortable=True),
        Prop("end", Kind.DATETIME, "When it ends.", required=True, sortable=True),
        Prop("reason", Kind.TEXT, "Why."),
    ),
    link_fields=(
        LinkField("cis", "SCHEDULED_FOR", "CI", required=True, description="The CIs worked on."),
    ),
)

EVENT_POLICY = RecordType(
    "EventPolicy",
    None,
    EVENTS,
    "How alerts are acted on: the correlation window, flapping, and what each severity of a "
    "monitoring event prescribes. One policy, changed by managers, every change audited.",
    properties=(
        Prop(
            "correlationWindowSeconds",
            Kind.INT,
            "How long a new root alert waits before acting, so that an alert storm settles "
            "into one root first; 0 acts at once.",
            required=True,
        ),
        Prop(
            "flapChanges",
            Kind.INT,
            "This many state changes within the flapping window make an alert flap.",
            required=True,
        ),
        Prop("flapWindowSeconds", Kind.INT, "The flapping window.", required=True),
        Prop(
            "flapQuietSeconds",
            Kind.INT,
            "How long a flapping alert must be quiet before it notifies again.",
            required=True,
        ),
        Prop(
            "severityActions",
            Kind.STRINGS,
            'severity=action for monitoring events ("critical=both", "info=record").',
            required=True,
        ),
    ),
    link_fields=(
        LinkField(
            "fallbackTeam",
            "EVENTS_TO",
            "Team",
            many=False,
            description="Whom an alert notifies when its CI has no owner team.",
        ),
    ),
)

declare(THRESHOLD, EVENT, ALERT, OUTAGE, MAINTENANCE_WINDOW, EVENT_POLICY)
