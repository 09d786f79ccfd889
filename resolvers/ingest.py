"""Resolvers for events and samples coming in through GraphQL: the same checks and queue as the
HTTP endpoints (`domain.ingest`), with the inputs put in the endpoints' shape first."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from domain import ingest
from resolvers.payloads import refusals_in_payload
from schema.context import Info
from schema.ingest import (
    RecordMetricsInput,
    RecordMetricsPayload,
    RejectedItem,
    SendEventsInput,
    SendEventsPayload,
)
from schema.records import stored


def _event(given: Any) -> dict[str, Any]:
    payload = {
        "summary": given.summary,
        "source": given.source,
        "severity": stored(given.severity) if given.severity is not None else None,
        "timestamp": given.timestamp.isoformat() if given.timestamp is not None else None,
        "component": given.component,
        "group": given.group,
        "class": given.class_,
        "custom_details": given.custom_details,
        "ci": given.ci_id if given.ci_id is not None else given.ci,
    }
    return {
        "event_action": stored(given.event_action),
        "dedup_key": given.dedup_key,
        "payload": {k: v for k, v in payload.items() if v is not None},
    }


def _sample(given: Any) -> dict[str, Any]:
    return {
        "ciId": given.ci_id,
        "ci": given.ci,
        "metric": given.metric,
        "value": given.value,
        "time": given.time.isoformat(),
    }


# The endpoints' field names as the GraphQL input spells them.
_GRAPHQL_NAMES = {
    "payload.": "",
    "event_action": "eventAction",
    "dedup_key": "dedupKey",
    "custom_details": "customDetails",
}


def _graphql_field(where: str) -> str:
    for name, graphql in _GRAPHQL_NAMES.items():
        where = where.replace(name, graphql)
    return where


def _rejected(rejected: list[ingest.Rejection]) -> list[RejectedItem]:
    return [
        RejectedItem(index=r.index, field=_graphql_field(r.field), code=r.code, message=r.message)
        for r in rejected
    ]


@strawberry.type
class IngestMutation:
    @strawberry.mutation(
        description="Queue events for de-duplication into alerts (PagerDuty Events v2 in "
        "GraphQL). Each event is checked on its own: the valid ones are queued, the others "
        "answered in `rejected`. Fails with BROKER_UNAVAILABLE, accepting nothing, when the "
        "queue does not take the batch."
    )
    @refusals_in_payload(SendEventsPayload)
    async def send_events(
        self,
        info: Info,
        input: Annotated[SendEventsInput, strawberry.argument(description="The events.")],
    ) -> SendEventsPayload:
        ctx = info.context
        ingest.may_send(ctx.actor)
        items = [_event(e) for e in input.events]
        batch = await ctx.run(ingest.accept_events, ctx.store, items)
        return SendEventsPayload(
            accepted=len(batch.events),
            dedup_keys=batch.dedup_keys,
            rejected=_rejected(batch.rejected),
        )

    @strawberry.mutation(
        description="Queue metric samples for threshold evaluation. Each sample is checked on "
        "its own: the valid ones are queued, the others answered in `rejected`. Fails with "
        "BROKER_UNAVAILABLE, accepting nothing, when the queue does not take the batch."
    )
    @refusals_in_payload(RecordMetricsPayload)
    async def record_metrics(
        self,
        info: Info,
        input: Annotated[RecordMetricsInput, strawberry.argument(description="The samples.")],
    ) -> RecordMetricsPayload:
        ctx = info.context
        ingest.may_send(ctx.actor)
        items = [_sample(s) for s in input.samples]
        batch = await ctx.run(ingest.accept_samples, ctx.store, items)
        return RecordMetricsPayload(accepted=len(batch.samples), rejected=_rejected(batch.rejected))
