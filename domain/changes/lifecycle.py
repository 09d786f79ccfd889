"""Change Management's rules: what each change type needs before it is scheduled or carried
out, approvals, the risk recomputed term by term on every save, and conflicts.

Normal changes are assessed, then approved by a change manager and the CAB before they are
scheduled; a normal change with conflicts is scheduled only with `overrideConflicts`. An
emergency change may go straight to implementing with one change manager's approval, and is
reviewed after like every other. A standard change comes from a pre-approved template and goes
from draft to scheduled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.access import SYSTEM, Actor, Permission
from core.changes import (
    CHANGE,
    CHANGE_APPROVAL,
    CHANGE_MANAGERS,
    DEFAULT_FOLLOWING_HOURS,
    NEEDS_OUTCOME,
    NOT_STANDARD,
    READY_TO_IMPLEMENT,
    READY_TO_SCHEDULE,
    REQUIRED_APPROVALS,
    ApprovalRole,
    ChangeState,
    ChangeType,
    Decision,
    Outcome,
    RiskLevel,
)
from core.errors import ValidationFailed
from core.records import RecordType, check_properties, check_value
from core.states import GuardFailure, register_guard
from domain.cmdb import RELATIONSHIP_TYPES, Propagation
from graphdb.cypher import changes as cypher
from graphdb.outbox import message_name
from graphdb.write_path import Store, UnitOfWork, now


def not_dependencies() -> list[str]:
    """The CI relationship types a dependency chain does not follow (informational ones), as
    the CMDB registry declares them now (configuration may add types)."""
    return sorted(n for n, r in RELATIONSHIP_TYPES.items() if r.propagation is Propagation.NONE)


# -- guards ------------------------------------------------------------------------------------


def _missing(current: Mapping[str, Any]) -> list[str]:
    needed = REQUIRED_APPROVALS[str(current.get("changeType") or ChangeType.NORMAL)]
    have = set(current.get("approvedRoles") or ())
    return [role for role in needed if role not in have]


def _not_standard(current: Mapping[str, Any], changes: Mapping[str, Any]) -> GuardFailure | None:
    if current.get("changeType") == ChangeType.STANDARD:
        return GuardFailure(
            "changeType",
            "standard_change",
            "a standard change is pre-approved by its template: it goes from draft to scheduled",
        )
    return None


def _refused(current: Mapping[str, Any]) -> GuardFailure | None:
    if current.get("rejectedRoles"):
        return GuardFailure(
            "approvals",
            "change_rejected",
            f"the change was rejected ({', '.join(current['rejectedRoles'])})",
        )
    return None


def _ready_to_schedule(
    current: Mapping[str, Any], changes: Mapping[str, Any]
) -> GuardFailure | None:
    kind = current.get("changeType")
    if current.get("state") == ChangeState.DRAFT and kind != ChangeType.STANDARD:
        return GuardFailure(
            "changeType",
            "needs_assessment",
            f"a {kind} change is assessed and authorised before it is scheduled",
        )
    if current.get("plannedStart") is None or current.get("plannedEnd") is None:
        return GuardFailure(
            "plannedStart", "needs_window", "a change is scheduled for a planned start and end"
        )
    refused = _refused(current)
    if refused is not None:
        return refused
    missing = _missing(current)
    if missing:
        return GuardFailure(
            f"approvals.{missing[0]}",
            "missing_approval",
            f"a {kind} change needs the approval of: {', '.join(missing)}",
        )
    if (current.get("conflictCount") or 0) > 0 and not changes.get("overrideConflicts"):
        return GuardFailure(
            "overrideConflicts",
            "has_conflicts",
            f"the change has {current['conflictCount']} conflict(s); see Change.conflicts, "
            "or schedule it with overrideConflicts",
        )
    return None


def _ready_to_implement(
    current: Mapping[str, Any], changes: Mapping[str, Any]
) -> GuardFailure | None:
    if current.get("state") == ChangeState.SCHEDULED:
        return None
    if current.get("changeType") != ChangeType.EMERGENCY:
        return GuardFailure(
            "state",
            "not_scheduled",
            "only an emergency change may be implemented before it is scheduled",
        )
    refused = _refused(current)
    if refused is not None:
        return refused
    missing = _missing(current)
    if missing:
        return GuardFailure(
            f"approvals.{missing[0]}",
            "missing_approval",
            f"an emergency change needs the approval of: {', '.join(missing)}",
        )
    return None


def _needs_outcome(current: Mapping[str, Any], changes: Mapping[str, Any]) -> GuardFailure | None:
    if not changes.get("outcome"):
        return GuardFailure("outcome", "required", "completing a change needs its outcome")
    return None


register_guard(NOT_STANDARD, _not_standard)
register_guard(READY_TO_SCHEDULE, _ready_to_schedule)
register_guard(READY_TO_IMPLEMENT, _ready_to_implement)
register_guard(NEEDS_OUTCOME, _needs_outcome)


# -- risk and conflicts, recomputed on every save ------------------------------------------------

_CRITICALITY = {"low": 0, "medium": 5, "high": 15, "critical": 25}
_TYPE: dict[str, int] = {
    ChangeType.STANDARD.value: 0,
    ChangeType.NORMAL.value: 5,
    ChangeType.EMERGENCY.value: 20,
}


def risk_terms(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The risk of a change as terms, each with its score and the reason a person can check."""
    cis = facts["cis"] or []
    terms = []
    dependants = int(facts["dependants"] or 0)
    terms.append(
        {
            "term": "blast_radius",
            "score": min(30, dependants * 3),
            "reason": f"{dependants} CI(s) depend on {', '.join(cis) or 'no CI'} within six hops",
        }
    )
    crits = [c for c in facts["criticalities"] or [] if c]
    worst = max(crits, key=lambda c: _CRITICALITY.get(c, 0)) if crits else "low"
    terms.append(
        {
            "term": "criticality",
            "score": _CRITICALITY.get(worst, 0),
            "reason": f"the most critical CI it modifies is {worst}",
        }
    )
    slas, customers = facts["slas"] or [], facts["customers"] or []
    terms.append(
        {
            "term": "agreements",
            "score": min(25, 5 * len(slas) + 3 * len(customers)),
            "reason": f"{len(slas)} SLA(s) ({', '.join(sorted(slas)) or 'none'}) and "
            f"{len(customers)} customer(s) ({', '.join(sorted(customers)) or 'none'}) "
            "stand behind the services on these CIs",
        }
    )
    kind = str(facts["changeType"] or ChangeType.NORMAL)
    terms.append(
        {
            "term": "change_type",
            "score": _TYPE.get(kind, 5),
            "reason": f"a {kind} change",
        }
    )
    earlier, incidents = facts["earlier"] or [], facts["incidents"] or []
    terms.append(
        {
            "term": "history",
            "score": min(30, 10 * len(incidents)),
            "reason": f"{len(incidents)} incident(s) ({', '.join(sorted(incidents)) or 'none'}) "
            f"followed {len(earlier)} earlier change(s) on these CIs or their dependencies",
        }
    )
    return terms


