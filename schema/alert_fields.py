"""The fields Event Management adds to other processes' types: a CI's alerts and whether it is in
maintenance, an incident's alerts. Taken in by the CI and Incident types; the Alert type is
referred to lazily, since it refers to both of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.record_types import CI
from core.records import Direction, RecordType
from domain.events import maintenance
from schema.context import Context, Info

if TYPE_CHECKING:
    from schema.events import AlertNode

Alert = Annotated["AlertNode", strawberry.lazy("schema.events")]
_OPEN = ("triggered", "acknowledged", "flapping")


async def _alerts(info: Info, record: RecordType, node_id: str, rel: str) -> list[Any]:
    from schema.events import AlertNode

    loader = info.context.loaders.linked(record, rel, Direction.IN, "Alert")
    rows: list[dict[str, Any]] = await loader.load(record_id(node_id, record.label))
    rows = sorted(rows, key=lambda r: str(r.get("number")), reverse=True)
    return [AlertNode.from_props(r) for r in rows]


async def _load_in_maintenance(ctx: Context, ids: Sequence[str]) -> list[bool]:
    found = await ctx.run(maintenance.in_maintenance, ctx.store, ctx.actor, ids)
    return [i in found for i in ids]


@strawberry.type
class CIAlertFields:
    """Fields of the CI type that Event Management serves."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(description="Alerts about this CI, newest first.")
    async def alerts(
        self,
        info: Info,
        open: Annotated[
            bool, strawberry.argument(description="Only the open ones (not resolved).")
        ] = False,
    ) -> list[Alert]:
        found = await _alerts(info, CI, str(self.id), "ABOUT")
        return [a for a in found if not open or a.state.value in _OPEN]

    @strawberry.field(
        description="Whether alerts on it are only recorded now: its lifecycle is maintenance, "
        "or a maintenance window on it is active (windows on what it depends on silence its "
        "alerts too, as each alert's suppressionReason says)."
    )
    async def in_maintenance(self, info: Info) -> bool:
        loader = info.context.loaders.keyed("ci.in_maintenance", _load_in_maintenance)
        answer: bool = await loader.load(record_id(str(self.id), CI.label))
        return answer


@strawberry.type
class IncidentAlertFields:
    """Fields of the Incident type that Event Management serves."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(description="The alerts that opened or joined this incident, newest first.")
    async def alerts(self, info: Info) -> list[Alert]:
        return await _alerts(info, INCIDENT, str(self.id), "RAISED")
