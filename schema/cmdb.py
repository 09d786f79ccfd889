"""Configuration Management in GraphQL: CIs, their relationships and history."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.cmdb import properties_to_attributes
from schema.common import AuditEntry, PageInfo, to_datetime
from schema.context import Info


@strawberry.enum(description="Which way along a relationship to look from a CI.")
class Direction(enum.Enum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    BOTH = "both"


@strawberry.type(description="A relationship seen from one CI.")
class CIRelationship:
    type: str
    direction: Direction
    attributes: JSON
    created_at: datetime | None
    other_id: strawberry.Private[str]

    @strawberry.field(description="The CI at the other end.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        props = await info.context.loaders.ci.load(self.other_id)
        return ConfigurationItem.from_props(props) if props else None


@strawberry.type(
    name="CI", description="A configuration item: anything under configuration control."
)
class ConfigurationItem:
    id: strawberry.ID
    number: str | None
    name: str
    ci_class: str
    lifecycle: str
    criticality: str
    owner: str | None
    description: str | None
    attributes: JSON
    version: int
    created_at: datetime | None
    updated_at: datetime | None
    blast_radius: int | None = strawberry.field(
        description="How many CIs depend on this one (computed by workers after changes)."
    )

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> ConfigurationItem:
        return cls(
            id=strawberry.ID(props["id"]),
            number=props.get("number"),
            name=props["name"],
            ci_class=props["ciClass"],
            lifecycle=props["lifecycle"],
            criticality=props.get("criticality", "medium"),
            owner=props.get("owner"),
            description=props.get("description"),
            attributes=JSON(properties_to_attributes(props)),
            version=int(props["version"]),
            created_at=to_datetime(props.get("createdAt")),
            updated_at=to_datetime(props.get("updatedAt")),
            blast_radius=props.get("blastRadius"),
        )

    @strawberry.field(description="Relationships to other CIs, optionally by type and direction.")
    async def relationships(
        self,
        info: Info,
        direction: Direction = Direction.BOTH,
        types: list[str] | None = None,
    ) -> list[CIRelationship]:
        rows = await info.context.loaders.ci_relationships.load(str(self.id))
        out = []
        for row in rows:
            row_direction = Direction.OUTGOING if row["outgoing"] else Direction.INCOMING
            if direction is not Direction.BOTH and row_direction is not direction:
                continue
            if types and row["type"] not in types:
                continue
            props = row["props"]
            out.append(
                CIRelationship(
                    type=row["type"],
                    direction=row_direction,
                    attributes=JSON(
                        {k: v for k, v in props.items() if k not in {"createdAt", "createdBy"}}
                    ),
                    created_at=to_datetime(props.get("createdAt")),
                    other_id=row["other"]["id"],
                )
            )
        return out

    @strawberry.field(description="Every recorded change of this CI, newest first.")
    async def history(self, info: Info) -> list[AuditEntry]:
        rows = await info.context.loaders.history.load(str(self.id))
        return [AuditEntry.from_props(r) for r in rows]


@strawberry.type
class CIEdge:
    cursor: str
    node: ConfigurationItem


@strawberry.type
class CIConnection:
    edges: list[CIEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input(description="A new CI.")
class RegisterCIInput:
    ci_class: str
    name: str
    lifecycle: str = "live"
    criticality: str = "medium"
    owner: str | None = None
    description: str | None = None
    attributes: JSON | None = None


@strawberry.input(description="Changes to a CI; `version` is the one you read.")
class UpdateCIInput:
    id: strawberry.ID
    version: int
    name: str | None = None
    lifecycle: str | None = None
    criticality: str | None = None
    owner: str | None = None
    description: str | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="Attributes to set; a null value removes that attribute."
    )


@strawberry.input
class RelateCIsInput:
    source_id: strawberry.ID
    type: str
    target_id: strawberry.ID
    attributes: JSON | None = None


@strawberry.type
class RelateCIsPayload:
    source: ConfigurationItem
    type: str
    target: ConfigurationItem
