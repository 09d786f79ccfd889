"""Problem Management in GraphQL: problems with the incidents, known errors and changes linked to
them, and the problem policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from core import priority as priorities
from core import problems as declared
from core.ids import record_id
from core.incidents import INCIDENT
from core.problems import POLICY, PROBLEM
from core.record_types import CI
from core.records import Direction, RecordType
from domain import releases
from schema.cmdb import ConfigurationItem
from schema.common import Node
from schema.context import Info
from schema.known_errors import KnownErrorNode
from schema.records import described, state_enum, values_enum
from schema.service_level import _linked, _nodes, _Served

if TYPE_CHECKING:
    from core.priority import Priority
    from core.problems import LinkMode, Trigger
    from schema.changes import ChangeNode
    from schema.incidents import IncidentNode
    from schema.releases import ReleaseNode
else:
    Priority = values_enum(priorities.Priority)
    Trigger = values_enum(declared.Trigger)
    LinkMode = values_enum(declared.LinkMode)

ProblemStateEnum = state_enum(PROBLEM)
Incident = Annotated["IncidentNode", strawberry.lazy("schema.incidents")]
Change = Annotated["ChangeNode", strawberry.lazy("schema.changes")]
Release = Annotated["ReleaseNode", strawberry.lazy("schema.releases")]


async def _fixed_by(ctx: Any, ids: Sequence[str]) -> list[dict[str, Any] | None]:
    found = await ctx.run(releases.fixed_by, ctx.store, ctx.actor, list(ids))
    return [found.get(i) for i in ids]


def _incidents(rows: list[dict[str, Any]]) -> list[Any]:
    from schema.incidents import IncidentNode

    return [IncidentNode.from_props(dict(r)) for r in rows]


@strawberry.type(name="Problem", description=PROBLEM.description)
class ProblemNode(Node, _Served):
    record: ClassVar[RecordType] = PROBLEM
    number: str = described(PROBLEM, "number")
    title: str = described(PROBLEM, "title")
    description: str | None = described(PROBLEM, "description")
    root_cause: str | None = described(PROBLEM, "rootCause")
    workaround: str | None = described(PROBLEM, "workaround")
    priority: Priority | None = described(PROBLEM, "priority")
    trigger: Trigger | None = described(PROBLEM, "trigger")
    trigger_reason: str | None = described(PROBLEM, "triggerReason")
    state: ProblemStateEnum = described(PROBLEM, "state")  # type: ignore[valid-type]
    resolved_at: datetime | None = described(PROBLEM, "resolvedAt")
    version: int = described(PROBLEM, "version")
    created_at: datetime | None = described(PROBLEM, "createdAt")

    @strawberry.field(description="The CIs at fault.")
    async def cis_at_fault(self, info: Info) -> list[ConfigurationItem]:
        rows = await _linked(info, PROBLEM, self, "AT_FAULT", Direction.OUT, CI.label)
        return [ConfigurationItem.from_props(r) for r in rows]

    @strawberry.field(description="The incident it was opened from (TRIGGERED_BY), if any.")
    async def triggered_by(self, info: Info) -> Incident | None:
        rows = await _linked(info, PROBLEM, self, "TRIGGERED_BY", Direction.OUT, INCIDENT.label)
        found = _incidents(rows)
        return found[0] if found else None

    @strawberry.field(
        description="Every incident linked to it as caused by it (CAUSED_BY), the source included."
    )
    async def incidents(self, info: Info) -> list[Incident]:
        rows = await _linked(info, PROBLEM, self, "CAUSED_BY", Direction.IN, INCIDENT.label)
        return _incidents(rows)

    @strawberry.field(
        description="Incidents proposed as caused by it (PROPOSED_FOR), waiting to be accepted."
    )
    async def proposed_incidents(self, info: Info) -> list[Incident]:
        rows = await _linked(info, PROBLEM, self, "PROPOSED_FOR", Direction.IN, INCIDENT.label)
        return _incidents(rows)

    @strawberry.field(description="The known errors that document it.")
    async def known_errors(self, info: Info) -> list[KnownErrorNode]:
        return await _nodes(info, self, "DOCUMENTS", Direction.IN, KnownErrorNode)

    @strawberry.field(description="The changes that address it.")
    async def changes(self, info: Info) -> list[Change]:
        from schema.changes import ChangeNode

        rows = await _linked(info, PROBLEM, self, "ADDRESSES", Direction.IN, "Change")
        return [ChangeNode.from_props(r) for r in rows]

    @strawberry.field(
        description="The deployed release that shipped its fix: one whose changes address it "
        "or fix a known error documenting it (the latest, if several)."
    )
    async def fixed_by(self, info: Info) -> Release | None:
        from schema.releases import ReleaseNode

        loader = info.context.loaders.keyed("problem.fixedBy", _fixed_by)
        found = await loader.load(record_id(str(self.id), PROBLEM.label))
        return ReleaseNode.from_props(found) if found else None


@strawberry.type(name="ProblemPolicy", description=POLICY.description)
class ProblemPolicyNode:
    recurrence_count: int = described(POLICY, "recurrenceCount")
    recurrence_window_hours: int = described(POLICY, "recurrenceWindowHours")
    upstream_recurrence: bool = described(POLICY, "upstreamRecurrence")
    major_incident_trigger: bool = described(POLICY, "majorIncidentTrigger")
    outage_trigger: bool = described(POLICY, "outageTrigger")
    link_mode: LinkMode = described(POLICY, "linkMode")
    version: int | None = strawberry.field(
        description="The stored policy's version; null while the defaults apply."
    )


__all__ = ["LinkMode", "ProblemNode", "ProblemPolicyNode", "ProblemStateEnum", "Trigger"]
