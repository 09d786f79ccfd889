"""When problems open by themselves, and which problem a new incident belongs to.

As an incident opens on a CI, the open problems at fault on that CI or on anything it needs
(the CMDB's dependency walk, `domain.impact`) explain it: it is linked to the nearest (CAUSED_BY)
or proposed for it (PROPOSED_FOR), as the policy says, and no new problem opens. Otherwise the
recurrence triggers count the incidents of the policy's window: enough on the one CI, or enough
on CIs that all need one upstream CI (the nearest such CI is the common cause, put at fault).
A major incident opens a problem when it is resolved; an outage over what its SLA allows, when
it ends (`domain.problems.outages`). Each problem says which trigger opened it and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.incidents import INCIDENT
from core.priority import Priority
from core.problems import OPEN_STATES, PROBLEM, LinkMode, Trigger
from core.records import check_properties
from domain import impact, records
from domain.problems import known_errors
from domain.problems.policy import Policy, current
from graphdb.cypher import ci as ci_cypher
from graphdb.cypher import incidents as incident_cypher
from graphdb.cypher import problems as cypher
from graphdb.write_path import Store, UnitOfWork


@dataclass(frozen=True)
class Opening:
    """What a trigger found: the problem to open, its CIs at fault and its incidents."""

    trigger: Trigger
    reason: str
    title: str
    at_fault: Sequence[str]
    source_incident: str | None  # None: opened from no incident (an outage entered by hand)
    incidents: Sequence[str]  # linked as caused by it, the source included
    priority: str | None = None


def open_problem_in(uow: UnitOfWork, opening: Opening) -> dict[str, Any]:
    """Open a problem from a trigger inside the caller's unit of work: at fault on its CIs,
    triggered by its source incident if it has one, every incident linked as caused by it.
    Returns it."""
    values = check_properties(
        PROBLEM,
        {"title": opening.title[:200], "priority": opening.priority or Priority.P3.value},
        creating=True,
    )
    links = records.checked_links(PROBLEM, {"cisAtFault": list(opening.at_fault)}, creating=True)
    created = records.create_in(
        uow,
        PROBLEM,
        values,
        links,
        {"trigger": opening.trigger.value, "triggerReason": opening.reason},
    )
    problem_id = created["id"]
    if opening.source_incident is not None:
        uow.link(PROBLEM.label, problem_id, "TRIGGERED_BY", INCIDENT.label, opening.source_incident)
    # A new problem has no links, proposals or known errors yet: its incidents in one statement.
    caused = list(dict.fromkeys(opening.incidents))
    uow.link_many(
        INCIDENT.label,
        "CAUSED_BY",
        PROBLEM.label,
        [{"s": i, "t": problem_id, "props": {}} for i in caused],
        {"why": opening.reason},
    )
    uow.audit_many(
        [
            ("relate", INCIDENT.label, i, None, {"type": "CAUSED_BY", "targetId": problem_id})
            for i in caused
        ]
    )
    return uow.lock(PROBLEM.label, problem_id)


def link_in(uow: UnitOfWork, incident_id: str, problem_id: str, why: str) -> None:
    """Link an incident to a problem as caused by it, inside the caller's unit of work: a
    proposal for it taken, its known errors matched; already linked, nothing changes."""
    state = cypher.linked(uow.tx, incident_id, problem_id)
    if state["caused"]:
        return
    if state["proposed"]:
        cypher.drop_proposal(uow.tx, incident_id, problem_id)
    uow.link(INCIDENT.label, incident_id, "CAUSED_BY", PROBLEM.label, problem_id, {"why": why})
    known_errors.match_caused(uow, problem_id, [incident_id])


def link_by_hand(store: Store, actor: Actor, incident_id: str, problem_id: str) -> None:
    """`linkIncidentToProblem`: an incident linked to a problem as caused by it."""
    _link_checked(store, actor, incident_id, problem_id, proposed=False)


def accept_proposal(store: Store, actor: Actor, incident_id: str, problem_id: str) -> None:
    """`acceptProblemProposal`: the proposal is taken, the incident linked as caused."""
    _link_checked(store, actor, incident_id, problem_id, proposed=True)


def _link_checked(
    store: Store, actor: Actor, incident_id: str, problem_id: str, *, proposed: bool
) -> None:
    actor.require(Permission.WORK_RECORDS)

    def work(uow: UnitOfWork) -> None:
        uow.lock(INCIDENT.label, incident_id)
        problem = uow.lock(PROBLEM.label, problem_id)
        state = cypher.linked(uow.tx, incident_id, problem_id)
        if proposed and not state["proposed"]:
            raise ValidationFailed(
                "problem", "not_proposed", f"{problem['number']} is not proposed for the incident"
            )
        if not proposed and state["caused"]:
            raise ValidationFailed(
                "incident",
                "already_linked",
                f"the incident is already linked to {problem['number']}",
            )
        how = "proposal accepted" if proposed else "linked"
        link_in(uow, incident_id, problem_id, f"{how} by {actor.name}")
        uow.touch(PROBLEM.label, problem_id)

    store.write(actor, work)


# -- the dependency walk ------------------------------------------------------------------------


def _nearest(found: list[dict[str, Any]], hops: Mapping[str, int]) -> dict[str, Any] | None:
    """The open problem at fault on the CI nearest the incident's, the oldest on a tie."""
    best: tuple[int, int] | None = None
    chosen = None
    for order, row in enumerate(found):
        distance = min(hops[c] for c in row["cis"] if c in hops)
        if best is None or (distance, order) < best:
            best, chosen = (distance, order), row
    return chosen


