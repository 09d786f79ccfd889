"""Configuration Management in GraphQL: CIs, relationships, history, imports and impact."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.cmdb import history_entry, properties_to_attributes
from schema.common import AuditEntry, PageInfo, decode_cursor, encode_cursor, to_datetime
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
    source: str | None = strawberry.field(description="The tool or person that recorded it.")
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime | None
    other_id: strawberry.Private[str]

    @strawberry.field(description="The CI at the other end.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        props = await info.context.loaders.ci.load(self.other_id)
        return ConfigurationItem.from_props(props) if props else None


@strawberry.type
class CIRelationshipEdge:
    cursor: str
    node: CIRelationship


@strawberry.type
class CIRelationshipConnection:
    edges: list[CIRelationshipEdge]
    page_info: PageInfo
    total_count: int


_PROVENANCE = {"createdAt", "createdBy", "source", "firstSeen", "lastSeen"}


def _relationship(row: dict[str, Any]) -> CIRelationship:
    props = row["props"]
    return CIRelationship(
        type=row["type"],
        direction=Direction.OUTGOING if row["outgoing"] else Direction.INCOMING,
        attributes=JSON({k: v for k, v in props.items() if k not in _PROVENANCE}),
        source=props.get("source"),
        first_seen=to_datetime(props.get("firstSeen")),
        last_seen=to_datetime(props.get("lastSeen")),
        created_at=to_datetime(props.get("createdAt")),
        other_id=row["other"]["id"],
    )


# What `ConfigurationItem.from_props` cannot do without, and the fields stored under their own
# name (a query selecting only these need not read every property).
_ALWAYS_READ = ("id", "name", "ciClass", "lifecycle", "version")
_STORED_AS_IS = frozenset(
    {"number", "criticality", "owner", "description", "blastRadius", "createdAt", "updatedAt"}
)
_NO_PROPERTIES = {"__typename", "relationships", "history"}  # these read by id, through loaders


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
    version: int
    blast_radius: int | None = strawberry.field(
        description="How many CIs depend on this one (computed by workers after changes)."
    )
    # The stored properties: the fields below are derived from them only when asked for, since
    # an impact answer may build thousands of CIs and show only their names.
    props: strawberry.Private[dict[str, Any]] = dataclasses.field(default_factory=dict)

    @staticmethod
    def properties_for(fields: set[str]) -> list[str] | None:
        """The stored properties that the selected fields read, or None when they need all of
        them. Fields not listed here (attributes, or any added later) read everything."""
        asked = fields - _NO_PROPERTIES
        if not asked <= _STORED_AS_IS | set(_ALWAYS_READ):
            return None
        return sorted(asked | set(_ALWAYS_READ))

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
            version=int(props["version"]),
            blast_radius=props.get("blastRadius"),
            props=props,
        )

    @strawberry.field
    def attributes(self) -> JSON:
        return JSON(properties_to_attributes(self.props))

    @strawberry.field
    def created_at(self) -> datetime | None:
        return to_datetime(self.props.get("createdAt"))

    @strawberry.field
    def updated_at(self) -> datetime | None:
        return to_datetime(self.props.get("updatedAt"))

    @strawberry.field(description="Relationships to other CIs by type and direction; paged.")
    async def relationships(
        self,
        info: Info,
        direction: Direction = Direction.BOTH,
        types: list[str] | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> CIRelationshipConnection:
        rows = await info.context.loaders.ci_relationships.load(str(self.id))
        chosen = [
            r
            for r in rows
            if (
                direction is Direction.BOTH
                or (direction is Direction.OUTGOING) == bool(r["outgoing"])
            )
            and (not types or r["type"] in types)
        ]
        chosen.sort(
            key=lambda r: (r["type"], not r["outgoing"], r["other"]["name"], r["other"]["id"])
        )
        keys = [
            [r["type"], not r["outgoing"], r["other"]["name"], r["other"]["id"]] for r in chosen
        ]
        start = 0
        if after is not None:
            mark = decode_cursor(after, 4)
            start = next((i + 1 for i, k in enumerate(keys) if k == mark), len(keys))
        first = max(0, min(first, 1000))
        window = list(zip(chosen, keys, strict=True))[start : start + first]
        edges = [
            CIRelationshipEdge(cursor=encode_cursor(*k), node=_relationship(r)) for r, k in window
        ]
        return CIRelationshipConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=start + first < len(chosen),
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=len(chosen),
        )

    @strawberry.field(description="Every recorded change of this CI, newest first.")
    async def history(self, info: Info) -> list[AuditEntry]:
        rows = await info.context.loaders.history.load(str(self.id))
        return [AuditEntry.from_props(history_entry(r)) for r in rows]


@strawberry.type
class CIEdge:
    cursor: str
    node: ConfigurationItem


@strawberry.type
class CIConnection:
    edges: list[CIEdge]
    page_info: PageInfo
    total_count: int


@strawberry.enum
class CIOrderField(enum.Enum):
    NAME = "name"
    NUMBER = "number"
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"


@strawberry.enum
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input
class CIOrder:
    field: CIOrderField = CIOrderField.NAME
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="All given conditions must hold.")
class CIFilter:
    ci_class: str | None = None
    lifecycle: str | None = None
    criticality: str | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="Attribute values that must be equal, e.g. {os: 'Debian 12'}."
    )
    search: str | None = strawberry.field(
        default=None, description="Words to find in names and descriptions (prefix match)."
    )


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
    attributes: JSON | None = strawberry.field(
        default=None,
        description="redundancyGroup and minUp (peers that must stay up), weight, description.",
    )


@strawberry.type
class RelateCIsPayload:
    source: ConfigurationItem
    type: str
    target: ConfigurationItem


# -- imports ---------------------------------------------------------------------------------


@strawberry.input(description="One CI as a tool sees it; identified by its class's rules.")
class ImportCIItem:
    ci_class: str
    name: str
    key: str | None = strawberry.field(
        default=None, description="Your reference for this item within the import."
    )
    lifecycle: str | None = None
    criticality: str | None = None
    owner: str | None = None
    description: str | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="Attributes to set; those left out or null keep their value."
    )
    clear: list[str] | None = strawberry.field(
        default=None,
        description="Fields (owner, description) and attributes to remove, e.g. ['os']; "
        "refused for one that another source is authoritative for.",
    )


@strawberry.input(description="A relationship; each end is a key of this import or a CI id.")
class ImportRelationshipItem:
    type: str
    source_key: str | None = None
    source_id: strawberry.ID | None = None
    target_key: str | None = None
    target_id: strawberry.ID | None = None
    attributes: JSON | None = None


@strawberry.input
class ImportCIsInput:
    source: str = strawberry.field(
        description="Who sends this data: 'discovery', 'asset-register'…"
    )
    items: list[ImportCIItem] = strawberry.field(default_factory=list)
    relationships: list[ImportRelationshipItem] = strawberry.field(default_factory=list)
    dry_run: bool = strawberry.field(
        default=False, description="Report what would happen without writing anything."
    )


@strawberry.enum
class ImportStatus(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@strawberry.type
class ImportError:
    field: str | None
    reason: str
    message: str


@strawberry.type
class ImportItemResult:
    index: int
    key: str | None
    ci_id: strawberry.ID | None
    status: ImportStatus
    changed_attributes: list[str]
    skipped_attributes: list[str] = strawberry.field(
        description="Changes not applied because another source is authoritative for them."
    )
    error: ImportError | None


@strawberry.type
class ImportRelationshipResult:
    index: int
    status: ImportStatus
    error: ImportError | None


@strawberry.type
class ImportCIsPayload:
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    rejected: int
    items: list[ImportItemResult]
    relationships: list[ImportRelationshipResult]


# -- impact ----------------------------------------------------------------------------------


@strawberry.enum
class ImpactDirection(enum.Enum):
    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"


@strawberry.enum(
    description="Which way a path may cross relationships: ANY (either way, any type), "
    "DOWNSTREAM (only the way a failure of the first CI travels, as impact follows it), "
    "UPSTREAM (only the way the first CI needs the second, as dependencies follow it)."
)
class PathDirection(enum.Enum):
    ANY = "any"
    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"


@strawberry.type(description="One relationship on a path: source -[type]-> target.")
class PathStep:
    source_id: strawberry.ID
    type: str
    target_id: strawberry.ID
    forward: bool = strawberry.field(
        description="True when the walk crosses it from source to target, false when against "
        "it; a subgraph's relationships are listed source to target, so always true there."
    )


@strawberry.type
class ImpactedCI:
    ci: ConfigurationItem
    depth: int
    reason: str
    paths: list[list[PathStep]] = strawberry.field(
        description="Shortest paths from the CI asked about (up to three)."
    )


@strawberry.type
class SparedCI:
    ci: ConfigurationItem
    reason: str
    redundancy_group: str
    members: int
    up: int
    min_up: int


@strawberry.type
class AgreementRef:
    id: strawberry.ID
    name: str
    number: str | None


@strawberry.type
class ImpactAnalysis:
    root: ConfigurationItem
    direction: ImpactDirection
    affected: list[ImpactedCI]
    spared: list[SparedCI] = strawberry.field(
        description="CIs reached but kept up by redundancy, with the reason."
    )
    services: list[ConfigurationItem]
    slas: list[AgreementRef]
    customers: list[AgreementRef]


@strawberry.type(description="CIs and relationships for drawing.")
class Subgraph:
    nodes: list[ConfigurationItem]
    edges: list[PathStep]
    truncated: bool = strawberry.field(
        description="True when maxNodes cut the answer: more CIs are within the depth."
    )
    omitted_nodes: int = strawberry.field(
        description="How many CIs within the depth were left out by maxNodes."
    )
    json: JSON
    dot: str
    mermaid: str
