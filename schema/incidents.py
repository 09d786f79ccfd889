"""Incidents in GraphQL: the Incident type with the records it is linked to, the agreement that
governs it, and the incident policy.

The Incident type is assembled from the modules that serve its parts: its clocks
(`schema.incident_clock`), what was sent about it (`schema.notifications`) and what it affects and
who reported it (`schema.service_desk`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import strawberry

from core import incidents as declared
from core import priority as priorities
from core.ids import record_id
from core.incidents import INCIDENT, POLICY
from core.records import Direction, RecordType
from domain.incidents import lifecycle
from domain.incidents import policy as policies
from schema.alert_fields import IncidentAlertFields
from schema.change_fields import IncidentChangeFields
from schema.cmdb import ConfigurationItem
from schema.common import Node
from schema.context import Info
from schema.incident_clock import IncidentClockFields
from schema.known_error_fields import IncidentKnownErrorFields
from schema.notifications import IncidentNotificationFields
from schema.problem_fields import IncidentProblemFields
from schema.records import described, node_values, state_enum, values_enum
from schema.service_desk import IncidentScopeFields
from schema.service_level import OLANode, PersonNode, SLANode, TeamNode, _nodes, _Served

if TYPE_CHECKING:
    from core.incidents import Channel, HoldReason, Level, ResolutionCode, SlaStage
    from core.priority import Priority
else:
    Level = values_enum(declared.Level)
    Channel = values_enum(declared.Channel)
    HoldReason = values_enum(declared.HoldReason)
    ResolutionCode = values_enum(declared.ResolutionCode)
    SlaStage = values_enum(declared.SlaStage)
    Priority = values_enum(priorities.Priority)

IncidentState = state_enum(INCIDENT)


@strawberry.type(description="The agreement whose clocks an incident runs, fixed when it opened.")
class IncidentGovernance:
    sla: SLANode | None = strawberry.field(description="The SLA that governs it.")
    ola: OLANode | None = strawberry.field(description="The OLA behind the SLA.")
    terms_id: strawberry.ID | None = strawberry.field(
        description="The id of the AgreementTerms version whose targets apply."
    )
    terms_version: int | None = strawberry.field(description="That version's number.")


async def _governance_of(info: Info, incident_id: str) -> dict[str, Any]:
    ctx = info.context

    async def load(context: Any, keys: Sequence[str]) -> list[dict[str, Any]]:
        found = await context.run(lifecycle.governance_of, context.store, context.actor, keys)
        return [found.get(k, {}) for k in keys]

    loader = ctx.loaders.keyed("incident_governance", load)
    row: dict[str, Any] = await loader.load(incident_id)
    return row


async def _one(info: Info, node: Any, rel_type: str, other: type[Any]) -> Any:
    found = await _nodes(info, node, rel_type, Direction.OUT, other)
    return found[0] if found else None


@strawberry.type(name="Incident", description=INCIDENT.description)
class IncidentNode(
    Node,
    _Served,
    IncidentClockFields,
    IncidentNotificationFields,
    IncidentScopeFields,
    IncidentAlertFields,
    IncidentChangeFields,
    IncidentProblemFields,
    IncidentKnownErrorFields,
):
    record: ClassVar[RecordType] = INCIDENT
    number: str = described(INCIDENT, "number")
    title: str = described(INCIDENT, "title")
    description: str | None = described(INCIDENT, "description")
    impact: Level = described(INCIDENT, "impact")
    urgency: Level = described(INCIDENT, "urgency")
    priority: Priority | None = described(INCIDENT, "priority")
    priority_reason: str | None = described(INCIDENT, "priorityReason")
    routing_reason: str | None = described(INCIDENT, "routingReason")
    major: bool = described(INCIDENT, "major")
    channel: Channel | None = described(INCIDENT, "channel")
    caller_name: str | None = described(INCIDENT, "callerName")
    state: IncidentState = described(INCIDENT, "state")  # type: ignore[valid-type]
    hold_reason: HoldReason | None = described(INCIDENT, "holdReason")
    resolution_code: ResolutionCode | None = described(INCIDENT, "resolutionCode")
    resolution_notes: str | None = described(INCIDENT, "resolutionNotes")
    reassignment_count: int = described(INCIDENT, "reassignmentCount")
    response_due_at: datetime | None = described(INCIDENT, "responseDueAt")
    resolution_due_at: datetime | None = described(INCIDENT, "resolutionDueAt")
    responded_at: datetime | None = described(INCIDENT, "respondedAt")
    resolved_at: datetime | None = described(INCIDENT, "resolvedAt")
    closed_at: datetime | None = described(INCIDENT, "closedAt")
    reopen_until: datetime | None = described(INCIDENT, "reopenUntil")
    sla_stage: SlaStage | None = described(INCIDENT, "slaStage")
    version: int = described(INCIDENT, "version")
    created_at: datetime | None = described(INCIDENT, "createdAt")
    updated_at: datetime | None = described(INCIDENT, "updatedAt")

    @strawberry.field(description="The CI (or Service) that is broken.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        loader = info.context.loaders.linked(INCIDENT, "AFFECTS", Direction.OUT, "CI")
        rows = await loader.load(record_id(str(self.id), INCIDENT.label))
        return ConfigurationItem.from_props(rows[0]) if rows else None

    @strawberry.field(description="The team that works it.")
    async def team(self, info: Info) -> TeamNode | None:
        return await _one(info, self, "ASSIGNED_TO", TeamNode)  # type: ignore[no-any-return]

    @strawberry.field(description="The person who works it.")
    async def assignee(self, info: Info) -> PersonNode | None:
        return await _one(info, self, "WORKED_BY", PersonNode)  # type: ignore[no-any-return]

    @strawberry.field(description="Who reported it, when they are a known person.")
    async def caller(self, info: Info) -> PersonNode | None:
        return await _one(info, self, "REPORTED_BY", PersonNode)  # type: ignore[no-any-return]

    @strawberry.field(
        description="The SLA, OLA and terms version it is governed by; null when no active SLA "
        "with a target at its priority covered a Service its CI takes down when it opened."
    )
    async def governed_by(self, info: Info) -> IncidentGovernance | None:
        row = await _governance_of(info, record_id(str(self.id), INCIDENT.label))
        if not row or row.get("sla") is None:
            return None
        terms = row.get("terms")
        return IncidentGovernance(
            sla=SLANode.from_props(row["sla"]),
            ola=OLANode.from_props(row["ola"]) if row.get("ola") else None,
            terms_id=strawberry.ID(terms["id"]) if terms else None,
            terms_version=terms["version"] if terms else None,
        )


@strawberry.type(name="IncidentPolicy", description=POLICY.description)
class IncidentPolicyNode:
    matrix: list[str] = described(POLICY, "matrix")
    criticality_floors: list[str] = described(POLICY, "criticalityFloors")
    reopen_window_hours: int = described(POLICY, "reopenWindowHours")
    version: int | None = strawberry.field(
        default=None, description="The policy's version; null while the defaults apply."
    )
    is_default: bool = strawberry.field(
        default=True, description="True until a manager sets a policy: the defaults apply."
    )
    major_incident_team: TeamNode | None = strawberry.field(
        default=None, description=POLICY.link_fields[0].description
    )


def policy_node(
    policy: policies.Policy, stored: dict[str, Any] | None, team: dict[str, Any] | None
) -> IncidentPolicyNode:
    return IncidentPolicyNode(
        matrix=[f"{i}/{u}={p}" for (i, u), p in policy.matrix.items()],
        criticality_floors=[f"{c}={p}" for c, p in policy.floors.items()],
        reopen_window_hours=int(policy.reopen_window.total_seconds() // 3600),
        version=stored["version"] if stored else None,
        is_default=stored is None,
        major_incident_team=TeamNode.from_props(team) if team else None,
    )


__all__ = ["IncidentNode", "IncidentPolicyNode", "node_values"]