# -- as an incident opens -----------------------------------------------------------------------


# The upstream trigger counts the newest incidents of the window, not all of them: a storm of
# thousands in the window would otherwise make every new incident walk the dependencies of
# each. Far more than any recurrence count a policy sets.
RECURRENCE_SAMPLE = 200
# A common cause is looked for this many hops up from the incidents' CIs: the shared database,
# host or array, not the core network everything needs, and a walk that stays cheap.
RECURRENCE_DEPTH = 3
# How unlikely the count below an upstream CI must be by chance alone (the window's incidents
# falling on the estate's CIs at random) for it to open a problem.
CHANCE = 0.01


def _chance(count: int, expected: float) -> float:
    """The probability of `count` or more incidents where chance puts `expected` (Poisson)."""
    term, below = math.exp(-expected), 0.0
    for k in range(count):
        below += term
        term *= expected / (k + 1)
    return max(0.0, 1.0 - below)


def incident_opened(uow: UnitOfWork, incident: Mapping[str, Any], ci_id: str | None) -> None:
    """Called as an incident opens (in its transaction): matched to known errors, linked to the
    open problem that explains it or proposed for it, or a recurrence trigger opens one."""
    if ci_id is None:
        known_errors.match_incident(uow, incident["id"], None)
        return
    hops = {ci_id: 0, **dict(impact.dependency_reach(uow.tx, ci_id, max_depth=impact.MAX_DEPTH))}
    known_errors.match_incident(uow, incident["id"], ci_id, hops)
    policy = current(uow)
    explaining = cypher.open_at_fault(uow.tx, sorted(hops), OPEN_STATES)
    nearest = _nearest(explaining, hops)
    if nearest is not None:
        _follow(uow, policy, incident, nearest, hops)
        return
    opening = _recurrence(uow, incident, ci_id, hops, policy)
    if opening is not None:
        opened = open_problem_in(uow, opening)
        known_errors.follow_problem(uow, opened)


def _follow(
    uow: UnitOfWork,
    policy: Policy,
    incident: Mapping[str, Any],
    found: Mapping[str, Any],
    hops: Mapping[str, int],
) -> None:
    problem = found["problem"]
    at = min((c for c in found["cis"] if c in hops), key=lambda c: hops[c])
    names = {c: row["name"] for c, row in ci_cypher.by_ids(uow.tx, [at]).items()}
    where = (
        f"on its CI {names.get(at, at)}"
        if hops[at] == 0
        else f"on {names.get(at, at)}, {hops[at]} hop(s) upstream of its CI"
    )
    why = f"{problem['number']} ({problem['title']}) is open with the fault {where}"
    if policy.link_mode is LinkMode.LINK:
        link_in(uow, incident["id"], problem["id"], why)
    else:
        uow.link(
            INCIDENT.label,
            incident["id"],
            "PROPOSED_FOR",
            PROBLEM.label,
            problem["id"],
            {"why": why},
        )


