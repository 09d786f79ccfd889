"""Problem Management's rules: the root-cause guard and the steps other processes call inside
their own unit of work (a release resolving the problems its changes address)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.problems import KNOWN_ERROR, NEEDS_ROOT_CAUSE, PROBLEM, KnownErrorState, ProblemState
from core.states import GuardFailure, register_guard
from graphdb.cypher import problems as cypher
from graphdb.write_path import UnitOfWork


def _needs_root_cause(record: Mapping[str, Any], changes: Mapping[str, Any]) -> GuardFailure | None:
    if not (changes.get("rootCause") or record.get("rootCause") or "").strip():
        return GuardFailure(
            "rootCause", "required", "a problem reaches root_cause_known only with a rootCause"
        )
    return None


register_guard(NEEDS_ROOT_CAUSE, _needs_root_cause)


def resolve_problem(uow: UnitOfWork, problem_id: str, actor: Any, reason: str) -> dict[str, Any]:
    """Resolve a problem inside the caller's unit of work; one already resolved stays so.
    `actor` is the unit of work's; the reason is audited with the step."""
    problem = uow.lock(PROBLEM.label, problem_id)
    if problem.get("state") in (ProblemState.RESOLVED, ProblemState.CLOSED):
        return problem
    after = uow.transition(PROBLEM.label, problem_id, ProblemState.RESOLVED, expected_version=None)
    uow.audit("resolve", PROBLEM.label, problem_id, None, {"why": reason})
    stepped(uow, after)
    return uow.lock(PROBLEM.label, problem_id)


def reopen_problem(uow: UnitOfWork, problem_id: str, actor: Any, reason: str) -> dict[str, Any]:
    """Reopen a resolved problem (the fix was rolled back)."""
    problem = uow.lock(PROBLEM.label, problem_id)
    if problem.get("state") != ProblemState.RESOLVED:
        return problem
    after = uow.transition(
        PROBLEM.label, problem_id, ProblemState.UNDER_INVESTIGATION, expected_version=None
    )
    uow.audit("reopen", PROBLEM.label, problem_id, None, {"why": reason})
    stepped(uow, after)
    return uow.lock(PROBLEM.label, problem_id)


def mark_known_error_fixed(uow: UnitOfWork, ke_id: str, actor: Any) -> dict[str, Any]:
    """A release fixed the fault: the known error is kept, as fixed."""
    ke = uow.lock(KNOWN_ERROR.label, ke_id)
    if ke.get("state") != KnownErrorState.ACTIVE:
        return ke
    return uow.transition(KNOWN_ERROR.label, ke_id, KnownErrorState.FIXED, expected_version=None)


def reopen_known_error(uow: UnitOfWork, ke_id: str, actor: Any) -> dict[str, Any]:
    """The fix did not hold: the known error's workaround applies again."""
    ke = uow.lock(KNOWN_ERROR.label, ke_id)
    if ke.get("state") != KnownErrorState.FIXED:
        return ke
    return uow.transition(KNOWN_ERROR.label, ke_id, KnownErrorState.ACTIVE, expected_version=None)


def saved(uow: UnitOfWork, problem: dict[str, Any]) -> None:
    """After every save of a problem (`also` of createProblem and updateProblem): its known
    error generated or brought in step."""
    from domain.problems import known_errors

    known_errors.follow_problem(uow, uow.lock(PROBLEM.label, problem["id"]))


def stepped(uow: UnitOfWork, problem: dict[str, Any]) -> None:
    """After every step of a problem (`also` of transitionProblem): when it was resolved kept,
    and its known error brought in step."""
    if problem.get("state") == ProblemState.RESOLVED:
        cypher.set_derived(uow.tx, problem["id"], {"resolvedAt": uow.at})
    saved(uow, problem)
