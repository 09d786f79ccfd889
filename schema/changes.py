"""Change Management in GraphQL: changes with their CIs, approvals, risk terms and conflicts;
change templates and freeze windows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from core import changes as declared
from core.changes import CHANGE, CHANGE_TEMPLATE, FREEZE_WINDOW
from core.ids import record_id, to_global_id
from core.record_types import CI
from core.records import Direction, RecordType
from domain.changes import lifecycle
from schema.cmdb import ConfigurationItem
from schema.common import Node
from schema.context import Info
from schema.records import described, state_enum, values_enum
from schema.service_level import _linked, _Served

if TYPE_CHECKING:
    from core.changes import ApprovalRole, ChangeType, Decision, Outcome, RiskLevel
    from schema.incidents import IncidentNode
    from schema.known_errors import KnownErrorNode
    from schema.problems import ProblemNode
else:
    ChangeType = values_enum(declared.ChangeType)
    Outcome = values_enum(declared.Outcome)
    RiskLevel = values_enum(declared.RiskLevel)
    ApprovalRole = values_enum(declared.ApprovalRole)
    Decision = values_enum(declared.Decision)

ChangeStateEnum = state_enum(CHANGE)
Incident = Annotated["IncidentNode", strawberry.lazy("schema.incidents")]
Problem = Annotated["ProblemNode", strawberry.lazy("schema.problems")]
KnownError = Annotated["KnownErrorNode", strawberry.lazy("schema.known_errors")]


@strawberry.type(description="One term of a change's risk: what it scores and why.")
class RiskTerm:
    term: str = strawberry.field(
        description="blast_radius, criticality, agreements, change_type or history."
    )
    score: int = strawberry.field(description="What it adds to the risk score.")
    reason: str = strawberry.field(description="Why, in words a person can check.")


@strawberry.type(description="Another change or a window that collides with a change's window.")
class ChangeConflict:
    kind: str = strawberry.field(
        description="change, freeze (blocks scheduling) or maintenance (listed only)."
    )
    other_id: strawberry.ID = strawberry.field(description="The other record's global id.")
    other_number: str | None = strawberry.field(description="Its number (CHG…, FRZ…, MW…).")
    title: str | None = strawberry.field(description="Its title.")
    start: datetime | None = strawberry.field(description="Its start.")
    end: datetime | None = strawberry.field(description="Its end.")
    ci: str = strawberry.field(description="The CI of this change the conflict reaches.")
    path: list[str] = strawberry.field(
        description="The CIs between this change's CI and the other's (names, in order)."
    )


@strawberry.type(description="One approver's decision on a change.")
class ChangeApprovalEntry:
    approval_role: ApprovalRole = strawberry.field(description="In which capacity.")
    decision: Decision = strawberry.field(description="What was decided.")
    approver: str = strawberry.field(description="Who decided.")
    approver_role: str | None = strawberry.field(description="Their access role.")
    comment: str | None = strawberry.field(description="Why.")
    at: datetime = strawberry.field(description="When.")


def _native(value: Any) -> Any:
    return getattr(value, "to_native", lambda: value)()


@strawberry.type(name="ChangeTemplate", description=CHANGE_TEMPLATE.description)
class ChangeTemplateNode(Node, _Served):
    record: ClassVar[RecordType] = CHANGE_TEMPLATE
    number: str = described(CHANGE_TEMPLATE, "number")
    name: str = described(CHANGE_TEMPLATE, "name")
    description: str | None = described(CHANGE_TEMPLATE, "description")
    active: bool | None = described(CHANGE_TEMPLATE, "active")
    version: int = described(CHANGE_TEMPLATE, "version")


@strawberry.type(name="FreezeWindow", description=FREEZE_WINDOW.description)
class FreezeWindowNode(Node, _Served):
    record: ClassVar[RecordType] = FREEZE_WINDOW
    number: str = described(FREEZE_WINDOW, "number")
    title: str = described(FREEZE_WINDOW, "title")
    start: datetime = described(FREEZE_WINDOW, "start")
    end: datetime = described(FREEZE_WINDOW, "end")
    reason: str | None = described(FREEZE_WINDOW, "reason")
    is_global: bool | None = described(FREEZE_WINDOW, "isGlobal")
    version: int = described(FREEZE_WINDOW, "version")

    @strawberry.field(description="The CIs or services frozen.")
    async def cis(self, info: Info) -> list[ConfigurationItem]:
        rows = await _linked(info, FREEZE_WINDOW, self, "FREEZES", Direction.OUT, CI.label)
        return [ConfigurationItem.from_props(r) for r in rows]


@strawberry.type(name="Change", description=CHANGE.description)
class ChangeNode(Node, _Served):
    record: ClassVar[RecordType] = CHANGE
    number: str = described(CHANGE, "number")
    title: str = described(CHANGE, "title")
    description: str | None = described(CHANGE, "description")
    change_type: ChangeType = described(CHANGE, "changeType")
    state: ChangeStateEnum = described(CHANGE, "state")  # type: ignore[valid-type]
    planned_start: datetime | None = described(CHANGE, "plannedStart")
    planned_end: datetime | None = described(CHANGE, "plannedEnd")
    implemented_at: datetime | None = described(CHANGE, "implementedAt")
    outcome: Outcome | None = described(CHANGE, "outcome")
    risk: RiskLevel | None = described(CHANGE, "risk")
    risk_score: int | None = described(CHANGE, "riskScore")
    risk_explanation: str | None = described(CHANGE, "riskExplanation")
    conflict_count: int | None = described(CHANGE, "conflictCount")
    approved_roles: list[str] | None = described(CHANGE, "approvedRoles")
    rejected_roles: list[str] | None = described(CHANGE, "rejectedRoles")
    version: int = described(CHANGE, "version")
    created_at: datetime | None = described(CHANGE, "createdAt")
    risk_terms_json: strawberry.Private[str | None] = None

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> ChangeNode:
        shown = {k: v for k, v in props.items() if k != "riskTerms"}
        node = super().from_props(shown)
        node.risk_terms_json = props.get("riskTerms")
        return node

    @strawberry.field(description="Its risk, term by term, recomputed on every save.")
    def risk_terms(self) -> list[RiskTerm]:
        return [RiskTerm(**t) for t in json.loads(self.risk_terms_json or "[]")]

    @strawberry.field(description="The CIs it modifies.")
    async def cis(self, info: Info) -> list[ConfigurationItem]:
        rows = await _linked(info, CHANGE, self, "MODIFIES", Direction.OUT, CI.label)
        return [ConfigurationItem.from_props(r) for r in rows]

    @strawberry.field(description="The known errors it is expected to fix.")
    async def fixes(self, info: Info) -> list[KnownError]:
        from schema.known_errors import KnownErrorNode

        rows = await _linked(info, CHANGE, self, "FIXES", Direction.OUT, "KnownError")
        return [KnownErrorNode.from_props(r) for r in rows]

    @strawberry.field(description="The incidents it addresses.")
    async def addressed_incidents(self, info: Info) -> list[Incident]:
        from schema.incidents import IncidentNode

        rows = await _linked(info, CHANGE, self, "ADDRESSES", Direction.OUT, "Incident")
        return [IncidentNode.from_props(r) for r in rows]

    @strawberry.field(description="The problems it addresses.")
    async def addressed_problems(self, info: Info) -> list[Problem]:
        from schema.problems import ProblemNode

        rows = await _linked(info, CHANGE, self, "ADDRESSES", Direction.OUT, "Problem")
        return [ProblemNode.from_props(r) for r in rows]

    @strawberry.field(description="The template of a standard change.")
    async def template(self, info: Info) -> ChangeTemplateNode | None:
        rows = await _linked(
            info, CHANGE, self, "USES_TEMPLATE", Direction.OUT, CHANGE_TEMPLATE.label
        )
        return ChangeTemplateNode.from_props(rows[0]) if rows else None

    @strawberry.field(description="Its approvals and rejections, oldest first.")
    async def approvals(self, info: Info) -> list[ChangeApprovalEntry]:
        ctx = info.context
        change_id = record_id(str(self.id), CHANGE.label)
        found = await ctx.run(lifecycle.approvals_of, ctx.store, ctx.actor, [change_id])
        return [
            ChangeApprovalEntry(
                approval_role=a["approvalRole"],
                decision=a["decision"],
                approver=a["approver"],
                approver_role=a.get("approverRole"),
                comment=a.get("comment"),
                at=_native(a["at"]),
            )
            for a in found[change_id]
        ]

    @strawberry.field(
        description="What collides with its planned window now: other live changes on its CIs "
        "or anywhere in their dependency chain, freeze windows, maintenance windows on services "
        "above them. Changes and freezes block scheduling a normal change without "
        "overrideConflicts."
    )
    async def conflicts(self, info: Info) -> list[ChangeConflict]:
        ctx = info.context
        change_id = record_id(str(self.id), CHANGE.label)
        found = await ctx.run(lifecycle.conflicts_of, ctx.store, ctx.actor, change_id)
        labels = {"change": "Change", "freeze": "FreezeWindow", "maintenance": "MaintenanceWindow"}
        return [
            ChangeConflict(
                kind=c["kind"],
                other_id=strawberry.ID(to_global_id(labels[c["kind"]], c["otherId"])),
                other_number=c["otherNumber"],
                title=c["title"],
                start=_native(c["start"]),
                end=_native(c["end"]),
                ci=c["ci"],
                path=list(c["path"]),
            )
            for c in found
        ]


__all__ = [
    "ApprovalRole",
    "ChangeNode",
    "ChangeTemplateNode",
    "FreezeWindowNode",
]