def level(score: int) -> RiskLevel:
    if score < 15:
        return RiskLevel.LOW
    if score < 35:
        return RiskLevel.MEDIUM
    if score < 60:
        return RiskLevel.HIGH
    return RiskLevel.VERY_HIGH


def _following_hours(uow: UnitOfWork) -> int:
    found = cypher.policy(uow.tx) or {}
    return int(found.get("followingIncidentHours") or DEFAULT_FOLLOWING_HOURS)


def refresh(uow: UnitOfWork, change: Mapping[str, Any]) -> None:
    """Recompute the change's risk, conflicts and template as derived figures."""
    change_id = change["id"]
    terms = risk_terms(
        cypher.risk_facts(uow.tx, change_id, _following_hours(uow), not_dependencies())
    )
    score = sum(t["score"] for t in terms)
    found = cypher.conflicts(uow.tx, change_id, not_dependencies())
    blocking = [c for c in found if c["kind"] != "maintenance"]
    cypher.set_derived(
        uow.tx,
        change_id,
        {
            "risk": level(score).value,
            "riskScore": score,
            "riskExplanation": "; ".join(
                f"{t['term']} +{t['score']}: {t['reason']}" for t in terms
            ),
            "riskTerms": json.dumps(terms),
            "conflictCount": len(blocking),
        },
    )


