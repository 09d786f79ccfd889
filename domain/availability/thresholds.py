"""Thresholds as records, and which thresholds watch a CI.

A threshold is set by exactly one agreement (an SLA or an OLA), so writing one is the managers'
business, as agreements are. It watches CIs by name, or every CI of a class that a Service
depends on (upstream of the Service through the CMDB's relationships, by the way a failure
travels along them, within `SCOPE_HOPS`). Only an enabled threshold of an active agreement is
evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.events import THRESHOLD, Operator
from core.records import RecordType
from domain import cmdb
from domain.cmdb import RELATIONSHIP_TYPES
from domain.impact import _propagating
from domain.service_level.rules import Rules
from graphdb.cypher import service_level as links_cypher
from graphdb.cypher import thresholds as cypher
from graphdb.cypher.ci import Propagating
from graphdb.write_path import Store, UnitOfWork

# How far upstream of a Service a class-scoped threshold looks for the CIs it watches.
SCOPE_HOPS = 6


def propagating() -> Propagating:
    """Every CMDB relationship type by the way a failure travels along it (configuration may
    add types, so this is read when needed, not at import)."""
    return _propagating(RELATIONSHIP_TYPES)


def _linked_ids(uow: UnitOfWork, row: dict[str, Any], name: str) -> list[str]:
    link = next(f for f in THRESHOLD.link_fields if f.name == name)
    found = links_cypher.linked(
        uow.tx, THRESHOLD.label, [row["id"]], link.type, link.direction, link.other
    )
    return [o["id"] for o in found[row["id"]]]


def clears(operator: Operator, value: float, clear_value: float) -> bool:
    """Whether a clear value lies on the clearing side of the limit for this operator."""
    if operator in (Operator.GT, Operator.GE):
        return clear_value <= value
    return clear_value >= value


def _check_threshold(uow: UnitOfWork, record: RecordType, row: dict[str, Any]) -> None:
    """The threshold as written (after create or update, with its links) obeys the rules;
    raising rolls the whole write back."""
    sla, ola = _linked_ids(uow, row, "sla"), _linked_ids(uow, row, "ola")
    if len(sla) + len(ola) != 1:
        raise ValidationFailed(
            "ola" if ola else "sla",
            "one_agreement",
            "a threshold is set by exactly one agreement: give either sla or ola",
        )
    service = _linked_ids(uow, row, "service")
    ci_class = row.get("ciClass")
    if ci_class is not None:
        cmdb.ci_class(ci_class, field_name="ciClass")
        if not service:
            raise ValidationFailed(
                "ciClass", "needs_service", "ciClass watches a class under a service: give service"
            )
    if service and ci_class is None:
        raise ValidationFailed(
            "ciClass", "required", "a threshold scoped to a service watches one class: give ciClass"
        )
    if not _linked_ids(uow, row, "cis") and not (service and ci_class):
        raise ValidationFailed(
            "cis",
            "watches_nothing",
            "a threshold watches CIs: give cis, or service with ciClass",
        )
    if int(row.get("forSeconds", 0)) < 0:
        raise ValidationFailed("forSeconds", "negative", "forSeconds must be 0 or more")
    clear_value = row.get("clearValue")
    operator = Operator(row["operator"])
    if clear_value is not None and not clears(operator, float(row["value"]), clear_value):
        side = "at or below" if operator in (Operator.GT, Operator.GE) else "at or above"
        raise ValidationFailed(
            "clearValue",
            "wrong_side",
            f"for {operator.value} the clear value must be {side} the value {row['value']}",
        )


# Managers write thresholds (Permission.MANAGE_SERVICE_LEVELS, the Rules' default), and nothing
# retired gains links: a retired agreement sets no new threshold.
THRESHOLD_RULES = Rules(written=(_check_threshold,))


def update_threshold(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    version: int | None,
    permission: Permission = Permission.MANAGE_SERVICE_LEVELS,
) -> dict[str, Any]:
    """Change a threshold; an agreement given (sla or ola) replaces the one that set it."""
    given = dict(links or {})
    for one, other in (("sla", "ola"), ("ola", "sla")):
        if given.get(one) and other not in given:
            given[other] = []
    return THRESHOLD_RULES.update(
        store, actor, record, record_id, values, given, version=version, permission=permission
    )


def thresholds_of_cis(
    store: Store, actor: Actor, ci_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every threshold watching each CI, by name or through a Service, by name."""
    actor.require(Permission.READ)
    types = propagating()
    return store.read(lambda tx: cypher.of_cis(tx, ci_ids, types, SCOPE_HOPS))


def statuses(
    store: Store, actor: Actor, threshold_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each threshold's state per CI it watches or has evaluated: {ci, state}."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.states_of(tx, threshold_ids))


def watching(
    uow: UnitOfWork, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The thresholds to evaluate for each (CI id, metric) of a batch, in one query."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if not pairs:
        return found
    for ci, metric, threshold in cypher.watching(uow.tx, pairs, propagating(), SCOPE_HOPS):
        found.setdefault((ci, metric), []).append(threshold)
    return found
