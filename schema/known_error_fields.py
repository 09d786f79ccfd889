"""The fields known errors add to the Incident type: the known errors matched to it and the
workaround they give, read from the known error each time so that a later edit shows at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import strawberry

from core.ids import record_id
from core.incidents import INCIDENT
from core.problems import KNOWN_ERROR, KnownErrorMatchKind
from core.records import Direction
from domain.problems import known_errors
from schema.context import Context, Info
from schema.known_errors import KnownErrorNode
from schema.records import values_enum

MatchKindEnum = values_enum(KnownErrorMatchKind)


@strawberry.type(description="A known error matched to an incident, and why.")
class KnownErrorMatch:
    how: MatchKindEnum = strawberry.field(  # type: ignore[valid-type]
        description="By topology (the CI, what it needs, its class), by text, or by the "
        "problem that causes the incident."
    )
    reason: str = strawberry.field(description="Why it matched, in words.")
    known_error: KnownErrorNode = strawberry.field(description="The known error, as it is now.")


async def _load_matches(ctx: Context, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
    found = await ctx.run(known_errors.matches_of, ctx.store, ctx.actor, ids)
    return [found[i] for i in ids]


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

    @strawberry.field(
        description="The known errors matched to it, best first (active ones first, then in "
        "the order they were matched: topology before text, nearest first), each with how "
        "and why."
    )
    async def known_error_matches(self, info: Info) -> list[KnownErrorMatch]:
        rows = await _matches(info, str(self.id))
        return [
            KnownErrorMatch(
                how=MatchKindEnum(row["how"]),
                reason=row["reason"],
                known_error=KnownErrorNode.from_props(row["ke"]),
            )
            for row in rows
        ]

    @strawberry.field(
        description="The workaround of its best matched known error, as that known error has "
        "it now; null when none matched or the best one has none."
    )
    async def workaround(self, info: Info) -> str | None:
        rows = await _matches(info, str(self.id))
        found = rows[0]["ke"].get("workaround") if rows else None
        return str(found) if found else None


async def _matches(info: Info, incident: str) -> list[dict[str, Any]]:
    loader = info.context.loaders.keyed("knownErrors.matches", _load_matches)
    found: list[dict[str, Any]] = await loader.load(record_id(incident, INCIDENT.label))
    return found
