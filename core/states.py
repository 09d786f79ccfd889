"""State machines as data: states, the transitions between them, who may make each, and guards.

A process declares its machine next to its record type; the write path applies a transition
(`UnitOfWork.transition`), which checks it here, stores the new state with the time of the
change, and audits it. Clocks (SLA response and resolution) are replayed from those audited
transitions, so the machine is the one place that says what a state change is.

Guards are named in the declaration and implemented by the process's domain module
(`register_guard`), so that a declaration stays data and the rule stays in the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.access import Role
from core.errors import DomainError, Forbidden

# A guard looks at the record as it is and the changes that come with the transition, and answers
# None (fine) or why the transition may not happen, with the input field to blame.
Guard = Callable[[Mapping[str, Any], Mapping[str, Any]], "GuardFailure | None"]


@dataclass(frozen=True)
class GuardFailure:
    field: str
    reason: str
    message: str


_GUARDS: dict[str, Guard] = {}


def register_guard(name: str, guard: Guard) -> None:
    _GUARDS[name] = guard


def guard(name: str) -> Guard:
    try:
        return _GUARDS[name]
    except KeyError:
        raise LookupError(f"guard {name!r} is declared but not registered by the domain") from None


@dataclass(frozen=True)
class Transition:
    name: str  # the verb people use: assign, resolve, reopen …
    sources: frozenset[str]
    target: str
    roles: frozenset[Role] = frozenset(Role)
    guards: tuple[str, ...] = ()
    description: str = ""


class InvalidTransition(DomainError):
    """The record's state does not allow this transition; names what it does allow."""

    code = "BAD_USER_INPUT"

    def __init__(
        self, record: str, current: str, target: str, allowed: list[str], *, field: str
    ) -> None:
        nexts = ", ".join(allowed) if allowed else "none: it is a final state"
        super().__init__(
            f"a {record} cannot go from {current!r} to {target!r}; from {current!r} it may go "
            f"to: {nexts}",
            field=field,
            reason="invalid_transition",
            current=current,
            allowed=allowed,
        )
        self.reason = "invalid_transition"


class GuardRefused(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, failure: GuardFailure, guard_name: str) -> None:
        super().__init__(
            failure.message, field=failure.field, reason=failure.reason, guard=guard_name
        )
        self.reason = failure.reason


@dataclass(frozen=True)
class StateMachine:
    initial: str
    states: tuple[str, ...]
    transitions: tuple[Transition, ...]
    property: str = "state"
    final: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        known = set(self.states)
        if self.initial not in known:
            raise ValueError(f"initial state {self.initial!r} is not one of the states")
        for t in self.transitions:
            strays = (t.sources | {t.target}) - known
            if strays:
                raise ValueError(f"transition {t.name!r} names unknown states {sorted(strays)}")
        for state in self.final:
            if any(state in t.sources for t in self.transitions):
                raise ValueError(f"final state {state!r} has transitions out of it")

    def next_states(self, current: str) -> list[str]:
        return sorted({t.target for t in self.transitions if current in t.sources})

    def check(
        self,
        record: str,
        current: Mapping[str, Any],
        target: str,
        role: Role | None,
        changes: Mapping[str, Any],
    ) -> Transition:
        """The transition that takes the record to `target`, or the typed reason it may not."""
        state = str(current.get(self.property) or self.initial)
        found = next(
            (t for t in self.transitions if state in t.sources and t.target == target), None
        )
        if found is None:
            raise InvalidTransition(
                record, state, target, self.next_states(state), field=self.property
            )
        if role is None or role not in found.roles:
            who = role.value if role else "anonymous"
            raise Forbidden(
                f"role {who!r} may not {found.name} a {record}",
                permission=found.name,
                role=who,
            )
        for name in found.guards:
            failure = guard(name)(current, changes)
            if failure is not None:
                raise GuardRefused(failure, name)
        return found