# Published wherever CI relationships change (configuration, imports), with the CIs at their
# ends: the live changes along their chains count their conflicts again at once, not nightly.
RECOUNT_CONFLICTS = message_name("recount_change_conflicts")


def recount_near(store: Store, ci_ids: Sequence[str]) -> int:
    """Recompute risk and conflicts of the live changes in the chains of these CIs; how many."""

    def work(uow: UnitOfWork) -> int:
        found = cypher.live_near(uow.tx, ci_ids, now(), not_dependencies())
        for change_id in found:
            refresh(uow, uow.lock(CHANGE.label, change_id))
        return len(found)

    return store.write(SYSTEM, work)


def _check_template(uow: UnitOfWork, change: Mapping[str, Any]) -> None:
    if change.get("changeType") != ChangeType.STANDARD:
        return
    active = cypher.template_active(uow.tx, change["id"])
    if active is None:
        raise ValidationFailed(
            "template", "needs_template", "a standard change is made from a change template"
        )
    if not active:
        raise ValidationFailed("template", "template_inactive", "the template is not active")


def saved(uow: UnitOfWork, change: dict[str, Any]) -> None:
    """After every save of a change (`also` of createChange and updateChange): its template
    checked, its window checked, its risk and conflicts computed again."""
    _check_template(uow, change)
    if change.get("plannedStart") and change.get("plannedEnd"):
        start, end = (
            getattr(change[k], "to_native", lambda k=k: change[k])()
            for k in ("plannedStart", "plannedEnd")
        )
        if end <= start:
            raise ValidationFailed(
                "plannedEnd", "not_after_start", "a change's planned end is after its start"
            )
    refresh(uow, change)


def _step(
    uow: UnitOfWork, change_id: str, target: str, version: int | None, changes: Mapping[str, Any]
) -> dict[str, Any]:
    # Conflicts are counted again first: another change saved since may have made one. A
    # change leaving the live states (review, closed, failed, cancelled) has no window to
    # collide with any more, so the walk is spared (a release implements fifty at once).
    if target in cypher.LIVE_STATES:
        refresh(uow, uow.lock(CHANGE.label, change_id))
    extra = dict(changes)
    if target == ChangeState.IMPLEMENTING:
        extra["implementedAt"] = uow.at
    if target == ChangeState.FAILED:
        extra["outcome"] = Outcome.FAILED.value
    return uow.transition(CHANGE.label, change_id, target, expected_version=version, changes=extra)


