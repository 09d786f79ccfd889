"""What an incident affects: the Services its CI's failure takes down (with how many hops
away), the active SLAs covering them and their Customers, by the CMDB's impact rules as the
governing agreement reads them; and the open incidents on CIs, for the CMDB's views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from core.access import Actor, Permission
from core.incidents import OPEN_STATES
from domain import impact
from domain.service_level.governing import MAX_DEPTH
from graphdb.cypher import ci as ci_cypher
from graphdb.cypher import service_desk as cypher
from graphdb.write_path import Store

_CI_SHOWN = ("id", "name", "number", "ciClass", "lifecycle", "criticality", "version")


@dataclass
class AffectedService:
    service: dict[str, Any]
    depth: int


@dataclass
class Affected:
    services: list[AffectedService] = field(default_factory=list)
    slas: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)


def _of_ci(tx: ManagedTransaction, ci_id: str) -> Affected:
    result, details = impact.failure_reach(
        tx, ci_id, max_depth=MAX_DEPTH, explain=False, ci_properties=_CI_SHOWN
    )
    depths = {ci_id: 0, **{r.ci_id: r.depth for r in result.reached}}
    if ci_id not in details:
        # A CI whose failure reaches nothing was not read by the walk.
        details.update(
            {row["ci"]["id"]: row for row in ci_cypher.with_agreements(tx, [ci_id], _CI_SHOWN)}
        )
    services = sorted(
        (
            AffectedService(details[ci]["ci"], depth)
            for ci, depth in depths.items()
            if ci in details and details[ci]["service"]
        ),
        key=lambda s: (s.depth, str(s.service.get("name"))),
    )
    slas = {s["id"]: s for a in services for s in details[a.service["id"]]["slas"]}
    customers = {c["id"]: c for s in slas.values() for c in s["customers"]}
    return Affected(
        services,
        sorted(slas.values(), key=lambda s: str(s.get("name"))),
        sorted(customers.values(), key=lambda c: str(c.get("name"))),
    )


def affected_by(store: Store, actor: Actor, incident_ids: Sequence[str]) -> dict[str, Affected]:
    """For each incident, what its CI's failure affects; one read for them all, one walk per
    distinct CI."""
    actor.require(Permission.READ)

    def work(tx: ManagedTransaction) -> dict[str, Affected]:
        cis = cypher.affected_cis(tx, incident_ids)
        walked = {ci: _of_ci(tx, ci) for ci in sorted(set(cis.values()))}
        return {i: walked[cis[i]] if i in cis else Affected() for i in incident_ids}

    return store.read(work)


def open_incidents_of(
    store: Store, actor: Actor, ci_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each CI, the open incidents that affect it, oldest first."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.open_incidents_of(tx, ci_ids, OPEN_STATES))
