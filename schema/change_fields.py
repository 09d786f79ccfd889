"""The fields Change Management adds to other processes' types: an incident's proposed and
accepted causing changes and the changes that touched its CI, a CI's changes. The Change type is
referred to lazily, since it refers to CIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from core.changes import CHANGE
from core.ids import record_id
from core.incidents import INCIDENT
from core.record_types import CI
from core.records import Direction
from domain.changes import proposals
from graphdb.write_path import now
from schema.context import Context, Info

if TYPE_CHECKING:
    from schema.changes import ChangeNode

Change = Annotated["ChangeNode", strawberry.lazy("schema.changes")]


@strawberry.type(description="A change proposed as the likely cause of an incident.")
class ChangeProposal:
    rank: int = strawberry.field(description="1 is the likeliest: fewest hops, then newest.")
    hops: int = strawberry.field(description="How far up from the incident's CI its CI is.")
    reason: str = strawberry.field(description="Why it is proposed.")
    accepted: bool = strawberry.field(description="Whether it was accepted as the cause.")
    change: Change = strawberry.field(description="The change.")


def _change(props: dict[str, Any]) -> Any:
    from schema.changes import ChangeNode

    return ChangeNode.from_props(props)


_DAYS = strawberry.argument(description="How many days back, 0 to 3660.")


@strawberry.type
class IncidentChangeFields:
    """Fields of the Incident type that Change Management serves."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(
        description="Changes implemented on its CI or upstream within the policy's window "
        "(72 h by default) before it opened, proposed as causes as it opened."
    )
    async def change_proposals(self, info: Info) -> list[ChangeProposal]:
        ctx = info.context
        incident_id = record_id(str(self.id), INCIDENT.label)
        found = await ctx.run(proposals.proposals_of, ctx.store, ctx.actor, [incident_id])
        return [
            ChangeProposal(
                rank=p["rank"],
                hops=p["hops"],
                reason=p["reason"],
                accepted=p["accepted"],
                change=_change(dict(p["change"])),
            )
            for p in found[incident_id]
        ]

    @strawberry.field(description="The changes accepted as its cause.")
    async def causing_changes(self, info: Info) -> list[Change]:
        loader = info.context.loaders.linked(
            INCIDENT, "CAUSED_BY_CHANGE", Direction.OUT, CHANGE.label
        )
        rows = await loader.load(record_id(str(self.id), INCIDENT.label))
        return [_change(r) for r in rows]

    @strawberry.field(
        description="Changes implemented in the last `days` on its CI or anything it depends "
        "on, newest first."
    )
    async def changes_touching(self, info: Info, days: Annotated[int, _DAYS] = 7) -> list[Change]:
        ctx = info.context
        incident_id = record_id(str(self.id), INCIDENT.label)
        ci_id = await ctx.run(proposals.incident_ci, ctx.store, ctx.actor, incident_id)
        if ci_id is None:
            return []
        found = await ctx.run(proposals.touching, ctx.store, ctx.actor, [ci_id], days, True, now())
        return [_change(r) for r in found[ci_id]]


@strawberry.type
class CIChangeFields:
    """Fields of the CI type that Change Management serves."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(description="Changes implemented on it in the last `days`, newest first.")
    async def changes(
        self,
        info: Info,
        days: Annotated[int, _DAYS] = 30,
        upstream: Annotated[
            bool, strawberry.argument(description="Also changes on what it depends on.")
        ] = False,
    ) -> list[Change]:
        # One read for every CI of the request that asks with the same arguments.
        async def load(ctx: Context, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
            found = await ctx.run(
                proposals.touching, ctx.store, ctx.actor, ids, days, upstream, now()
            )
            return [found[i] for i in ids]

        loader = info.context.loaders.keyed(f"changes.ci.{days}.{upstream}", load)
        rows = await loader.load(record_id(str(self.id), CI.label))
        return [_change(r) for r in rows]
