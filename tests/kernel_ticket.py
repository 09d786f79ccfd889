"""A record type of the tests' own, declared as a process declares its records: properties of
every kind the kernel treats differently, a closed set described for the API, a state machine
with a guard, and a link to CIs."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from core import links
from core.access import Role
from core.records import Kind, LinkField, Prop, RecordType, declare, describe
from core.states import GuardFailure, StateMachine, Transition, register_guard


class Urgency(enum.StrEnum):
    LOW = "low"
    HIGH = "high"


describe(
    Urgency,
    "How soon a kernel ticket needs attention.",
    {Urgency.LOW: "When there is time.", Urgency.HIGH: "Before anything else."},
)


def _needs_resolution(record: Mapping[str, Any], changes: Mapping[str, Any]) -> GuardFailure | None:
    if not (changes.get("resolution") or "").strip():
        return GuardFailure("resolution", "required", "resolving needs a resolution")
    return None


register_guard("kernel_ticket_resolution", _needs_resolution)

links.register(
    links.LinkType("CONCERNS", frozenset({"KernelTicket"}), frozenset({"CI"}), "test link"),
    links.LinkType("FOR_SERVICE", frozenset({"KernelTicket"}), frozenset({"Service"}), "test"),
)
WORKERS = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})
TICKET = RecordType(
    "KernelTicket",
    "KT",
    "Tests",
    "A record type declared by the kernel's tests.",
    properties=(
        Prop("title", Kind.STRING, "What it is about.", required=True, fulltext=True),
        Prop("body", Kind.TEXT, "Details.", fulltext=True, max_length=500),
        Prop(
            "urgency", Kind.STRING, "How soon.", values=Urgency, default=Urgency.LOW, indexed=True
        ),
        Prop("rank", Kind.INT, "Order of importance.", sortable=True),
        Prop("resolution", Kind.TEXT, "How it was solved.", by_transition=True),
        Prop("state", Kind.STRING, "Where it is.", values=None),
    ),
    states=StateMachine(
        initial="new",
        states=("new", "open", "on_hold", "resolved", "closed"),
        transitions=(
            Transition("start", frozenset({"new"}), "open", WORKERS),
            Transition("hold", frozenset({"open"}), "on_hold", WORKERS),
            Transition("resume", frozenset({"on_hold"}), "open", WORKERS),
            Transition(
                "resolve",
                frozenset({"open", "on_hold"}),
                "resolved",
                WORKERS,
                guards=("kernel_ticket_resolution",),
            ),
            Transition("close", frozenset({"resolved"}), "closed", frozenset({Role.MANAGER})),
        ),
        final=frozenset({"closed"}),
    ),
    link_fields=(
        LinkField("cis", "CONCERNS", "CI", description="The CIs the ticket is about."),
        LinkField("service", "FOR_SERVICE", "Service", many=False),
    ),
)
declare(TICKET)
