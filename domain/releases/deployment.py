"""Deploying and rolling back a release, each one unit of work: either everything below happens,
audited with a reason naming the release, or nothing does.

Deploying (built → deployed):

* every included change is implemented (`mark_change_implemented`): a cancelled or failed one
  refuses the deployment (a retry after a rollback includes new changes), and so does one its
  own rules do not let start (a normal change not scheduled);
* every catalogue entry it updates takes `releaseVersion` as its `offeringVersion` (and
  `offering` when the release gives one); every CI its changes modify takes it as its `version`
  attribute;
* the known errors the changes fix are marked fixed; the problems those document, and the
  problems the changes address, are resolved when their root cause is known (one still under
  investigation is left as it is and listed);
* the incidents those problems cause, and those the changes address, are resolved when open
  (`resolved_by_change`, notes naming the release), unless another problem that stays open
  causes them too: then their team is told instead.

What the catalogue entries and CIs said before, and what was closed, is stored on the release
(`deployment`), so that rolling back (deployed → rolled_back) restores the entries and versions,
fails the changes (`revert_change_implemented`), and reopens exactly the known errors, problems
and incidents the deployment closed, where they are still closed that way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.access import Actor, Permission
from core.changes import CHANGE, ChangeState
from core.errors import ValidationFailed
from core.incidents import INCIDENT, ResolutionCode
from core.problems import KNOWN_ERROR, OPEN_STATES, PROBLEM, KnownErrorState, ProblemState
from core.records import RecordType, check_properties
from core.releases import RELEASE, ReleaseState
from core.service_level import CATALOG_ENTRY
from core.states import GuardRefused, InvalidTransition
from domain.changes.lifecycle import mark_change_implemented, revert_change_implemented
from domain.cmdb import ATTRIBUTE_PREFIX
from domain.incidents import lifecycle as incidents
from domain.problems import (
    mark_known_error_fixed,
    reopen_known_error,
    reopen_problem,
    resolve_problem,
)
from graphdb.cypher import releases as cypher
from graphdb.write_path import Store, UnitOfWork

LABEL = RELEASE.label
CI_VERSION = ATTRIBUTE_PREFIX + "version"
# A problem is resolved only once its root cause is known; earlier states stay for a person.
_RESOLVABLE = (ProblemState.ROOT_CAUSE_KNOWN, ProblemState.FIX_IN_PROGRESS)
_DONE = (ProblemState.RESOLVED, ProblemState.CLOSED)
_UNDEPLOYABLE = (ChangeState.CANCELLED, ChangeState.FAILED)

Audit = list[tuple[str, str, str, Mapping[str, Any] | None, Mapping[str, Any] | None]]


def _named(release: Mapping[str, Any]) -> str:
    return f"{release['number']} ({release['releaseVersion']})"


def _implement(uow: UnitOfWork, change: Mapping[str, Any], actor: Actor) -> None:
    if change["state"] in _UNDEPLOYABLE:
        raise ValidationFailed(
            "changes",
            "change_not_deployable",
            f"{change['number']} is {change['state']}: include a new change instead",
        )
    try:
        mark_change_implemented(uow, change["id"], actor)
    except (InvalidTransition, GuardRefused) as refused:
        reason = str(refused.details.get("reason") or "change_not_ready")
        raise ValidationFailed(
            "changes", reason, f"{change['number']} cannot be implemented: {refused.message}"
        ) from refused


def _deploy(uow: UnitOfWork, release_id: str, version: int | None) -> dict[str, Any]:
    release = uow.transition(LABEL, release_id, ReleaseState.DEPLOYED, expected_version=version)
    changes = cypher.included_changes(uow.tx, release_id)
    if not changes:
        raise ValidationFailed(
            "changes", "no_changes", f"{release['number']} includes no change: nothing to deploy"
        )
    entries = cypher.catalog_entries(uow.tx, release_id)
    if not entries:
        raise ValidationFailed(
            "catalogEntries",
            "no_catalog_entries",
            f"{release['number']} updates no catalogue entry: say which offering it changes",
        )
    name = _named(release)
    why = f"deployed with release {name}"
    audit: Audit = []

    def audited(label: str, record_id: str, what: str) -> None:
        audit.append(
            ("release_deploy", label, record_id, None, {"release": release["number"], "why": what})
        )

    change_ids = [c["id"] for c in changes]
    for change in changes:
        _implement(uow, change, uow.actor)
        audited(CHANGE.label, change["id"], f"implemented by release {name}")

    new_values = {"offeringVersion": release["releaseVersion"]}
    if release.get("offering"):
        new_values["offering"] = release["offering"]
    for entry in entries:
        uow.update(CATALOG_ENTRY.label, entry["id"], new_values, expected_version=None)
        audited(CATALOG_ENTRY.label, entry["id"], f"catalogue entry updated by release {name}")

    cis = cypher.modified_cis(uow.tx, change_ids, CI_VERSION)
    uow.update_many(
        "CI",
        [
            (ci["id"], {CI_VERSION: ci["version"]}, {CI_VERSION: release["releaseVersion"]})
            for ci in cis
            if ci["version"] != release["releaseVersion"]
        ],
    )
    for ci in cis:
        audited("CI", ci["id"], f"version {release['releaseVersion']} from release {name}")

    known_errors = cypher.fixed_known_errors(uow.tx, change_ids)
    fixed: list[str] = []
    for ke in known_errors:
        if ke["state"] == KnownErrorState.ACTIVE:
            mark_known_error_fixed(uow, ke["id"], uow.actor)
            fixed.append(ke["id"])
            audited(KNOWN_ERROR.label, ke["id"], f"fixed by release {name}")

    problem_ids = sorted(
        {ke["problem"] for ke in known_errors if ke["problem"]}
        | set(cypher.addressed(uow.tx, change_ids, PROBLEM.label))
    )
    resolved: list[str] = []
    left: list[str] = []
    done: list[str] = []
    for problem in cypher.problems(uow.tx, problem_ids):
        if problem["state"] in _RESOLVABLE:
            resolve_problem(uow, problem["id"], uow.actor, why)
            resolved.append(problem["id"])
            audited(PROBLEM.label, problem["id"], f"resolved by release {name}")
        elif problem["state"] in _DONE:
            done.append(problem["id"])
        elif problem["state"] != ProblemState.CANCELLED:
            left.append(problem["id"])

    closed: list[str] = []
    told: list[str] = []
    targets = cypher.incidents_to_close(
        uow.tx,
        resolved + done,
        cypher.addressed(uow.tx, change_ids, INCIDENT.label),
        OPEN_STATES,
    )
    numbers = ", ".join(c["number"] for c in changes)
    for incident in targets:
        if incident["others"]:
            others = ", ".join(incident["others"])
            if incidents.tell_team(
                uow,
                incident["id"],
                subject=f"Release {name} deployed; {incident['number']} still open",
                body=f"Release {name} fixed one cause of {incident['number']} ({numbers}), "
                f"but {others} still cause it: it stays open.",
                reason="release_deployed",
                key=f"release:{release_id}:{release.get('version')}:{incident['id']}",
            ):
                told.append(incident["id"])
            continue
        notes = f"Fixed by release {name}: {numbers}."
        if incidents.resolve_in(uow, incident["id"], ResolutionCode.RESOLVED_BY_CHANGE, notes):
            closed.append(incident["id"])
            audited(INCIDENT.label, incident["id"], f"resolved by release {name}")

    uow.audit_many(audit)
    deployment = {
        "changes": change_ids,
        "catalogEntries": entries,
        "cis": [{"id": ci["id"], "version": ci["version"]} for ci in cis],
        "knownErrors": fixed,
        "problems": resolved,
        "problemsLeftOpen": left,
        "incidents": closed,
        "incidentsTold": told,
    }
    cypher.set_derived(
        uow.tx, release_id, {"deployedAt": uow.at, "deployment": json.dumps(deployment)}
    )
    return uow.lock(LABEL, release_id)


def _rollback(uow: UnitOfWork, release_id: str, version: int | None) -> dict[str, Any]:
    release = uow.transition(LABEL, release_id, ReleaseState.ROLLED_BACK, expected_version=version)
    deployment: dict[str, Any] = json.loads(release.get("deployment") or "{}")
    name = _named(release)
    why = f"release {name} rolled back"
    audit: Audit = []

    def audited(label: str, record_id: str, what: str) -> None:
        audit.append(
            (
                "release_rollback",
                label,
                record_id,
                None,
                {"release": release["number"], "why": what},
            )
        )

    for entry in deployment.get("catalogEntries", []):
        kept = {k: entry[k] for k in ("offeringVersion", "offering") if entry.get(k) is not None}
        gone = tuple(k for k in ("offeringVersion", "offering") if entry.get(k) is None)
        uow.update(CATALOG_ENTRY.label, entry["id"], kept, expected_version=None, remove=gone)
        audited(CATALOG_ENTRY.label, entry["id"], f"catalogue entry restored: {why}")

    cis = deployment.get("cis", [])
    uow.update_many(
        "CI",
        [
            (ci["id"], {CI_VERSION: release["releaseVersion"]}, {CI_VERSION: ci["version"]})
            for ci in cis
            if ci["version"] != release["releaseVersion"]
        ],
    )
    for ci in cis:
        audited("CI", ci["id"], f"version restored to {ci['version']}: {why}")

    failed: list[str] = []
    for change_id in deployment.get("changes", []):
        state = uow.lock(CHANGE.label, change_id).get("state")
        # A change reviewed and closed since stays closed: its record says it succeeded then.
        if state in (ChangeState.IMPLEMENTING, ChangeState.REVIEW):
            revert_change_implemented(uow, change_id, uow.actor)
            failed.append(change_id)
            audited(CHANGE.label, change_id, f"failed: {why}")

    reopened: dict[str, list[str]] = {"knownErrors": [], "problems": [], "incidents": []}
    for ke_id in deployment.get("knownErrors", []):
        if uow.lock(KNOWN_ERROR.label, ke_id).get("state") == KnownErrorState.FIXED:
            reopen_known_error(uow, ke_id, uow.actor)
            reopened["knownErrors"].append(ke_id)
            audited(KNOWN_ERROR.label, ke_id, f"reopened: {why}")
    for problem_id in deployment.get("problems", []):
        if uow.lock(PROBLEM.label, problem_id).get("state") == ProblemState.RESOLVED:
            reopen_problem(uow, problem_id, uow.actor, why)
            reopened["problems"].append(problem_id)
            audited(PROBLEM.label, problem_id, f"reopened: {why}")
    for incident_id in deployment.get("incidents", []):
        if incidents.reopen_in(uow, incident_id):
            reopened["incidents"].append(incident_id)
            audited(INCIDENT.label, incident_id, f"reopened: {why}")

    uow.audit_many(audit)
    deployment["rollback"] = {"changes": failed, **reopened}
    cypher.set_derived(
        uow.tx, release_id, {"rolledBackAt": uow.at, "deployment": json.dumps(deployment)}
    )
    return uow.lock(LABEL, release_id)


def _step(
    uow: UnitOfWork, release_id: str, target: str, version: int | None, changes: Mapping[str, Any]
) -> dict[str, Any]:
    if target == ReleaseState.DEPLOYED:
        return _deploy(uow, release_id, version)
    if target == ReleaseState.ROLLED_BACK:
        return _rollback(uow, release_id, version)
    after = uow.transition(LABEL, release_id, target, expected_version=version, changes=changes)
    if target == ReleaseState.BUILT:
        cypher.set_derived(uow.tx, release_id, {"builtAt": uow.at})
        after = uow.lock(LABEL, release_id)
    return after


def transition_release(
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
    """`transitionRelease`: to deployed deploys, to rolled_back rolls back, as the dedicated
    mutations do."""
    actor.require(permission)
    checked = check_properties(record, changes, creating=False, prefix="changes.", step=True)
    return store.write(actor, lambda uow: _step(uow, record_id, target, version, checked))


def deploy_release(
    store: Store, actor: Actor, release_id: str, version: int | None
) -> dict[str, Any]:
    """`deployRelease`: the whole deployment in one transaction."""
    actor.require(Permission.WORK_RECORDS)
    return store.write(actor, lambda uow: _deploy(uow, release_id, version))


def rollback_release(
    store: Store, actor: Actor, release_id: str, version: int | None
) -> dict[str, Any]:
    """`rollbackRelease`: the whole rollback in one transaction."""
    actor.require(Permission.WORK_RECORDS)
    return store.write(actor, lambda uow: _rollback(uow, release_id, version))


def fixed_by(store: Store, actor: Actor, problem_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per problem, the deployed release that shipped its fix (the latest, if several)."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.fixed_by(tx, problem_ids, [ReleaseState.DEPLOYED.value]))