def transition_change(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    target: str,
    *,
    version: int | None,
    changes: Mapping[str, Any],
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """`transitionChange`: the step checked against fresh conflicts and the approvals."""
    actor.require(permission)
    checked = check_properties(record, changes, creating=False, prefix="changes.", step=True)
    return store.write(actor, lambda uow: _step(uow, record_id, target, version, checked))


def mark_change_implemented(uow: UnitOfWork, change_id: str, actor: Actor) -> dict[str, Any]:
    """A release deployed the change: it is implemented (scheduled → implementing → review,
    outcome successful), inside the caller's unit of work."""
    current = uow.lock(CHANGE.label, change_id)
    if current["state"] in (ChangeState.REVIEW, ChangeState.CLOSED):
        return current
    if current["state"] != ChangeState.IMPLEMENTING:
        current = _step(uow, change_id, ChangeState.IMPLEMENTING, None, {})
    return _step(uow, change_id, ChangeState.REVIEW, None, {"outcome": Outcome.SUCCESSFUL.value})


def revert_change_implemented(uow: UnitOfWork, change_id: str, actor: Actor) -> dict[str, Any]:
    """A release was rolled back: the change failed (outcome failed)."""
    current = uow.lock(CHANGE.label, change_id)
    if current["state"] == ChangeState.FAILED:
        return current
    if current["state"] not in (ChangeState.IMPLEMENTING, ChangeState.REVIEW):
        current = _step(uow, change_id, ChangeState.IMPLEMENTING, None, {})
    return _step(uow, change_id, ChangeState.FAILED, None, {})


# -- approvals ---------------------------------------------------------------------------------


def decide(
    store: Store,
    actor: Actor,
    change_id: str,
    approval_role: str,
    decision: Decision,
    comment: str | None,
) -> dict[str, Any]:
    """`approveChange` / `rejectChange`: one approver's decision in one role, recorded as its
    own record; the change keeps which roles approved and rejected it."""
    actor.require(Permission.WORK_RECORDS)
    role = check_value(CHANGE_APPROVAL.by_name["approvalRole"], approval_role, "approvalRole")
    if role == ApprovalRole.CHANGE_MANAGER and actor.role not in CHANGE_MANAGERS:
        raise ValidationFailed(
            "approvalRole", "not_a_change_manager", "only a manager decides as change manager"
        )
    if decision is Decision.REJECTED and not (comment or "").strip():
        raise ValidationFailed("comment", "required", "a rejection says why")

    def work(uow: UnitOfWork) -> dict[str, Any]:
        change = uow.lock(CHANGE.label, change_id)
        if change["state"] not in (
            ChangeState.DRAFT,
            ChangeState.ASSESSMENT,
            ChangeState.AUTHORISATION,
        ):
            raise ValidationFailed(
                "id",
                "not_awaiting_approval",
                f"a change in {change['state']} is no longer approved or rejected",
            )
        approval = uow.create(
            CHANGE_APPROVAL.label,
            {
                "approvalRole": role,
                "decision": decision.value,
                "approver": actor.name,
                "approverRole": actor.role.value if actor.role else None,
                "comment": comment,
                "at": uow.at,
                "changeId": change_id,
            },
        )
        uow.link(CHANGE_APPROVAL.label, approval["id"], "APPROVAL_OF", CHANGE.label, change_id)
        latest: dict[str, str] = {}
        for a in cypher.approvals(uow.tx, [change_id])[change_id]:
            latest[a["approvalRole"]] = a["decision"]
        uow.touch(CHANGE.label, change_id)
        cypher.set_derived(
            uow.tx,
            change_id,
            {
                "approvedRoles": sorted(r for r, d in latest.items() if d == Decision.APPROVED),
                "rejectedRoles": sorted(r for r, d in latest.items() if d == Decision.REJECTED),
            },
        )
        return uow.lock(CHANGE.label, change_id)

    return store.write(actor, work)


def approvals_of(store: Store, actor: Actor, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.approvals(tx, ids))


def conflicts_of(store: Store, actor: Actor, change_id: str) -> list[dict[str, Any]]:
    actor.require(Permission.READ)
    skip = not_dependencies()
    return store.read(lambda tx: cypher.conflicts(tx, change_id, skip))


def maintenance_reason(uow: UnitOfWork, ci_id: str, upstream: Sequence[str]) -> str | None:
    """Why an alert on `ci_id` is only recorded: a change being implemented on it or on what it
    depends on; None when no change is."""
    found = cypher.implementing_on(uow.tx, [ci_id, *upstream])
    if not found:
        return None
    order = {ci: i for i, ci in enumerate([ci_id, *upstream])}
    change = min(found, key=lambda c: order.get(c["ci"], len(order)))
    where = "on it" if change["ci"] == ci_id else f"on {change['ciName']}, which it depends on"
    return f"change {change['number']} ({change['title']}) is being implemented {where}"
