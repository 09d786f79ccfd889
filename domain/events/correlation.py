"""Root cause through the CI graph.

A new alert on CI C is a symptom when an open root alert upstream of C (what C needs, by the
CMDB's propagating relationships) explains C's failure: a failure of that root's CI reaches C by
the CMDB's propagation and redundancy rules (`domain.impact.failure_reach`), so a cluster member
alone down explains nothing behind the cluster. A symptom links SYMPTOM_OF its root, says the
path in `correlationReason`, and acts on nothing. A new root adopts the open roots downstream
that it explains, with their symptoms; the incidents they opened are closed as duplicates when
the root acts (`domain.events.actions`).

Decisions about roots are serialised by one lock (`CorrelationLock`), taken only when a new
alert is judged or a root changes: two alerts on a parent and its child judged at the same
moment would otherwise both see no alerting neighbour and both become roots.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.events import ALERT, AlertRole
from domain import impact
from domain.events import actions, maintenance
from domain.events.policy import Policy
from graphdb.cypher import alerts as cypher
from graphdb.write_path import UnitOfWork

LABEL = ALERT.label
MAX_DEPTH = 6


class Correlator:
    """Correlation inside one unit of work, reading each CI's reach once however many alerts of
    a batch ask (a storm asks about one parent two hundred times)."""

    def __init__(self, uow: UnitOfWork, policy: Policy) -> None:
        self.uow = uow
        self.policy = policy
        self._locked = False
        self.touched: list[str] = []  # alerts changed besides the batch's own, to announce
        self._upstream: dict[str, list[str]] = {}
        self._reach: dict[str, tuple[impact.ImpactResult, dict[str, dict[str, Any]]]] = {}

    def lock(self) -> None:
        if not self._locked:
            cypher.take_correlation_lock(self.uow.tx)
            self._locked = True

    def upstream(self, ci_id: str) -> list[str]:
        """What the CI needs, nearest first."""
        if ci_id not in self._upstream:
            reach = impact.dependency_reach(self.uow.tx, ci_id, max_depth=MAX_DEPTH)
            self._upstream[ci_id] = [ci for ci, _ in sorted(reach, key=lambda r: (r[1], r[0]))]
        return self._upstream[ci_id]

    def _failure(self, ci_id: str) -> tuple[impact.ImpactResult, dict[str, dict[str, Any]]]:
        if ci_id not in self._reach:
            self._reach[ci_id] = impact.failure_reach(
                self.uow.tx, ci_id, max_depth=MAX_DEPTH, explain=False, ci_properties=("name",)
            )
        return self._reach[ci_id]

    def downstream(self, ci_id: str) -> list[str]:
        return [r.ci_id for r in self._failure(ci_id)[0].reached]

    def explains(self, root_ci: str, ci_id: str) -> str | None:
        """How a failure of `root_ci` brings `ci_id` down, or None when it does not."""
        result, shown = self._failure(root_ci)
        reached = next((r for r in result.reached if r.ci_id == ci_id), None)
        if reached is None:
            return None
        if result.explain is not None and reached.reason is None:
            result.explain([ci_id])

        def name(ci: str) -> str:
            return str(shown.get(ci, {}).get("ci", {}).get("name") or ci)

        path = reached.paths[0] if reached.paths else []
        names, here = [name(root_ci)], root_ci
        for step in path:
            here = step.target if step.source == here else step.source
            names.append(f"{step.type} {name(here)}")
        return " → ".join(names) + (f" ({reached.reason})" if reached.reason else "")

    # -- decisions --------------------------------------------------------------------------

    def judge_new(self, alert_id: str, ci_id: str | None, at: datetime) -> None:
        """A new alert: in maintenance or not, symptom or root; a root adopts what it explains
        downstream and is scheduled to act."""
        self.lock()
        if ci_id is None:
            self._set(alert_id, correlationReason="no CI given: judged on its own")
            actions.schedule(self.uow, self.policy, alert_id)
            return
        reason = maintenance.suppression(self.uow, ci_id, self.upstream(ci_id), at)
        if reason is not None:
            self._set(alert_id, suppressed=True, suppressionReason=reason)
        self._decide(alert_id, ci_id, act=reason is None)

    def recorrelate(self, alert: dict[str, Any]) -> None:
        """A symptom whose root resolved, judged again on its next event."""
        self.lock()
        alert_id = str(alert["id"])
        cypher.unlink_root(self.uow.tx, alert_id)
        ci_id = cypher.ci_of(self.uow.tx, alert_id)
        if ci_id is None:
            return
        acts = not alert.get("suppressed") and alert.get("actedAt") is None
        self._decide(alert_id, ci_id, act=acts)

    def _decide(self, alert_id: str, ci_id: str, *, act: bool) -> None:
        root = self._root_for(alert_id, ci_id)
        if root is not None:
            found, why = root
            self.uow.link(LABEL, alert_id, "SYMPTOM_OF", LABEL, found["id"])
            self._set(
                alert_id,
                role=AlertRole.SYMPTOM.value,
                correlationReason=f"symptom of {found['number']}: {why}",
            )
            return
        self._set(
            alert_id,
            role=AlertRole.ROOT.value,
            correlationReason="root: no open alert upstream explains it",
        )
        adopted = self._adopt(alert_id, ci_id)
        if act:
            actions.schedule(self.uow, self.policy, alert_id)
        elif adopted:
            actions.close_symptom_incidents(self.uow, alert_id)

    def _root_for(self, alert_id: str, ci_id: str) -> tuple[dict[str, Any], str] | None:
        upstream = self.upstream(ci_id)
        if not upstream:
            return None
        nearest = {ci: i for i, ci in enumerate(upstream)}
        candidates = sorted(
            cypher.open_roots_on(self.uow.tx, upstream, exclude=alert_id),
            key=lambda a: nearest[a["ciId"]],
        )
        for candidate in candidates:
            why = self.explains(candidate["ciId"], ci_id)
            if why is not None:
                return candidate, why
        return None

    def _adopt(self, alert_id: str, ci_id: str) -> list[str]:
        """Open roots downstream that this new root explains become its symptoms, and so do
        theirs. Returns the adopted roots."""
        below = self.downstream(ci_id)
        if not below:
            return []
        root = self.uow.lock(LABEL, alert_id)
        adopted = []
        for other in cypher.open_roots_on(self.uow.tx, below, exclude=alert_id):
            why = self.explains(ci_id, other["ciId"])
            if why is None:
                continue
            reason = f"symptom of {root['number']}: {why}"
            self.uow.lock(LABEL, other["id"])
            self.uow.link(LABEL, other["id"], "SYMPTOM_OF", LABEL, alert_id)
            self._set(other["id"], role=AlertRole.SYMPTOM.value, correlationReason=reason)
            moved = cypher.repoint_symptoms(
                self.uow.tx, other["id"], alert_id, f"symptom of {root['number']}", self.uow.at
            )
            self.touched.extend([other["id"], *moved])
            adopted.append(other["id"])
        return adopted

    def _set(self, alert_id: str, **values: Any) -> None:
        cypher.set_derived(self.uow.tx, alert_id, {**values, "updatedAt": self.uow.at})
