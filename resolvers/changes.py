"""Resolvers for Change Management: the kernel's fields with the domain's rules for changes,
templates and freeze windows, and the approval mutations. The rules are `domain.changes`'."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from core.changes import CHANGE, CHANGE_TEMPLATE, FREEZE_WINDOW, Decision
from core.ids import record_id
from core.incidents import INCIDENT
from domain import records
from domain.changes import lifecycle, proposals
from domain.changes import policy as policies
from resolvers.payloads import refusals_in_payload
from resolvers.records import (
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.changes import ApprovalRole, ChangeNode, ChangeTemplateNode, FreezeWindowNode
from schema.common import MutationPayload
from schema.context import Info
from schema.records import stored


@strawberry.input(description="A decision on a change in one approval role.")
class ChangeDecisionInput:
    id: strawberry.ID = strawberry.field(description="The change (global or stored id).")
    approval_role: ApprovalRole = strawberry.field(
        description="In which capacity: change_manager needs a manager."
    )
    comment: str | None = strawberry.field(default=None, description="Why; required to reject.")


@strawberry.type(description="The answer to approveChange or rejectChange.")
class ChangeDecisionPayload(MutationPayload):
    change: ChangeNode | None = strawberry.field(default=None, description="The change after.")


@strawberry.input(description="Accept a proposed change as an incident's cause.")
class AcceptChangeProposalInput:
    incident: strawberry.ID = strawberry.field(description="The incident.")
    change: strawberry.ID = strawberry.field(description="The change that caused it.")


@strawberry.type(description="The answer to acceptChangeProposal.")
class AcceptChangeProposalPayload(MutationPayload):
    change: ChangeNode | None = strawberry.field(default=None, description="The causing change.")


@strawberry.type(description="Change figures of one service or team over a period.")
class ChangeMetric:
    kind: str = strawberry.field(description="service or team.")
    id: strawberry.ID = strawberry.field(description="The service's or team's stored id.")
    name: str | None = strawberry.field(description="Its name.")
    changes: int = strawberry.field(description="Changes implemented on it in the period.")
    failed: int = strawberry.field(description="Of those, failed or causing an incident.")
    change_failure_rate: float = strawberry.field(description="failed / changes.")
    mean_time_to_restore_minutes: float | None = strawberry.field(
        description="Mean minutes from opening to resolution of the incidents they caused."
    )


@strawberry.type(name="ChangePolicy", description="How far back changes are looked for.")
class ChangePolicyNode:
    proposal_window_hours: int = strawberry.field(
        description="Changes implemented this many hours before an incident opens are proposed "
        "as its causes."
    )
    following_incident_hours: int = strawberry.field(
        description="An incident within this many hours after a change on its CI counts "
        "against the CI's change history."
    )
    version: int | None = strawberry.field(
        description="The stored policy's version; null while the defaults apply."
    )


@strawberry.input(description="The change policy to set; what is left out stays.")
class SetChangePolicyInput:
    proposal_window_hours: int | None = strawberry.field(
        default=None, description="1 to 8784 hours."
    )
    following_incident_hours: int | None = strawberry.field(
        default=None, description="1 to 8784 hours."
    )
    version: int | None = strawberry.field(
        default=None, description="The policy's version you read, to refuse a stale change."
    )


@strawberry.type(description="The answer to setChangePolicy.")
class SetChangePolicyPayload(MutationPayload):
    policy: ChangePolicyNode | None = strawberry.field(
        default=None, description="The policy as it now stands."
    )


def _policy(info: Info) -> ChangePolicyNode:
    ctx = info.context
    found = policies.stored_policy(ctx.store, ctx.actor)
    return ChangePolicyNode(
        proposal_window_hours=int(found["proposalWindowHours"]),
        following_incident_hours=int(found["followingIncidentHours"]),
        version=found.get("version"),
    )


async def _decide(info: Info, input: ChangeDecisionInput, decision: Decision) -> Any:
    ctx = info.context
    change_id = record_id(str(input.id), CHANGE.label, field="id")
    found = await ctx.run(
        lifecycle.decide,
        ctx.store,
        ctx.actor,
        change_id,
        stored(input.approval_role),
        decision,
        input.comment,
    )
    return ChangeDecisionPayload(change=ChangeNode.from_props(found))


@strawberry.type
class ChangeQuery:
    change = record_field(CHANGE, ChangeNode, ChangeNode.from_props)
    changes = connection_field(
        CHANGE,
        ChangeNode,
        ChangeNode.from_props,
        description="Changes, sorted by number, planned start or end.",
    )
    change_template = record_field(CHANGE_TEMPLATE, ChangeTemplateNode)
    change_templates = connection_field(
        CHANGE_TEMPLATE, ChangeTemplateNode, description="Pre-approved change templates."
    )

    @strawberry.field(
        description="Change failure rate and mean time to restore per service and per team, "
        "from changes implemented in [from, to) and the incidents linked to them as caused."
    )
    async def change_metrics(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Start.")],
        to: Annotated[datetime, strawberry.argument(description="End (excluded).")],
    ) -> list[ChangeMetric]:
        ctx = info.context
        rows = await ctx.run(proposals.metrics, ctx.store, ctx.actor, from_, to)
        return [ChangeMetric(**{**r, "id": strawberry.ID(r["id"])}) for r in rows]

    @strawberry.field(description="The change policy in force (its defaults until set).")
    async def change_policy(self, info: Info) -> ChangePolicyNode:
        return await info.context.run(_policy, info)

    freeze_window = record_field(FREEZE_WINDOW, FreezeWindowNode)
    freeze_windows = connection_field(
        FREEZE_WINDOW, FreezeWindowNode, description="Freeze windows."
    )


@strawberry.type
class ChangeMutation:
    create_change = create_field(
        CHANGE,
        ChangeNode,
        ChangeNode.from_props,
        also=lifecycle.saved,
        description="Raise a change; its risk and conflicts are computed as it is saved.",
    )
    update_change = update_field(
        CHANGE,
        ChangeNode,
        ChangeNode.from_props,
        also=lifecycle.saved,
        description="Change a change; its risk and conflicts are computed again.",
    )
    transition_change = transition_field(
        CHANGE,
        ChangeNode,
        ChangeNode.from_props,
        transition=lifecycle.transition_change,
        description="Move a change along its states; a missing approval, a conflict without "
        "overrideConflicts or a missing outcome is refused naming it.",
    )
    create_change_template = create_field(CHANGE_TEMPLATE, ChangeTemplateNode)
    update_change_template = update_field(CHANGE_TEMPLATE, ChangeTemplateNode)
    create_freeze_window = create_field(FREEZE_WINDOW, FreezeWindowNode)
    update_freeze_window = update_field(FREEZE_WINDOW, FreezeWindowNode)

    @strawberry.mutation(description="Link an incident to the change that caused it.")
    @refusals_in_payload(AcceptChangeProposalPayload)
    async def accept_change_proposal(
        self,
        info: Info,
        input: Annotated[
            AcceptChangeProposalInput, strawberry.argument(description="Which and which.")
        ],
    ) -> AcceptChangeProposalPayload:
        ctx = info.context
        incident_id = record_id(str(input.incident), INCIDENT.label, field="incident")
        change_id = record_id(str(input.change), CHANGE.label, field="change")
        await ctx.run(proposals.accept_proposal, ctx.store, ctx.actor, incident_id, change_id)
        found = await ctx.run(records.by_ids, ctx.store, ctx.actor, CHANGE, [change_id])
        return AcceptChangeProposalPayload(change=ChangeNode.from_props(found[change_id]))

    @strawberry.mutation(
        description="Set the change policy. Needs the service level manager's role."
    )
    @refusals_in_payload(SetChangePolicyPayload)
    async def set_change_policy(
        self,
        info: Info,
        input: Annotated[SetChangePolicyInput, strawberry.argument(description="The policy.")],
    ) -> SetChangePolicyPayload:
        ctx = info.context
        values = {
            "proposalWindowHours": input.proposal_window_hours,
            "followingIncidentHours": input.following_incident_hours,
        }
        await ctx.run(
            lambda: policies.set_policy(
                ctx.store,
                ctx.actor,
                {k: v for k, v in values.items() if v is not None},
                version=input.version,
            )
        )
        return SetChangePolicyPayload(policy=await ctx.run(_policy, info))

    @strawberry.mutation(description="Approve a change in one approval role.")
    @refusals_in_payload(ChangeDecisionPayload)
    async def approve_change(
        self,
        info: Info,
        input: Annotated[ChangeDecisionInput, strawberry.argument(description="The decision.")],
    ) -> ChangeDecisionPayload:
        result: ChangeDecisionPayload = await _decide(info, input, Decision.APPROVED)
        return result

    @strawberry.mutation(description="Reject a change in one approval role, saying why.")
    @refusals_in_payload(ChangeDecisionPayload)
    async def reject_change(
        self,
        info: Info,
        input: Annotated[ChangeDecisionInput, strawberry.argument(description="The decision.")],
    ) -> ChangeDecisionPayload:
        result: ChangeDecisionPayload = await _decide(info, input, Decision.REJECTED)
        return result
