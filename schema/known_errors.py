"""Known errors in GraphQL: the fault with its workaround, the topology it applies to, the
problem it documents and the incidents it matched."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from core.incidents import INCIDENT
from core.knowledge import KNOWLEDGE_ARTICLE
from core.problems import KNOWN_ERROR
from core.record_types import CI
from core.records import Direction, RecordType
from schema.cmdb import ConfigurationItem
from schema.common import Node
from schema.context import Info
from schema.records import described, state_enum
from schema.service_level import _linked, _Served

if TYPE_CHECKING:
    from schema.incidents import IncidentNode
    from schema.knowledge import KnowledgeArticleNode
    from schema.problems import ProblemNode

KnownErrorStateEnum = state_enum(KNOWN_ERROR)
Incident = Annotated["IncidentNode", strawberry.lazy("schema.incidents")]
Problem = Annotated["ProblemNode", strawberry.lazy("schema.problems")]
Article = Annotated["KnowledgeArticleNode", strawberry.lazy("schema.knowledge")]


@strawberry.type(name="KnownError", description=KNOWN_ERROR.description)
class KnownErrorNode(Node, _Served):
    record: ClassVar[RecordType] = KNOWN_ERROR
    number: str = described(KNOWN_ERROR, "number")
    title: str = described(KNOWN_ERROR, "title")
    symptoms: str | None = described(KNOWN_ERROR, "symptoms")
    root_cause: str | None = described(KNOWN_ERROR, "rootCause")
    workaround: str | None = described(KNOWN_ERROR, "workaround")
    ci_class: str | None = described(KNOWN_ERROR, "ciClass")
    ci_version: str | None = described(KNOWN_ERROR, "ciVersion")
    state: KnownErrorStateEnum = described(KNOWN_ERROR, "state")  # type: ignore[valid-type]
    generated: bool | None = described(KNOWN_ERROR, "generated")
    version: int = described(KNOWN_ERROR, "version")
    created_at: datetime | None = described(KNOWN_ERROR, "createdAt")

    @strawberry.field(description="The CIs or services it applies to.")
    async def cis(self, info: Info) -> list[ConfigurationItem]:
        rows = await _linked(info, KNOWN_ERROR, self, "APPLIES_TO", Direction.OUT, CI.label)
        return [ConfigurationItem.from_props(r) for r in rows]

    @strawberry.field(description="The problem it documents, if any.")
    async def problem(self, info: Info) -> Problem | None:
        from schema.problems import ProblemNode

        rows = await _linked(info, KNOWN_ERROR, self, "DOCUMENTS", Direction.OUT, "Problem")
        return ProblemNode.from_props(rows[0]) if rows else None

    @strawberry.field(
        description="The knowledge article it is published as (kind KNOWN_ERROR), which the "
        "knowledge search finds; republished whenever it changes."
    )
    async def article(self, info: Info) -> Article | None:
        from schema.knowledge import KnowledgeArticleNode

        rows = await _linked(
            info, KNOWN_ERROR, self, "PUBLISHED_AS", Direction.OUT, KNOWLEDGE_ARTICLE.label
        )
        if not rows:
            return None
        # Through the articles' own loader, so that the reader sees it as their read rule says.
        found = await info.context.loaders.record(KNOWLEDGE_ARTICLE).load(rows[0]["id"])
        return KnowledgeArticleNode.from_props(found) if found else None

    @strawberry.field(description="The incidents it was matched to (MATCHES).")
    async def incidents(self, info: Info) -> list[Incident]:
        from schema.incidents import IncidentNode

        rows = await _linked(info, KNOWN_ERROR, self, "MATCHES", Direction.IN, INCIDENT.label)
        return [IncidentNode.from_props(r) for r in rows]


def known_error(props: dict[str, Any]) -> KnownErrorNode:
    return KnownErrorNode.from_props(props)
