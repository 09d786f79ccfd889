"""Release Management in GraphQL: releases with the changes they ship, the catalogue entries they
update, and what their last deployment fixed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from core.incidents import INCIDENT
from core.problems import KNOWN_ERROR, PROBLEM
from core.records import Direction, RecordType
from core.releases import RELEASE
from schema.common import Node
from schema.context import Info
from schema.known_errors import KnownErrorNode
from schema.records import described, state_enum
from schema.service_level import CatalogEntryNode, _nodes, _Served

if TYPE_CHECKING:
    from schema.changes import ChangeNode
    from schema.incidents import IncidentNode
    from schema.problems import ProblemNode

ReleaseStateEnum = state_enum(RELEASE)
Change = Annotated["ChangeNode", strawberry.lazy("schema.changes")]
Problem = Annotated["ProblemNode", strawberry.lazy("schema.problems")]
Incident = Annotated["IncidentNode", strawberry.lazy("schema.incidents")]


async def _records(info: Info, record: RecordType, ids: list[str]) -> list[dict[str, Any]]:
    found = await info.context.loaders.record(record).load_many(ids)
    return [r for r in found if r is not None]


@strawberry.type(name="Release", description=RELEASE.description)
class ReleaseNode(Node, _Served):
    record: ClassVar[RecordType] = RELEASE
    number: str = described(RELEASE, "number")
    title: str = described(RELEASE, "title")
    description: str | None = described(RELEASE, "description")
    release_version: str = described(RELEASE, "releaseVersion")
    offering: str | None = described(RELEASE, "offering")
    state: ReleaseStateEnum = described(RELEASE, "state")  # type: ignore[valid-type]
    planned_start: datetime | None = described(RELEASE, "plannedStart")
    planned_end: datetime | None = described(RELEASE, "plannedEnd")
    built_at: datetime | None = described(RELEASE, "builtAt")
    deployed_at: datetime | None = described(RELEASE, "deployedAt")
    rolled_back_at: datetime | None = described(RELEASE, "rolledBackAt")
    deployment: str | None = described(RELEASE, "deployment")
    version: int = described(RELEASE, "version")
    created_at: datetime | None = described(RELEASE, "createdAt")

    def _deployed(self, key: str) -> list[str]:
        return list(json.loads(self.deployment or "{}").get(key, []))

    @strawberry.field(description="The changes it ships.")
    async def changes(self, info: Info) -> list[Change]:
        from schema.changes import ChangeNode

        return await _nodes(info, self, "INCLUDES", Direction.OUT, ChangeNode)

    @strawberry.field(description="The catalogue entries it updates.")
    async def catalog_entries(self, info: Info) -> list[CatalogEntryNode]:
        return await _nodes(info, self, "UPDATES", Direction.OUT, CatalogEntryNode)

    @strawberry.field(description="The known errors its last deployment marked fixed.")
    async def known_errors(self, info: Info) -> list[KnownErrorNode]:
        rows = await _records(info, KNOWN_ERROR, self._deployed("knownErrors"))
        return [KnownErrorNode.from_props(r) for r in rows]

    @strawberry.field(description="The problems its last deployment resolved.")
    async def problems(self, info: Info) -> list[Problem]:
        from schema.problems import ProblemNode

        rows = await _records(info, PROBLEM, self._deployed("problems"))
        return [ProblemNode.from_props(r) for r in rows]

    @strawberry.field(
        description="Problems its changes fix or address that its last deployment left open: "
        "their root cause was not known yet."
    )
    async def problems_left_open(self, info: Info) -> list[Problem]:
        from schema.problems import ProblemNode

        rows = await _records(info, PROBLEM, self._deployed("problemsLeftOpen"))
        return [ProblemNode.from_props(r) for r in rows]

    @strawberry.field(description="The incidents its last deployment resolved.")
    async def incidents(self, info: Info) -> list[Incident]:
        from schema.incidents import IncidentNode

        rows = await _records(info, INCIDENT, self._deployed("incidents"))
        return [IncidentNode.from_props(r) for r in rows]

    @strawberry.field(
        description="Open incidents its last deployment did not resolve because another open "
        "problem causes them too; their teams were told."
    )
    async def incidents_told(self, info: Info) -> list[Incident]:
        from schema.incidents import IncidentNode

        rows = await _records(info, INCIDENT, self._deployed("incidentsTold"))
        return [IncidentNode.from_props(r) for r in rows]


__all__ = ["ReleaseNode", "ReleaseStateEnum"]
