"""Thresholds in GraphQL: the Threshold type with the agreement that sets it, what it watches,
whom it notifies, and where it stands for each CI (`status`).

Links and states read through per-request loaders: a page of thresholds asking for their status
costs one round trip, not one per threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import strawberry

from core import events as declared
from core.events import THRESHOLD
from core.ids import record_id
from core.records import Direction, RecordType
from domain.availability import thresholds
from schema.cmdb import ConfigurationItem
from schema.common import Node, to_datetime
from schema.context import Info
from schema.records import described, values_enum
from schema.service_level import OLANode, PersonNode, SLANode, TeamNode, _nodes, _Served

if TYPE_CHECKING:
    from core.events import Operator, OutageKind, Severity, ThresholdAction, ThresholdCondition
else:
    Operator = values_enum(declared.Operator)
    Severity = values_enum(declared.Severity)
    ThresholdAction = values_enum(declared.ThresholdAction)
    OutageKind = values_enum(declared.OutageKind)
    ThresholdCondition = values_enum(declared.ThresholdCondition)


@strawberry.type(description="Where a threshold stands for one CI, by the samples' timestamps.")
class ThresholdStatus:
    ci: ConfigurationItem = strawberry.field(description="The CI.")
    state: ThresholdCondition = strawberry.field(description="OK, pending or firing.")
    since: datetime | None = strawberry.field(
        description="Since when: the first breaching sample while pending, the sample that "
        "fired it while firing, the sample that cleared it (or ended a pending run) while ok; "
        "null before any sample."
    )
    last_value: float | None = strawberry.field(description="The newest sample's value, by time.")
    last_sample_at: datetime | None = strawberry.field(description="The newest sample's time.")


async def _statuses(info: Info, threshold_id: str) -> list[dict[str, Any]]:
    async def load(context: Any, keys: Sequence[str]) -> list[list[dict[str, Any]]]:
        found = await context.run(thresholds.statuses, context.store, context.actor, keys)
        return [found.get(k, []) for k in keys]

    rows: list[dict[str, Any]] = await info.context.loaders.keyed("threshold_status", load).load(
        threshold_id
    )
    return rows


def _status(row: dict[str, Any]) -> ThresholdStatus:
    state = row["state"] or {}
    return ThresholdStatus(
        ci=ConfigurationItem.from_props(row["ci"]),
        state=ThresholdCondition(state.get("state") or declared.ThresholdCondition.OK.value),
        since=to_datetime(state.get("since")),
        last_value=state.get("lastValue"),
        last_sample_at=to_datetime(state.get("lastAt")),
    )


@strawberry.type(name="Threshold", description=THRESHOLD.description)
class ThresholdNode(Node, _Served):
    record: ClassVar[RecordType] = THRESHOLD
    number: str = described(THRESHOLD, "number")
    name: str = described(THRESHOLD, "name")
    metric: str = described(THRESHOLD, "metric")
    operator: Operator = described(THRESHOLD, "operator")
    value: float = described(THRESHOLD, "value")
    for_seconds: int = described(THRESHOLD, "forSeconds")
    clear_value: float | None = described(THRESHOLD, "clearValue")
    severity: Severity = described(THRESHOLD, "severity")
    action: ThresholdAction = described(THRESHOLD, "action")
    outage_kind: OutageKind | None = described(THRESHOLD, "outageKind")
    ci_class: str | None = described(THRESHOLD, "ciClass")
    enabled: bool = described(THRESHOLD, "enabled")
    description: str | None = described(THRESHOLD, "description")
    version: int = described(THRESHOLD, "version")
    created_at: datetime | None = described(THRESHOLD, "createdAt")
    updated_at: datetime | None = described(THRESHOLD, "updatedAt")

    @property
    def stored_id(self) -> str:
        return record_id(str(self.id), THRESHOLD.label)

    @strawberry.field(description="The SLA that sets it; null when an OLA does.")
    async def sla(self, info: Info) -> SLANode | None:
        found = await _nodes(info, self, "DEFINED_BY", Direction.OUT, SLANode)
        return found[0] if found else None

    @strawberry.field(description="The OLA that sets it; null when an SLA does.")
    async def ola(self, info: Info) -> OLANode | None:
        found = await _nodes(info, self, "DEFINED_BY", Direction.OUT, OLANode)
        return found[0] if found else None

    @strawberry.field(description="The CIs it watches by name, by name.")
    async def cis(self, info: Info) -> list[ConfigurationItem]:
        loader = info.context.loaders.linked(THRESHOLD, "WATCHES", Direction.OUT, "CI")
        return [ConfigurationItem.from_props(r) for r in await loader.load(self.stored_id)]

    @strawberry.field(
        description="With ciClass: the Service whose CIs of that class (the ones it depends on) "
        "it watches."
    )
    async def service(self, info: Info) -> ConfigurationItem | None:
        loader = info.context.loaders.linked(THRESHOLD, "SCOPED_TO", Direction.OUT, "Service")
        rows = await loader.load(self.stored_id)
        return ConfigurationItem.from_props(rows[0]) if rows else None

    @strawberry.field(description="The teams its alerts notify, by name.")
    async def notify_teams(self, info: Info) -> list[TeamNode]:
        return await _nodes(info, self, "NOTIFIES", Direction.OUT, TeamNode)

    @strawberry.field(description="The people its alerts notify, by name.")
    async def notify_people(self, info: Info) -> list[PersonNode]:
        return await _nodes(info, self, "NOTIFIES", Direction.OUT, PersonNode)

    @strawberry.field(
        description="Where it stands for each CI it watches by name and each CI it has "
        "evaluated samples of, by CI name; a CI with no sample yet is ok."
    )
    async def status(self, info: Info) -> list[ThresholdStatus]:
        return [_status(r) for r in await _statuses(info, self.stored_id)]


async def thresholds_on(info: Info, ci_id: str) -> list[ThresholdNode]:
    """The thresholds watching a CI (by name or through a Service), read for every CI of a page
    at once."""

    async def load(context: Any, keys: Sequence[str]) -> list[list[dict[str, Any]]]:
        found = await context.run(thresholds.thresholds_of_cis, context.store, context.actor, keys)
        return [found.get(k, []) for k in keys]

    rows = await info.context.loaders.keyed("ci_thresholds", load).load(ci_id)
    return [ThresholdNode.from_props(r) for r in rows]
