"""An incident's life: opened (prioritised, governed, routed), worked through its state machine,
reassigned, resolved, reopened within the window, closed.

Every write here is one unit of work that ends the same way: the clocks are recomputed from the
incident's history (`clock.rearm`) and subscribers are told (`events.incident_changed`). Facts
the history already holds (when work started, when it was resolved) are stored as derived
properties without a new version, as the CMDB's derived figures are; what a person decided (a
priority, a team, a reason) is an audited change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.access import Actor, Permission
from core.errors import NotFound, ValidationFailed
from core.incidents import (
    INCIDENT,
    NEEDS_HOLD_REASON,
    NEEDS_RESOLUTION,
    OPEN_STATES,
    WITHIN_REOPEN_WINDOW,
    IncidentState,
    Level,
)
from core.priority import Priority
from core.record_types import Criticality
from core.records import RecordType, check_properties
from core.states import GuardFailure, register_guard
from domain import notifications, records
from domain.changes import proposals
from domain.incidents import clock, events
from domain.incidents.events import Change
from domain.incidents.policy import Policy, current, stricter
from domain.notifications import Addressee, messages
from domain.problems import triggers as problem_triggers
from domain.service_level.governing import Governance, govern
from graphdb import timers
from graphdb.cypher import incidents as cypher
from graphdb.timers import DueTimer, timer_kind
from graphdb.write_path import Store, UnitOfWork

LABEL = INCIDENT.label
AUTO_CLOSE = "incident.auto_close"
_LINKS = {link.name: link for link in INCIDENT.link_fields}


# -- guards (declared in core.incidents) --------------------------------------------------------


def _needs_hold_reason(
    record: Mapping[str, Any], changes: Mapping[str, Any]
) -> GuardFailure | None:
    if not changes.get("holdReason"):
        return GuardFailure(
            "holdReason", "required", "putting an incident on hold needs a holdReason"
        )
    return None


def _needs_resolution(record: Mapping[str, Any], changes: Mapping[str, Any]) -> GuardFailure | None:
    if not changes.get("resolutionCode"):
        return GuardFailure("resolutionCode", "required", "resolving needs a resolutionCode")
    if not (changes.get("resolutionNotes") or "").strip():
        return GuardFailure(
            "resolutionNotes", "required", "resolving needs resolutionNotes: what was done"
        )
    return None


def _within_reopen_window(
    record: Mapping[str, Any], changes: Mapping[str, Any]
) -> GuardFailure | None:
    stored = record.get("reopenUntil")
    until: datetime | None = getattr(stored, "to_native", lambda: stored)()
    if until is not None and datetime.now(UTC) > until:
        return GuardFailure(
            "state",
            "reopen_window_passed",
            f"the reopen window ended at {until.isoformat()}: open a new incident instead",
        )
    return None


register_guard(NEEDS_HOLD_REASON, _needs_hold_reason)
register_guard(NEEDS_RESOLUTION, _needs_resolution)
register_guard(WITHIN_REOPEN_WINDOW, _within_reopen_window)


# -- deciding priority, agreement and team ---------------------------------------------------------


@dataclass
class Decision:
    priority: Priority
    reason: str
    governance: Governance | None
    facts: Mapping[str, Any] | None


def _criticality(facts: Mapping[str, Any] | None) -> Criticality | None:
    value = facts.get("criticality") if facts else None
    return Criticality(value) if value else None


def decide(
    uow: UnitOfWork, policy: Policy, impact: str, urgency: str, ci_id: str | None
) -> Decision:
    """The priority (matrix, then the CI's criticality, then the governing SLA's floor) and the
    agreement that governs at that priority."""
    tx = uow.tx
    facts = cypher.ci_facts(tx, ci_id) if ci_id else None
    criticality = _criticality(facts)
    priority, reason = policy.priority(Level(impact), Level(urgency), criticality)
    governance = govern(tx, priority, ci_id=ci_id) if ci_id else None
    if governance is not None:
        # Any active SLA covering a Service the CI takes down may set a floor, also one without
        # a target at the priority the matrix gave (a P5 on a Gold service is not left at P5).
        floors = [
            (Priority(floor), c.sla)
            for c in governance.candidates
            if c.state == "active" and (floor := cypher.sla_floor(tx, c.sla.id)) is not None
        ]
        if floors:
            floor, sla = min(floors, key=lambda f: f[0].value)
            if stricter(priority, floor) != priority:
                priority, reason = policy.priority(
                    Level(impact), Level(urgency), criticality, floor, sla.shown
                )
                raised = govern(tx, priority, ci_id=ci_id)
                # At the raised priority another SLA may promise more; without one the first
                # stands.
                if raised.sla is not None or governance.sla is None:
                    governance = raised
    return Decision(priority, reason, governance, facts)


def route(uow: UnitOfWork, decision: Decision) -> tuple[str | None, str]:
    """The team that takes the incident, and why: the governing OLA's team, else a team that
    supports the nearest Service the CI takes down, else the team that owns the CI."""
    governance = decision.governance
    if governance is not None and governance.team is not None:
        return governance.team.id, f"routed to {governance.team.shown} by {_agreement(governance)}"
    if governance is not None and governance.services:
        nearest = sorted(governance.services, key=lambda s: s[1])
        team = cypher.supporting_team(uow.tx, [s.id for s, _ in nearest])
        if team is not None:
            return team, "routed to a team that supports the Service it affects"
    if decision.facts and decision.facts.get("ownerTeam"):
        return decision.facts["ownerTeam"], "routed to the team that owns the CI"
    return None, "not routed: no agreement, supporting team or owner team found"


def _agreement(governance: Governance) -> str:
    assert governance.sla is not None or governance.team is not None
    parts = [r.shown for r in (governance.sla, governance.ola) if r is not None]
    return " and ".join(parts) if parts else "the Service's support"


# -- opening --------------------------------------------------------------------------------------


def _check_ci(facts: Mapping[str, Any] | None, ci_id: str) -> None:
    if facts is None:
        raise NotFound("CI", ci_id, field="ci")
    if facts.get("lifecycle") == "retired":
        raise ValidationFailed(
            "ci", "retired", f"{facts.get('name')!r} is retired: it cannot have new incidents"
        )


def open_incident_in(
    uow: UnitOfWork,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
) -> dict[str, Any]:
    """Open an incident inside a unit of work the caller holds (an interaction opening one):
    checked, prioritised, governed, routed and assigned, its clocks started. Returns it."""
    checked = check_properties(INCIDENT, values, creating=True)
    wanted = records.checked_links(INCIDENT, links, creating=True)
    given = {link.name: ids for link, ids in wanted}
    ci_id = given["ci"][0] if given.get("ci") else None
    policy = current(uow.tx)
    decision = decide(uow, policy, checked["impact"], checked["urgency"], ci_id)
    if ci_id is not None:
        _check_ci(decision.facts, ci_id)
    team: str | None = given["team"][0] if given.get("team") else None
    routing = "assigned by hand"
    if team is None:
        team, routing = route(uow, decision)
        if team is not None:
            wanted = [
                *[(lk, ids) for lk, ids in wanted if lk.name != "team"],
                (_LINKS["team"], [team]),
            ]
    created = records.create_in(
        uow,
        INCIDENT,
        checked,
        wanted,
        {
            "priority": decision.priority.value,
            "priorityReason": decision.reason,
            "routingReason": routing,
            "reassignmentCount": 0,
        },
    )
    incident_id = created["id"]
    _link_governance(uow, incident_id, decision.governance)
    proposals.propose_causes(uow, incident_id, ci_id)
    problem_triggers.incident_opened(uow, created, ci_id)
    if team is not None:
        uow.transition(LABEL, incident_id, IncidentState.ASSIGNED, expected_version=None)
    after = uow.lock(LABEL, incident_id)
    if after.get("major"):
        _notify_major(uow, after, policy)
    return _finish(uow, after, Change.CREATED)


def _link_governance(uow: UnitOfWork, incident_id: str, governance: Governance | None) -> None:
    if governance is None:
        return
    if governance.sla is not None:
        uow.link(LABEL, incident_id, "GOVERNED_BY", "SLA", governance.sla.id)
        if governance.terms is not None:
            uow.link(LABEL, incident_id, "GOVERNED_BY", "AgreementTerms", governance.terms.id)
    if governance.ola is not None:
        uow.link(LABEL, incident_id, "GOVERNED_BY", "OLA", governance.ola.id)
    _link_services(uow, incident_id, [s.id for s, _ in governance.services])


def _link_services(uow: UnitOfWork, incident_id: str, service_ids: Sequence[str]) -> None:
    # One statement and one audit entry: a CI deep in the estate can take hundreds of
    # services down, and a link each was most of the cost of opening its incident.
    wanted = list(dict.fromkeys(service_ids))
    if not wanted:
        return
    uow.link_many(LABEL, "IMPACTS", "CI", [{"s": incident_id, "t": s, "props": {}} for s in wanted])
    uow.audit("relate", LABEL, incident_id, None, {"type": "IMPACTS", "targetIds": wanted})


def open_incident(
    store: Store,
    actor: Actor,
    record: RecordType,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    permission: Permission = Permission.WORK_RECORDS,
    also: records.Also | None = None,
) -> dict[str, Any]:
    """`createIncident`: open one incident in one transaction."""
    actor.require(permission)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        opened = open_incident_in(uow, values, links)
        if also is not None:
            also(uow, opened)
            opened = uow.lock(LABEL, opened["id"])
        return opened

    return store.write(actor, work)


# -- changing -------------------------------------------------------------------------------------


def _finish(uow: UnitOfWork, incident: Mapping[str, Any], kind: Change) -> dict[str, Any]:
    clock.rearm(uow, incident)
    after = uow.lock(LABEL, incident["id"])
    events.incident_changed(uow, after, kind)
    return after


def _refuse_closed(incident: Mapping[str, Any]) -> None:
    if incident.get("state") == IncidentState.CLOSED:
        raise ValidationFailed(
            "id", "closed", f"{incident.get('number')} is closed: nothing changes any more"
        )


def _reprioritise(uow: UnitOfWork, incident: Mapping[str, Any], policy: Policy) -> None:
    """After impact, urgency or the CI changed: the priority again, with the floor of the SLA
    the incident is governed by (its agreement stays the one it opened under)."""
    incident_id = incident["id"]
    ci_id = cypher.linked_id(uow.tx, incident_id, "AFFECTS")
    facts = cypher.ci_facts(uow.tx, ci_id) if ci_id else None
    sla = cypher.governed_by(uow.tx, [incident_id]).get(incident_id, {}).get("sla")
    floor = cypher.sla_floor(uow.tx, sla["id"]) if sla else None
    priority, reason = policy.priority(
        Level(incident["impact"]),
        Level(incident["urgency"]),
        _criticality(facts),
        Priority(floor) if floor else None,
        f"{sla['number']} {sla['name']}" if sla else None,
    )
    if priority.value != incident.get("priority") or reason != incident.get("priorityReason"):
        uow.update(
            LABEL,
            incident_id,
            {"priority": priority.value, "priorityReason": reason},
            expected_version=None,
        )


def update_incident(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    version: int | None,
    permission: Permission = Permission.WORK_RECORDS,
    also: records.Also | None = None,
) -> dict[str, Any]:
    """`updateIncident`: the given fields change; a new team counts as a reassignment (and
    assigns a new incident); a new impact, urgency or CI gives a new priority."""

    def after_update(uow: UnitOfWork, after: dict[str, Any]) -> None:
        _refuse_closed(after)
        policy = current(uow.tx)
        ci = uow.relinked.get((LABEL, record_id, "ci"))
        if ci is not None:
            if ci[1]:
                facts = cypher.ci_facts(uow.tx, ci[1][0])
                _check_ci(facts, ci[1][0])
            _relink_services(uow, record_id, ci[1][0] if ci[1] else None, after)
        _reprioritise(uow, after, policy)
        team = uow.relinked.get((LABEL, record_id, "team"))
        if team is not None:
            _count_reassignment(uow, record_id, team)
            if team[1] and after.get("state") == IncidentState.NEW:
                uow.transition(LABEL, record_id, IncidentState.ASSIGNED, expected_version=None)
        changed = uow.lock(LABEL, record_id)
        if changed.get("major"):
            _notify_major(uow, changed, policy)
        if also is not None:
            also(uow, changed)
        _finish(uow, changed, Change.CHANGED)

    return records.update(
        store,
        actor,
        record,
        record_id,
        values,
        links,
        version=version,
        permission=permission,
        also=after_update,
    )


def _relink_services(
    uow: UnitOfWork, incident_id: str, ci_id: str | None, incident: Mapping[str, Any]
) -> None:
    cypher.drop_impacts(uow.tx, incident_id)
    if ci_id is None:
        return
    priority = Priority(incident.get("priority") or Priority.P3)
    _link_services(
        uow, incident_id, [s.id for s, _ in govern(uow.tx, priority, ci_id=ci_id).services]
    )


def _count_reassignment(
    uow: UnitOfWork, incident_id: str, team: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    before, after = team
    if before and after and before != after:
        cypher.count_reassignment(uow.tx, incident_id)


def reassign(uow: UnitOfWork, incident_id: str, team_id: str, why: str) -> dict[str, Any]:
    """Hand the incident to another team (an escalation level's reassignment): audited with the
    reason, counted, and a new incident is assigned by it. The caller recomputes the clocks."""
    incident = uow.lock(LABEL, incident_id)
    _refuse_closed(incident)
    if uow.set_links(LABEL, incident_id, _LINKS["team"], [team_id], field="team"):
        uow.touch(LABEL, incident_id)
        uow.audit("reassign", LABEL, incident_id, None, {"team": team_id, "why": why})
        moved = uow.relinked[(LABEL, incident_id, "team")]
        _count_reassignment(uow, incident_id, moved)
        if incident.get("state") == IncidentState.NEW:
            uow.transition(LABEL, incident_id, IncidentState.ASSIGNED, expected_version=None)
    return uow.lock(LABEL, incident_id)


def transition_incident(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    target: str,
    *,
    version: int | None,
    changes: Mapping[str, Any],
    permission: Permission = Permission.WORK_RECORDS,
    also: records.Also | None = None,
) -> dict[str, Any]:
    """`transitionIncident`: one step of the state machine, with what the step brings."""

    def after_step(uow: UnitOfWork, after: dict[str, Any]) -> None:
        stepped(uow, after, target)
        if also is not None:
            also(uow, uow.lock(LABEL, record_id))
        _finish(uow, uow.lock(LABEL, record_id), Change.CHANGED)

    return records.transition(
        store,
        actor,
        record,
        record_id,
        target,
        version=version,
        changes=changes,
        permission=permission,
        also=after_step,
    )


def stepped(uow: UnitOfWork, after: Mapping[str, Any], target: str) -> None:
    """What a step brings besides the state: facts stored, stale reasons cleared, the reopen
    window's timer."""
    incident_id = after["id"]
    at = uow.at
    derived: dict[str, Any] = {}
    cleared: list[str] = []
    if target == IncidentState.ASSIGNED and not cypher.linked_id(
        uow.tx, incident_id, "ASSIGNED_TO"
    ):
        raise ValidationFailed(
            "team", "required", "assigning needs a team: give the incident a team first"
        )
    if target != IncidentState.ON_HOLD and after.get("holdReason"):
        cleared.append("holdReason")
    if target == IncidentState.IN_PROGRESS:
        if after.get("respondedAt") is None:
            derived["respondedAt"] = at
        if after.get("reopenUntil") is not None:  # reopened
            cleared += ["resolutionCode", "resolutionNotes"]
            derived["reopenUntil"] = None
            timers.cancel_timer(uow, AUTO_CLOSE, LABEL, incident_id)
    if target == IncidentState.RESOLVED:
        problem_triggers.incident_resolved(uow, after)
        window = current(uow.tx).reopen_window
        derived.update(resolvedAt=at, reopenUntil=at + window)
        if after.get("respondedAt") is None:
            derived["respondedAt"] = at
        timers.set_timer(uow, AUTO_CLOSE, LABEL, incident_id, at + window)
    if target == IncidentState.CLOSED:
        derived.update(closedAt=at, reopenUntil=None)
        timers.cancel_timer(uow, AUTO_CLOSE, LABEL, incident_id)
    if cleared:
        uow.update(LABEL, incident_id, {}, expected_version=None, remove=tuple(cleared))
    if derived:
        cypher.set_derived(uow.tx, incident_id, derived)


def resolve_in(uow: UnitOfWork, incident_id: str, code: str, notes: str) -> bool:
    """Resolve an open incident inside the caller's unit of work (a release that fixed its
    cause), as the resolve step does: facts stored, the reopen timer set, clocks recomputed,
    subscribers told. False, and nothing written, when it is not open."""
    incident = uow.lock(LABEL, incident_id)
    if incident.get("state") not in OPEN_STATES:
        return False
    _step_in(
        uow,
        incident_id,
        IncidentState.RESOLVED,
        {"resolutionCode": code, "resolutionNotes": notes},
    )
    return True


def reopen_in(uow: UnitOfWork, incident_id: str) -> bool:
    """Reopen a resolved incident inside the caller's unit of work (the release that resolved it
    was rolled back). False, and nothing written, when it is no longer resolved or its reopen
    window has passed."""
    incident = uow.lock(LABEL, incident_id)
    if incident.get("state") != IncidentState.RESOLVED:
        return False
    if _within_reopen_window(incident, {}) is not None:
        return False
    _step_in(uow, incident_id, IncidentState.IN_PROGRESS)
    return True


def _step_in(
    uow: UnitOfWork, incident_id: str, target: str, changes: Mapping[str, Any] | None = None
) -> None:
    """One step of the state machine inside the caller's unit of work (no version check),
    with what the step brings, the clocks and the subscribers, as `transitionIncident` does."""
    after = uow.transition(LABEL, incident_id, target, expected_version=None, changes=changes)
    stepped(uow, after, target)
    _finish(uow, uow.lock(LABEL, incident_id), Change.CHANGED)


def tell_team(
    uow: UnitOfWork, incident_id: str, *, subject: str, body: str, reason: str, key: str
) -> int:
    """Tell the incident's team and assignee something another process did about its cause.
    How many deliveries were queued (none without a team or assignee)."""
    who = cypher.team_recipients(uow.tx, incident_id)
    to = [Addressee("Team", who["team"])] if who["team"] else []
    if who["assignee"]:
        to.append(Addressee("Person", who["assignee"]))
    if not to:
        return 0
    return notifications.notify(
        uow,
        about_label=LABEL,
        about_id=incident_id,
        to=to,
        subject=subject,
        body=body,
        reason=reason,
        key=key,
    )


@timer_kind(AUTO_CLOSE, "closes a resolved incident when its reopen window ends")
def _auto_close(uow: UnitOfWork, timer: DueTimer) -> None:
    incident = uow.lock(LABEL, timer.record_id)
    if incident.get("state") != IncidentState.RESOLVED:
        return
    _step_in(uow, timer.record_id, IncidentState.CLOSED)


# -- major incidents ----------------------------------------------------------------------------


def _notify_major(uow: UnitOfWork, incident: Mapping[str, Any], policy: Policy) -> None:
    """Tell the major-incident team and the assigned team, once per incident (the key)."""
    who = cypher.team_recipients(uow.tx, incident["id"])
    to = [Addressee("Team", t) for t in dict.fromkeys([policy.major_team_id, who["team"]]) if t]
    if who["assignee"]:
        to.append(Addressee("Person", who["assignee"]))
    if not to:
        return
    ci_id = cypher.linked_id(uow.tx, incident["id"], "AFFECTS")
    facts = cypher.ci_facts(uow.tx, ci_id) if ci_id else None
    subject, body = messages.major_incident(incident, ci=facts["name"] if facts else None)
    notifications.notify(
        uow,
        about_label=LABEL,
        about_id=incident["id"],
        to=to,
        subject=subject,
        body=body,
        reason="major_incident",
        key=f"{incident['id']}:major",
    )


# -- reads --------------------------------------------------------------------------------------


def governance_of(
    store: Store, actor: Actor, incident_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per incident: the SLA, OLA and terms version it is governed by."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.governed_by(tx, incident_ids))
