"""Resolvers for incidents: one by id or number, the list, open / update / transition (the rules
are `domain.incidents.lifecycle`'s), and the incident policy."""

from __future__ import annotations

from typing import Annotated

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.service_level import TEAM
from domain import records
from domain.incidents import lifecycle
from domain.incidents import policy as policies
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
from schema.incidents import IncidentNode, IncidentPolicyNode, policy_node


@strawberry.input(description="The incident policy to set; what is left out stays.")
class SetIncidentPolicyInput:
    matrix: list[str] | None = strawberry.field(
        default=None,
        description='impact/urgency=priority for all nine pairs, e.g. "high/high=P1".',
    )
    criticality_floors: list[str] | None = strawberry.field(
        default=None,
        description="criticality=priority: the least priority of an incident on such a CI, "
        'e.g. "critical=P2"; [] for none.',
    )
    reopen_window_hours: int | None = strawberry.field(
        default=None, description="How long a resolved incident may be reopened (0 to 2160)."
    )
    major_incident_team: strawberry.ID | None = strawberry.field(
        default=None, description="The team told of every major incident."
    )
    version: int | None = strawberry.field(
        default=None, description="The policy's version you read, to refuse a stale change."
    )


@strawberry.type(description="The answer to setIncidentPolicy.")
class SetIncidentPolicyPayload(MutationPayload):
    policy: IncidentPolicyNode | None = strawberry.field(
        default=None, description="The policy as it now stands."
    )


def _policy(info: Info) -> IncidentPolicyNode:
    ctx = info.context
    policy = policies.read_policy(ctx.store, ctx.actor)
    stored = policies.stored_policy(ctx.store, ctx.actor)
    team = None
    if policy.major_team_id is not None:
        team = records.by_ids(ctx.store, ctx.actor, TEAM, [policy.major_team_id]).get(
            policy.major_team_id
        )
    return policy_node(policy, stored, team)


@strawberry.type
class IncidentQuery:
    incident = record_field(INCIDENT, IncidentNode)
    incidents = connection_field(
        INCIDENT,
        IncidentNode,
        description="Incidents, filtered (state, priority, impact, urgency, major, holdReason, "
        "slaStage, full text) and sorted (by number, priority, due instants, creation).",
        default_order="createdAt",
    )

    @strawberry.field(
        description="How incidents are prioritised, and how long one may be reopened."
    )
    async def incident_policy(self, info: Info) -> IncidentPolicyNode:
        return await info.context.run(_policy, info)


@strawberry.type
class IncidentMutation:
    create_incident = create_field(
        INCIDENT,
        IncidentNode,
        create=lifecycle.open_incident,
        description="Open an incident: prioritised by the policy's matrix (raised by the CI's "
        "criticality and the governing SLA), governed by the SLA that covers the Services its CI "
        "takes down, routed to the team behind that agreement and assigned, its SLA clocks "
        "started; all in one transaction.",
    )
    update_incident = update_field(
        INCIDENT,
        IncidentNode,
        update=lifecycle.update_incident,
        description="Change an incident: a new team is a reassignment (counted); a new impact, "
        "urgency or CI gives a new priority, which re-targets its clocks.",
    )
    transition_incident = transition_field(
        INCIDENT,
        IncidentNode,
        transition=lifecycle.transition_incident,
        description="Move an incident along its life: assign, start, hold (with a holdReason), "
        "resume, resolve (with a resolutionCode and resolutionNotes), reopen (within the reopen "
        "window), close.",
    )

    @strawberry.mutation(
        description="Set the incident policy (the priority matrix, criticality floors, reopen "
        "window, major-incident team). Needs the service level manager's role."
    )
    @refusals_in_payload(SetIncidentPolicyPayload)
    async def set_incident_policy(
        self,
        info: Info,
        input: Annotated[SetIncidentPolicyInput, strawberry.argument(description="The policy.")],
    ) -> SetIncidentPolicyPayload:
        ctx = info.context
        values = {
            "matrix": input.matrix,
            "criticalityFloors": input.criticality_floors,
            "reopenWindowHours": input.reopen_window_hours,
        }
        links = (
            {
                "majorIncidentTeam": [
                    record_id(str(input.major_incident_team), "Team", field="majorIncidentTeam")
                ]
            }
            if input.major_incident_team is not None
            else None
        )
        await ctx.run(
            lambda: policies.set_policy(
                ctx.store,
                ctx.actor,
                {k: v for k, v in values.items() if v is not None},
                links,
                version=input.version,
            )
        )
        return SetIncidentPolicyPayload(policy=await ctx.run(_policy, info))
