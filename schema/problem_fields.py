"""The fields Problem Management adds to the Incident type: the problem behind it, the problems
proposed for it and the ones it triggered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.problems import PROBLEM
from core.records import Direction
from schema.context import Info

if TYPE_CHECKING:
    from schema.problems import ProblemNode

Problem = Annotated["ProblemNode", strawberry.lazy("schema.problems")]


async def _problems(info: Info, incident: Any, rel_type: str, direction: Direction) -> list[Any]:
    from schema.problems import ProblemNode

    loader = info.context.loaders.linked(INCIDENT, rel_type, direction, PROBLEM.label)
    rows = await loader.load(record_id(str(incident.id), INCIDENT.label))
    return [ProblemNode.from_props(r) for r in rows]


@strawberry.type
class IncidentProblemFields:
    """Fields of the Incident type that Problem Management serves."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(description="The problems linked to it as its cause (CAUSED_BY).")
    async def problems(self, info: Info) -> list[Problem]:
        return await _problems(info, self, "CAUSED_BY", Direction.OUT)

    @strawberry.field(
        description="Open problems proposed as its cause (PROPOSED_FOR), waiting to be accepted."
    )
    async def proposed_problems(self, info: Info) -> list[Problem]:
        return await _problems(info, self, "PROPOSED_FOR", Direction.OUT)

    @strawberry.field(description="The problems opened from it (TRIGGERED_BY).")
    async def triggered_problems(self, info: Info) -> list[Problem]:
        return await _problems(info, self, "TRIGGERED_BY", Direction.IN)
