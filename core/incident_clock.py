"""What an incident's SLA clocks have done: one `SlaEvent` per warning, breach and escalation
level that fired, kept with the incident so that each fires once and can be shown afterwards.

An event's id is its key (`<incident id>:<clock>:<kind>:<which>`): the kernel's unique id
constraint on the label is then the guarantee that a second firing cannot record it again.
"""

from __future__ import annotations

import enum

from core import links
from core.agreement_terms import EscalationClock
from core.records import Kind, Prop, RecordType, declare, describe

PROCESS = "Incident Management"


class SlaEventKind(enum.StrEnum):
    WARNED = "warned"
    BREACHED = "breached"
    ESCALATED = "escalated"


describe(
    SlaEventKind,
    "What an SLA clock did.",
    {
        SlaEventKind.WARNED: "It passed one of the terms' warning percentages of its target.",
        SlaEventKind.BREACHED: "It reached its target: the promise is broken.",
        SlaEventKind.ESCALATED: "It reached a level of the terms' escalation path.",
    },
)


class ClockState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    NOT_APPLICABLE = "not_applicable"


describe(
    ClockState,
    "Whether an SLA clock counts time now.",
    {
        ClockState.RUNNING: "It counts business time towards its target.",
        ClockState.PAUSED: "The incident waits for the caller: the clock stands still.",
        ClockState.STOPPED: "It reached its end (responded to; resolved or closed).",
        ClockState.NOT_APPLICABLE: "No agreement governs the incident: there is no clock.",
    },
)


links.register(
    links.LinkType(
        "HAD_SLA_EVENT",
        frozenset({"Incident"}),
        frozenset({"SlaEvent"}),
        "a warning, breach or escalation an incident's clock fired",
    ),
)

SLA_EVENT = RecordType(
    "SlaEvent",
    None,
    PROCESS,
    "A warning, breach or escalation level an incident's SLA clock fired, once.",
    properties=(
        Prop("incidentId", Kind.STRING, "The incident whose clock fired.", True, indexed=True),
        Prop("clock", Kind.STRING, "The clock that fired.", True, values=EscalationClock),
        Prop("kind", Kind.STRING, "What it did.", True, values=SlaEventKind),
        Prop("percent", Kind.INT, "The warning's percentage of the target."),
        Prop("level", Kind.INT, "The escalation level that fired."),
        Prop("repetition", Kind.INT, "Which firing of a repeating level: 0 first, 1 the next …"),
        Prop("dueAt", Kind.DATETIME, "When it fell due by the clock.", True),
        Prop("firedAt", Kind.DATETIME, "When it was recorded.", True),
        Prop("firedVia", Kind.STRING, "What woke the worker: its timer's message, or the sweep."),
        Prop("firedBy", Kind.STRING, "The process that fired it (host:pid)."),
        Prop("priority", Kind.STRING, "The incident's priority when it fired."),
        Prop("termsId", Kind.STRING, "The agreement terms version whose targets it measured."),
        Prop(
            "recipients",
            Kind.STRINGS,
            'Whom it notified, as "Label:id" (People and Teams), in the order asked.',
        ),
        Prop("notified", Kind.INT, "How many deliveries the notifications it asked for queued."),
        Prop("reassignedTo", Kind.STRING, "The Team the escalation handed the incident to."),
    ),
)

declare(SLA_EVENT)