def _recurrence(
    uow: UnitOfWork,
    incident: Mapping[str, Any],
    ci_id: str,
    hops: Mapping[str, int],
    policy: Policy,
) -> Opening | None:
    wanted = policy.recurrence_count
    window = _hours(policy)
    since = uow.at - policy.recurrence_window
    on_ci = cypher.recent_on_ci(uow.tx, ci_id, since)
    if len(on_ci) >= wanted:
        numbers = ", ".join(r["number"] for r in on_ci)
        name = on_ci[-1]["ciName"]
        return Opening(
            Trigger.RECURRENCE_ON_CI,
            f"{len(on_ci)} incidents within {window} on {name} ({numbers}); the policy opens a "
            f"problem at {wanted}",
            f"Recurring incidents on {name}",
            [ci_id],
            incident["id"],
            [r["id"] for r in on_ci],
        )
    if not policy.upstream_recurrence or len(hops) < 2:
        return None
    recent = cypher.recent_incidents(uow.tx, since, RECURRENCE_SAMPLE)
    if len(recent) < wanted:
        return None
    near = sorted(
        (c for c, n in hops.items() if 0 < n <= RECURRENCE_DEPTH), key=lambda c: (hops[c], c)
    )
    reach = impact.needs_among(
        uow.tx, sorted({r["ci"] for r in recent}), near, max_depth=RECURRENCE_DEPTH
    )
    names = {c: row["name"] for c, row in ci_cypher.by_ids(uow.tx, near).items()}
    # The nearest CI the incident's CI needs below which enough incidents fell, on two CIs or
    # more, and more than chance puts there: the common cause the dependency graph points at.
    # A CI that thousands need collects a few of any day's incidents by chance alone.
    total = estate = None
    for upstream in near:
        below = [r for r in recent if upstream in reach.get(r["ci"], {})]
        if len(below) < wanted or len({r["ci"] for r in below}) < 2:
            continue
        if total is None or estate is None:
            total, estate = cypher.incidents_since(uow.tx, since), cypher.ci_count(uow.tx)
        dependants = impact.dependants_within(uow.tx, upstream, max_depth=RECURRENCE_DEPTH)
        expected = total * (dependants + 1) / max(estate, 1)
        if _chance(len(below), expected) >= CHANCE:
            continue
        name = names.get(upstream, upstream)
        on = sorted({r["ciName"] for r in below})
        numbers = ", ".join(r["number"] for r in below)
        return Opening(
            Trigger.RECURRENCE_BELOW_UPSTREAM,
            f"{len(below)} incidents within {window} on {', '.join(on)}, which all depend "
            f"on {name} ({numbers}); by chance about {expected:.2f} of the window's {total} "
            f"would fall below it ({dependants} of {estate} CIs need it); the policy opens a "
            f"problem at {wanted}",
            f"Recurring incidents below {name}",
            [upstream],
            incident["id"],
            [r["id"] for r in below],
        )
    return None


def _hours(policy: Policy) -> str:
    hours = int(policy.recurrence_window.total_seconds() // 3600)
    return f"{hours} h"


# -- as an incident is resolved ------------------------------------------------------------------


def incident_resolved(uow: UnitOfWork, incident: Mapping[str, Any]) -> None:
    """A major incident resolved opens a problem, unless an open problem already explains it."""
    if not incident.get("major"):
        return
    policy = current(uow)
    if not policy.major_incident_trigger:
        return
    if cypher.open_caused(uow.tx, incident["id"], OPEN_STATES):
        return
    ci_id = incident_cypher.linked_id(uow.tx, incident["id"], "AFFECTS")
    opened = open_problem_in(
        uow,
        Opening(
            Trigger.MAJOR_INCIDENT,
            f"{incident['number']} ({incident['title']}) was a major incident, resolved; the "
            "policy opens a problem for every one",
            f"Cause of {incident['number']}: {incident['title']}",
            [ci_id] if ci_id else [],
            incident["id"],
            [incident["id"]],
            incident.get("priority"),
        ),
    )
    known_errors.follow_problem(uow, opened)
