"""What was sent about the incident: each delivery (an address on a channel) and its tries."""

# Without postponed annotations: the node types are annotated with enums made at run time from
# the declaration (`schema.records`), which Strawberry must see as objects.

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from core.ids import record_id
from core.notifications import (
    DELIVERY_ATTEMPT,
    NOTIFICATION,
    NotificationChannel,
    NotificationState,
)
from domain.notifications import notifications_of
from schema.common import Node
from schema.context import Context, Info
from schema.records import described, node_values, values_enum

NotificationChannelValue = values_enum(NotificationChannel)
NotificationStateValue = values_enum(NotificationState)


@strawberry.type(name="DeliveryAttempt", description=DELIVERY_ATTEMPT.description)
class DeliveryAttemptNode(Node):
    attempt: int = described(DELIVERY_ATTEMPT, "attempt")
    at: datetime = described(DELIVERY_ATTEMPT, "at")
    ok: bool = described(DELIVERY_ATTEMPT, "ok")
    error: str | None = described(DELIVERY_ATTEMPT, "error")
    duration_ms: int = described(DELIVERY_ATTEMPT, "durationMs")


@strawberry.type(name="Notification", description=NOTIFICATION.description)
class NotificationNode(Node):
    channel: NotificationChannelValue = described(NOTIFICATION, "channel")  # type: ignore[valid-type]
    address: str = described(NOTIFICATION, "address")
    reason: str = described(NOTIFICATION, "reason")
    subject: str = described(NOTIFICATION, "subject")
    body: str | None = described(NOTIFICATION, "body")
    state: NotificationStateValue = described(NOTIFICATION, "state")  # type: ignore[valid-type]
    attempt_count: int = strawberry.field(default=0, description="How many tries were made.")
    last_attempt_at: datetime | None = described(NOTIFICATION, "lastAttemptAt")
    sent_at: datetime | None = described(NOTIFICATION, "sentAt")
    last_error: str | None = described(NOTIFICATION, "lastError")
    created_at: datetime = described(NOTIFICATION, "createdAt")
    attempts: list[DeliveryAttemptNode] = strawberry.field(
        default_factory=list, description="Every try, oldest first, with its outcome."
    )

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> "NotificationNode":
        # `attempts` is the stored count; the field of that name lists the tries.
        node = node_values(NOTIFICATION, cls, {k: v for k, v in props.items() if k != "attempts"})
        return dataclasses.replace(
            node,
            attempt_count=int(props.get("attempts") or 0),
            attempts=[
                node_values(DELIVERY_ATTEMPT, DeliveryAttemptNode, t) for t in props["tries"]
            ],
        )


async def _load_incident_notifications(
    ctx: Context, ids: Sequence[str]
) -> list[list[dict[str, Any]]]:
    found = await ctx.run(notifications_of, ctx.store, ctx.actor, "Incident", ids)
    return [found[i] for i in ids]


@strawberry.type
class IncidentNotificationFields:
    """Fields of the Incident type that this module serves."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(
        description="What was sent about the incident (a major incident, escalations, warnings "
        "and breaches), oldest first: one entry per address and channel, with every try; for "
        "those who work records, since it shows people's addresses."
    )
    async def notifications(self, info: Info) -> list[NotificationNode]:
        loader = info.context.loaders.keyed("notifications.incident", _load_incident_notifications)
        rows = await loader.load(record_id(self.id, "Incident"))
        return [NotificationNode.from_props(r) for r in rows]
