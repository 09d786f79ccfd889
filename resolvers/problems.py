"""Resolvers for Problem Management: the kernel's fields with the domain's rules for problems,
linking incidents to them, and the problem policy. The rules are `domain.problems`'."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.problems import PROBLEM
from domain import problems, records
from domain.problems import policy as policies
from domain.problems import triggers
from resolvers.payloads import refusals_in_payload
from resolvers.records import (
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.common import MutationPayload
from schema.context import Info
from schema.problems import LinkMode, ProblemNode, ProblemPolicyNode
from schema.records import stored


@strawberry.input(description="Link an incident to a problem as caused by it.")
class LinkIncidentToProblemInput:
    incident: strawberry.ID = strawberry.field(description="The incident.")
    problem: strawberry.ID = strawberry.field(description="The problem behind it.")


@strawberry.type(description="The answer to linkIncidentToProblem and acceptProblemProposal.")
class LinkIncidentToProblemPayload(MutationPayload):
    problem: ProblemNode | None = strawberry.field(default=None, description="The problem after.")


@strawberry.input(description="The problem policy to set; what is left out stays.")
class SetProblemPolicyInput:
    recurrence_count: int | None = strawberry.field(
        default=None, description="Incidents within the window that open a problem (2 to 1000)."
    )
    recurrence_window_hours: int | None = strawberry.field(
        default=None, description="The window, in hours (1 to 8784)."
    )
    upstream_recurrence: bool | None = strawberry.field(
        default=None, description="Count incidents on CIs that need one upstream CI together."
    )
    major_incident_trigger: bool | None = strawberry.field(
        default=None, description="A resolved major incident opens a problem."
    )
    outage_trigger: bool | None = strawberry.field(
        default=None, description="An outage over what its SLA allows opens a problem."
    )
    link_mode: LinkMode | None = strawberry.field(
        default=None, description="Whether later incidents are linked at once or proposed."
    )
    version: int | None = strawberry.field(
        default=None, description="The policy's version you read, to refuse a stale change."
    )


@strawberry.type(description="The answer to setProblemPolicy.")
class SetProblemPolicyPayload(MutationPayload):
    policy: ProblemPolicyNode | None = strawberry.field(
        default=None, description="The policy as it now stands."
    )


def _policy(info: Info) -> ProblemPolicyNode:
    ctx = info.context
    found = policies.stored_policy(ctx.store, ctx.actor)
    current = policies.policy_of(found)
    return ProblemPolicyNode(
        recurrence_count=current.recurrence_count,
        recurrence_window_hours=int(current.recurrence_window.total_seconds() // 3600),
        upstream_recurrence=current.upstream_recurrence,
        major_incident_trigger=current.major_incident_trigger,
        outage_trigger=current.outage_trigger,
        link_mode=current.link_mode,
        version=found.get("version"),
    )


async def _link(info: Info, input: LinkIncidentToProblemInput, *, proposed: bool) -> Any:
    ctx = info.context
    incident_id = record_id(str(input.incident), INCIDENT.label, field="incident")
    problem_id = record_id(str(input.problem), PROBLEM.label, field="problem")
    run = triggers.accept_proposal if proposed else triggers.link_by_hand
    await ctx.run(run, ctx.store, ctx.actor, incident_id, problem_id)
    found = await ctx.run(records.by_ids, ctx.store, ctx.actor, PROBLEM, [problem_id])
    return LinkIncidentToProblemPayload(problem=ProblemNode.from_props(found[problem_id]))


@strawberry.type
class ProblemQuery:
    problem = record_field(PROBLEM, ProblemNode, ProblemNode.from_props)
    problems = connection_field(
        PROBLEM, ProblemNode, ProblemNode.from_props, description="Problems, by number."
    )

    @strawberry.field(description="The problem policy in force (its defaults until set).")
    async def problem_policy(self, info: Info) -> ProblemPolicyNode:
        return await info.context.run(_policy, info)


@strawberry.type
class ProblemMutation:
    create_problem = create_field(
        PROBLEM,
        ProblemNode,
        ProblemNode.from_props,
        also=problems.saved,
        description="Open a problem by hand (trigger manual); with a root cause and a "
        "workaround it generates its known error.",
    )
    update_problem = update_field(
        PROBLEM,
        ProblemNode,
        ProblemNode.from_props,
        also=problems.saved,
        description="Change a problem; its known error follows in the same transaction.",
    )
    transition_problem = transition_field(
        PROBLEM,
        ProblemNode,
        ProblemNode.from_props,
        also=problems.stepped,
        description="Move a problem along its states; root_cause_known needs a rootCause.",
    )

    @strawberry.mutation(description="Link an incident to a problem as caused by it, by hand.")
    @refusals_in_payload(LinkIncidentToProblemPayload)
    async def link_incident_to_problem(
        self,
        info: Info,
        input: Annotated[
            LinkIncidentToProblemInput, strawberry.argument(description="Which and which.")
        ],
    ) -> LinkIncidentToProblemPayload:
        result: LinkIncidentToProblemPayload = await _link(info, input, proposed=False)
        return result

    @strawberry.mutation(
        description="Accept the proposal that a problem caused an incident: linked as caused."
    )
    @refusals_in_payload(LinkIncidentToProblemPayload)
    async def accept_problem_proposal(
        self,
        info: Info,
        input: Annotated[
            LinkIncidentToProblemInput, strawberry.argument(description="Which and which.")
        ],
    ) -> LinkIncidentToProblemPayload:
        result: LinkIncidentToProblemPayload = await _link(info, input, proposed=True)
        return result

    @strawberry.mutation(
        description="Set the problem policy. Needs the service level manager's role."
    )
    @refusals_in_payload(SetProblemPolicyPayload)
    async def set_problem_policy(
        self,
        info: Info,
        input: Annotated[SetProblemPolicyInput, strawberry.argument(description="The policy.")],
    ) -> SetProblemPolicyPayload:
        ctx = info.context
        values = {
            "recurrenceCount": input.recurrence_count,
            "recurrenceWindowHours": input.recurrence_window_hours,
            "upstreamRecurrence": input.upstream_recurrence,
            "majorIncidentTrigger": input.major_incident_trigger,
            "outageTrigger": input.outage_trigger,
            "linkMode": stored(input.link_mode) if input.link_mode is not None else None,
        }
        await ctx.run(
            lambda: policies.set_policy(
                ctx.store,
                ctx.actor,
                {k: v for k, v in values.items() if v is not None},
                version=input.version,
            )
        )
        return SetProblemPolicyPayload(policy=await ctx.run(_policy, info))
