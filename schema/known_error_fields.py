"""The fields known errors add to the Incident type: the known errors matched to it and the
workaround they give, read from the known error each time so that a later edit shows at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.problems import KNOWN_ERROR
from core.records import Direction
from schema.context import Info
from schema.known_errors import KnownErrorNode


@strawberry.type
class IncidentKnownErrorFields:
    """Fields of the Incident type that known errors serve."""

    if TYPE_CHECKING:
        id: strawberry.ID

    @strawberry.field(description="The known errors matched to it (MATCHES).")
    async def known_errors(self, info: Info) -> list[KnownErrorNode]:
        loader = info.context.loaders.linked(INCIDENT, "MATCHES", Direction.OUT, KNOWN_ERROR.label)
        rows = await loader.load(record_id(str(self.id), INCIDENT.label))
        return [KnownErrorNode.from_props(r) for r in rows]
