"""Configuration Management in GraphQL: CIs, relationships, history, imports, impact, registry."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from core import record_types
from core.ids import to_global_id
from domain.cmdb import history_entry, properties_to_attributes
from schema.alert_fields import CIAlertFields
from schema.change_fields import CIChangeFields
from schema.common import AuditEntry, MutationPayload, Node, to_datetime
from schema.context import Info
from schema.paging import After, Before, Connection, First, Last, page_of_sorted, page_request
from schema.records import SortDirection, values_enum

# -- enums -----------------------------------------------------------------------------------
# Closed sets are enums. CI classes and relationship types stay strings, because configuration
# (ITSM_CMDB_CONFIG) extends them; the `registry` query lists them.


# Lifecycle and criticality are the CI declaration's own sets (`core.record_types`), described
# there; mypy sees them as those StrEnums, whose member names and values the GraphQL enums keep.
if TYPE_CHECKING:
    from core.record_types import Criticality, Lifecycle
    from schema.availability import OutageNode
    from schema.incidents import IncidentNode
    from schema.service_level import CatalogEntryNode
    from schema.thresholds import ThresholdNode
else:
    Lifecycle = values_enum(record_types.Lifecycle)
    Criticality = values_enum(record_types.Criticality)


@strawberry.enum(description="Which way along a relationship to look from a CI.")
class Direction(enum.Enum):
    OUTGOING = strawberry.enum_value(
        "outgoing", description="Relationships this CI is the source of."
    )
    INCOMING = strawberry.enum_value(
        "incoming", description="Relationships this CI is the target of."
    )
    BOTH = strawberry.enum_value("both", description="Either way.")


@strawberry.enum(
    description="How a failure travels along a relationship (source)-[TYPE]->(target)."
)
class Propagation(enum.Enum):
    TO_SOURCE = strawberry.enum_value(
        "to_source", description="The target failing hurts the source (DEPENDS_ON, RUNS_ON)."
    )
    TO_TARGET = strawberry.enum_value(
        "to_target", description="The source failing hurts the target (PART_OF)."
    )
    BOTH = strawberry.enum_value("both", description="Either side failing hurts the other.")
    NONE = strawberry.enum_value("none", description="Informational only: no failure travels.")


@strawberry.enum(description="What CIs can be sorted by.")
class CIOrderField(enum.Enum):
    NAME = strawberry.enum_value("name", description="The CI's name.")
    NUMBER = strawberry.enum_value("number", description="The CI's number (CI0000001…).")
    CREATED_AT = strawberry.enum_value("createdAt", description="When the CI was registered.")
    UPDATED_AT = strawberry.enum_value("updatedAt", description="When the CI last changed.")


@strawberry.enum(description="What an import did with one item or relationship.")
class ImportStatus(enum.Enum):
    CREATED = strawberry.enum_value("created", description="New: it did not exist.")
    UPDATED = strawberry.enum_value("updated", description="It existed and some values changed.")
    UNCHANGED = strawberry.enum_value("unchanged", description="It existed exactly as sent.")
    REJECTED = strawberry.enum_value(
        "rejected", description="Refused for the reason given; nothing of it was written."
    )


@strawberry.enum(description="Which way an impact analysis walks.")
class ImpactDirection(enum.Enum):
    DOWNSTREAM = strawberry.enum_value("downstream", description="Who is hurt when this CI fails.")
    UPSTREAM = strawberry.enum_value("upstream", description="What this CI needs to work.")


# -- CIs and relationships -------------------------------------------------------------------


def ci_global_id(stored_id: str) -> strawberry.ID:
    return strawberry.ID(to_global_id("CI", stored_id))


@strawberry.type(description="A relationship seen from one CI.")
class CIRelationship:
    type: str = strawberry.field(
        description="The relationship type, e.g. DEPENDS_ON (see `registry`)."
    )
    direction: Direction = strawberry.field(
        description="OUTGOING when the CI it is seen from is the source, INCOMING when the target."
    )
    attributes: JSON = strawberry.field(
        description="redundancyGroup, minUp, weight, description, port, protocol, as set."
    )
    source: str | None = strawberry.field(description="The tool or person that recorded it.")
    first_seen: datetime | None = strawberry.field(description="When it was first recorded.")
    last_seen: datetime | None = strawberry.field(description="When a source last reported it.")
    created_at: datetime | None = strawberry.field(description="When it was created.")
    other_id: strawberry.Private[str]

    @strawberry.field(description="The CI at the other end.")
    async def ci(self, info: Info) -> ConfigurationItem | None:
        props = await info.context.loaders.ci.load(self.other_id)
        return ConfigurationItem.from_props(props) if props else None


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


def _relationship_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["type"], not row["outgoing"], row["other"]["name"], row["other"]["id"])


# What `ConfigurationItem.from_props` cannot do without, and the fields stored under their own
# name (a query selecting only these need not read every property).
_ALWAYS_READ = ("id", "name", "ciClass", "lifecycle", "version")
_STORED_AS_IS = frozenset(
    {"number", "criticality", "owner", "description", "blastRadius", "createdAt", "updatedAt"}
)
# Read by id, loaded.
_NO_PROPERTIES = {
    "__typename",
    "relationships",
    "history",
    "catalogEntry",
    "openIncidents",
    "outages",
}

DEFAULT_RELATIONSHIPS_PAGE = 100
HISTORY_LIMIT = 100


@strawberry.type(
    name="CI", description="A configuration item: anything under configuration control."
)
class ConfigurationItem(Node, CIAlertFields, CIChangeFields):
    number: str | None = strawberry.field(
        description="The number people quote, e.g. CI0000042; unique, never reused."
    )
    name: str = strawberry.field(description="The CI's name.")
    ci_class: str = strawberry.field(
        description="The CI class, e.g. Database; the `registry` lists the classes."
    )
    lifecycle: Lifecycle = strawberry.field(description="Where the CI stands in its life.")
    criticality: Criticality = strawberry.field(description="How much its failure hurts.")
    owner: str | None = strawberry.field(description="Who is accountable for it.")
    description: str | None = strawberry.field(description="Free text about the CI.")
    version: int = strawberry.field(
        description="Bumped by every change; send it back with updateCi or retireCi, a stale "
        "one is refused as CONFLICT."
    )
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
            id=ci_global_id(props["id"]),
            number=props.get("number"),
            name=props["name"],
            ci_class=props["ciClass"],
            lifecycle=Lifecycle(props["lifecycle"]),
            criticality=Criticality(props.get("criticality", "medium")),
            owner=props.get("owner"),
            description=props.get("description"),
            version=int(props["version"]),
            blast_radius=props.get("blastRadius"),
            props=props,
        )

    @property
    def stored_id(self) -> str:
        stored: str = self.props["id"]
        return stored

    @strawberry.field(description="The class's attributes that are set, by name.")
    def attributes(self) -> JSON:
        return JSON(properties_to_attributes(self.props))

    @strawberry.field(description="When the CI was registered.")
    def created_at(self) -> datetime | None:
        return to_datetime(self.props.get("createdAt"))

    @strawberry.field(description="When the CI last changed.")
    def updated_at(self) -> datetime | None:
        return to_datetime(self.props.get("updatedAt"))

    @strawberry.field(
        description="Relationships to other CIs by type and direction, sorted by type, "
        "direction, then the other CI's name; 100 to a page unless `first` or `last` says."
    )
    async def relationships(
        self,
        info: Info,
        direction: Annotated[
            Direction, strawberry.argument(description="Which way to look.")
        ] = Direction.BOTH,
        types: Annotated[
            list[str] | None,
            strawberry.argument(description="Only these relationship types; all when not given."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[CIRelationship]:
        request = page_request(
            first=first,
            after=after,
            last=last,
            before=before,
            default=DEFAULT_RELATIONSHIPS_PAGE,
            key_size=4,
        )
        rows = await info.context.loaders.ci_relationships.load(self.stored_id)
        chosen = sorted(
            (
                r
                for r in rows
                if (
                    direction is Direction.BOTH
                    or (direction is Direction.OUTGOING) == bool(r["outgoing"])
                )
                and (not types or r["type"] in types)
            ),
            key=_relationship_key,
        )
        edges, info_ = page_of_sorted(
            [_relationship(r) for r in chosen], [_relationship_key(r) for r in chosen], request
        )
        return Connection(edges=edges, page_info=info_, total=len(chosen))

    @strawberry.field(
        description="The latest recorded changes of this CI (up to 100), newest first."
    )
    async def history(self, info: Info) -> list[AuditEntry]:
        rows = await info.context.loaders.history.load(self.stored_id)
        return [AuditEntry.from_props(history_entry(r)) for r in rows]

    @strawberry.field(
        description="For a Service: its Service Catalog entry that is not retired; null when it "
        "has none, and for CIs of other classes."
    )
    async def catalog_entry(
        self, info: Info
    ) -> Annotated[CatalogEntryNode, strawberry.lazy("schema.service_level")] | None:
        # Imported here: the catalogue's types refer to CIs, and CIs to the catalogue.
        from schema.service_level import CatalogEntryNode, catalog_entry_of

        if self.ci_class != "Service":
            return None
        found = await catalog_entry_of(info, self.stored_id)
        return CatalogEntryNode.from_props(found) if found else None

    @strawberry.field(description="The open incidents on this CI, oldest first.")
    async def open_incidents(
        self, info: Info
    ) -> list[Annotated[IncidentNode, strawberry.lazy("schema.incidents")]]:
        # Imported here: the Service Desk's types refer to CIs.
        from schema.service_desk import open_incidents_on

        return await open_incidents_on(info, self.stored_id)

    @strawberry.field(description="The outages of this CI (down or degraded), latest first.")
    async def outages(
        self, info: Info
    ) -> list[Annotated[OutageNode, strawberry.lazy("schema.availability")]]:
        # Imported here: Availability Management's types refer to CIs.
        from schema.availability import outages_on

        return await outages_on(info, self.stored_id)

    @strawberry.field(
        description="The thresholds watching this CI, by name or through a Service of its "
        "class that depends on it; enabled or not, by name."
    )
    async def thresholds(
        self, info: Info
    ) -> list[Annotated[ThresholdNode, strawberry.lazy("schema.thresholds")]]:
        # Imported here: thresholds refer to CIs.
        from schema.thresholds import thresholds_on

        return await thresholds_on(info, self.stored_id)


@strawberry.input(description="How to sort CIs.")
class CIOrder:
    field: CIOrderField = strawberry.field(
        default=CIOrderField.NAME, description="What to sort by; ties are settled by id."
    )
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Which way the sort runs."
    )


@strawberry.input(description="Conditions on CIs; all given conditions must hold.")
class CIFilter:
    ci_class: str | None = strawberry.field(default=None, description="Only CIs of this class.")
    lifecycle: Lifecycle | None = strawberry.field(
        default=None, description="Only CIs at this stage of their life."
    )
    criticality: Criticality | None = strawberry.field(
        default=None, description="Only CIs of this criticality."
    )
    attributes: JSON | None = strawberry.field(
        default=None, description="Attribute values that must be equal, e.g. {os: 'Debian 12'}."
    )
    search: str | None = strawberry.field(
        default=None, description="Words to find in names and descriptions (prefix match)."
    )


# -- mutations: inputs and payloads ------------------------------------------------------------

_ATTRIBUTES = "The class's attributes by name (see `registry`), e.g. {os: 'Debian 12'}."


@strawberry.input(description="A new CI.")
class RegisterCIInput:
    ci_class: str = strawberry.field(description="Its CI class (see `registry`).")
    name: str = strawberry.field(description="Its name; at most 200 characters.")
    lifecycle: Lifecycle = strawberry.field(
        default=Lifecycle.LIVE, description="Where it stands in its life."
    )
    criticality: Criticality = strawberry.field(
        default=Criticality.MEDIUM, description="How much its failure hurts."
    )
    owner: str | None = strawberry.field(default=None, description="Who is accountable for it.")
    description: str | None = strawberry.field(default=None, description="Free text.")
    attributes: JSON | None = strawberry.field(default=None, description=_ATTRIBUTES)


@strawberry.input(description="Changes to a CI; fields left out stay as they are.")
class UpdateCIInput:
    id: strawberry.ID = strawberry.field(description="The CI's id.")
    version: int = strawberry.field(
        description="The version you read; a stale one is refused as CONFLICT."
    )
    name: str | None = strawberry.field(default=None, description="A new name.")
    lifecycle: Lifecycle | None = strawberry.field(default=None, description="A new lifecycle.")
    criticality: Criticality | None = strawberry.field(
        default=None, description="A new criticality."
    )
    owner: str | None = strawberry.field(default=None, description="A new owner.")
    description: str | None = strawberry.field(default=None, description="A new description.")
    attributes: JSON | None = strawberry.field(
        default=None, description="Attributes to set; a null value removes that attribute."
    )


@strawberry.input(description="The CI to retire.")
class RetireCIInput:
    id: strawberry.ID = strawberry.field(description="The CI's id.")
    version: int = strawberry.field(
        description="The version you read; a stale one is refused as CONFLICT."
    )


@strawberry.input(description="A new relationship (source)-[type]->(target).")
class RelateCIsInput:
    source_id: strawberry.ID = strawberry.field(description="The id of the source CI.")
    type: str = strawberry.field(description="The relationship type (see `registry`).")
    target_id: strawberry.ID = strawberry.field(description="The id of the target CI.")
    attributes: JSON | None = strawberry.field(
        default=None,
        description="redundancyGroup and minUp (peers that must stay up), weight, description.",
    )


@strawberry.input(description="The relationship (source)-[type]->(target) to remove.")
class UnrelateCIsInput:
    source_id: strawberry.ID = strawberry.field(description="The id of the source CI.")
    type: str = strawberry.field(description="The relationship type.")
    target_id: strawberry.ID = strawberry.field(description="The id of the target CI.")


@strawberry.type(description="The outcome of a mutation on one CI.")
class CIPayload(MutationPayload):
    ci: ConfigurationItem | None = strawberry.field(
        default=None, description="The CI as it now is; null when the input was refused."
    )


@strawberry.type(description="The outcome of registerCi.")
class RegisterCIPayload(CIPayload):
    pass


@strawberry.type(description="The outcome of updateCi.")
class UpdateCIPayload(CIPayload):
    pass


@strawberry.type(description="The outcome of retireCi.")
class RetireCIPayload(CIPayload):
    pass


@strawberry.type(description="The outcome of relateCis or unrelateCis.")
class RelationshipPayload(MutationPayload):
    source: ConfigurationItem | None = strawberry.field(
        default=None, description="The source CI; null when refused."
    )
    type: str | None = strawberry.field(
        default=None, description="The relationship type; null when refused."
    )
    target: ConfigurationItem | None = strawberry.field(
        default=None, description="The target CI; null when refused."
    )


# -- imports ---------------------------------------------------------------------------------


@strawberry.input(description="One CI as a tool sees it; identified by its class's rules.")
class ImportCIItem:
    ci_class: str = strawberry.field(description="Its CI class (see `registry`).")
    name: str = strawberry.field(description="Its name.")
    key: str | None = strawberry.field(
        default=None, description="Your reference for this item within the import."
    )
    # Strings rather than the enums: one bad value in a file of thousands rejects that item,
    # with the reason, instead of refusing the whole document.
    lifecycle: str | None = strawberry.field(
        default=None,
        description="A Lifecycle value (LIVE or live); an unknown one rejects the item.",
    )
    criticality: str | None = strawberry.field(
        default=None,
        description="A Criticality value (HIGH or high); an unknown one rejects the item.",
    )
    owner: str | None = strawberry.field(default=None, description="Who is accountable for it.")
    description: str | None = strawberry.field(default=None, description="Free text.")
    attributes: JSON | None = strawberry.field(default=None, description=_ATTRIBUTES)
    clear: list[str] | None = strawberry.field(
        default=None,
        description="Fields (owner, description) and attributes to remove, e.g. ['os']; "
        "refused for one that another source is authoritative for.",
    )


@strawberry.input(description="A relationship; each end is a key of this import or a CI id.")
class ImportRelationshipItem:
    type: str = strawberry.field(description="The relationship type (see `registry`).")
    source_key: str | None = strawberry.field(
        default=None, description="The key of the source among this import's items."
    )
    source_id: strawberry.ID | None = strawberry.field(
        default=None, description="Or the id of an existing source CI."
    )
    target_key: str | None = strawberry.field(
        default=None, description="The key of the target among this import's items."
    )
    target_id: strawberry.ID | None = strawberry.field(
        default=None, description="Or the id of an existing target CI."
    )
    attributes: JSON | None = strawberry.field(
        default=None, description="redundancyGroup, minUp, weight, description, port, protocol."
    )


@strawberry.input(description="CIs and relationships from one source, reconciled in one go.")
class ImportCIsInput:
    source: str = strawberry.field(
        description="Who sends this data: 'discovery', 'asset-register'…"
    )
    items: list[ImportCIItem] = strawberry.field(
        default_factory=list, description="The CIs, at most 10,000."
    )
    relationships: list[ImportRelationshipItem] = strawberry.field(
        default_factory=list, description="The relationships between them or existing CIs."
    )
    dry_run: bool = strawberry.field(
        default=False, description="Report what would happen without writing anything."
    )


@strawberry.type(description="Why an import item or relationship was rejected.")
class ImportError:
    field: str | None = strawberry.field(
        description="The field of the item at fault, e.g. items[3].attributes.colour."
    )
    reason: str = strawberry.field(description="The rule it broke, e.g. unknown_class.")
    message: str = strawberry.field(description="What is wrong, for a person to read.")


@strawberry.type(description="What the import did with one item.")
class ImportItemResult:
    index: int = strawberry.field(description="The item's position in `items`, from 0.")
    key: str | None = strawberry.field(description="The item's key, as sent.")
    ci_id: strawberry.ID | None = strawberry.field(
        description="The id of the CI it created or matched; null when rejected."
    )
    status: ImportStatus = strawberry.field(description="What was done.")
    changed_attributes: list[str] = strawberry.field(
        description="The fields and attributes whose values changed."
    )
    skipped_attributes: list[str] = strawberry.field(
        description="Changes not applied because another source is authoritative for them."
    )
    error: ImportError | None = strawberry.field(description="Why it was rejected, if it was.")


@strawberry.type(description="What the import did with one relationship.")
class ImportRelationshipResult:
    index: int = strawberry.field(description="The relationship's position, from 0.")
    status: ImportStatus = strawberry.field(description="What was done.")
    error: ImportError | None = strawberry.field(description="Why it was rejected, if it was.")


@strawberry.type(
    description="The outcome of importCis, item by item. `userErrors` say why the import as a "
    "whole was refused (then nothing was written); items rejected one by one are in `items` "
    "and `relationships`."
)
class ImportCIsPayload(MutationPayload):
    dry_run: bool = strawberry.field(
        default=False, description="True when nothing was written, only reported."
    )
    created: int = strawberry.field(default=0, description="How many items created a CI.")
    updated: int = strawberry.field(default=0, description="How many items changed a CI.")
    unchanged: int = strawberry.field(default=0, description="How many items changed nothing.")
    rejected: int = strawberry.field(default=0, description="How many items were rejected.")
    items: list[ImportItemResult] = strawberry.field(
        default_factory=list, description="Per item, in the order sent."
    )
    relationships: list[ImportRelationshipResult] = strawberry.field(
        default_factory=list, description="Per relationship, in the order sent."
    )


# -- impact ----------------------------------------------------------------------------------


@strawberry.enum(description="Which way a path may cross relationships.")
class PathDirection(enum.Enum):
    ANY = strawberry.enum_value("any", description="Either way, any type.")
    DOWNSTREAM = strawberry.enum_value(
        "downstream",
        description="Only the way a failure of the first CI travels, as impact follows it.",
    )
    UPSTREAM = strawberry.enum_value(
        "upstream",
        description="Only the way the first CI needs the second, as dependencies follow it.",
    )


@strawberry.type(description="One relationship on a path: source -[type]-> target.")
class PathStep:
    source_id: strawberry.ID = strawberry.field(description="The id of the source CI.")
    type: str = strawberry.field(description="The relationship type.")
    target_id: strawberry.ID = strawberry.field(description="The id of the target CI.")
    forward: bool = strawberry.field(
        description="True when the walk crosses it from source to target, false when against "
        "it; a subgraph's relationships are listed source to target, so always true there."
    )


def path_step(source: str, type_: str, target: str, forward: bool = True) -> PathStep:
    """A step between stored CI ids, as the API shows it."""
    return PathStep(
        source_id=ci_global_id(source),
        type=type_,
        target_id=ci_global_id(target),
        forward=forward,
    )


@strawberry.type(description="A CI that the failure reaches.")
class ImpactedCI:
    ci: ConfigurationItem = strawberry.field(description="The CI.")
    depth: int = strawberry.field(description="How many relationships away it fails.")
    reason: str = strawberry.field(description="Why it fails, e.g. 'DEPENDS_ON a failed CI'.")
    paths: list[list[PathStep]] = strawberry.field(
        description="Shortest paths from the CI asked about (up to three)."
    )


@strawberry.type(description="A CI the failure reaches but a redundancy group keeps up.")
class SparedCI:
    ci: ConfigurationItem = strawberry.field(description="The CI.")
    reason: str = strawberry.field(description="Which group keeps it up, and how.")
    redundancy_group: str = strawberry.field(description="The name of the group.")
    members: int = strawberry.field(description="How many members the group has.")
    up: int = strawberry.field(description="How many of them are still up.")
    min_up: int = strawberry.field(description="How many must be up.")


@strawberry.type(description="An agreement or party at the end of an impact: an SLA or Customer.")
class AgreementRef:
    id: strawberry.ID = strawberry.field(description="Its global id.")
    name: str = strawberry.field(description="Its name.")
    number: str | None = strawberry.field(description="Its number, where it has one.")


@strawberry.type(description="What a CI's failure affects, or what it needs.")
class ImpactAnalysis:
    root: ConfigurationItem = strawberry.field(description="The CI asked about.")
    direction: ImpactDirection = strawberry.field(description="Which way the walk went.")
    affected: list[ImpactedCI] = strawberry.field(description="The CIs reached, nearest first.")
    spared: list[SparedCI] = strawberry.field(
        description="CIs reached but kept up by redundancy, with the reason."
    )
    services: list[ConfigurationItem] = strawberry.field(
        description="The affected Services, by name."
    )
    slas: list[AgreementRef] = strawberry.field(
        description="The SLAs covering the affected Services."
    )
    customers: list[AgreementRef] = strawberry.field(
        description="The Customers those SLAs are agreed with."
    )


@strawberry.type(description="CIs and relationships for drawing.")
class Subgraph:
    nodes: list[ConfigurationItem] = strawberry.field(description="The CIs, the one asked first.")
    edges: list[PathStep] = strawberry.field(description="The relationships among them.")
    truncated: bool = strawberry.field(
        description="True when maxNodes cut the answer: more CIs are within the depth."
    )
    omitted_nodes: int = strawberry.field(
        description="How many CIs within the depth were left out by maxNodes."
    )
    json: JSON = strawberry.field(description="{nodes, edges} for a JavaScript graph library.")
    dot: str = strawberry.field(description="The same as Graphviz DOT.")
    mermaid: str = strawberry.field(description="The same as a Mermaid flowchart.")


# -- the registry ------------------------------------------------------------------------------


@strawberry.type(description="The only import source allowed to overwrite one field.")
class AuthoritativeSource:
    field: str = strawberry.field(description="The field or attribute.")
    source: str = strawberry.field(description="The import source that owns it.")


@strawberry.type(name="CIClass", description="A class of CI, as configured.")
class CIClassInfo:
    name: str = strawberry.field(description="The class name, as `ciClass` takes it.")
    description: str = strawberry.field(description="What the class is for; may be empty.")
    attributes: list[str] = strawberry.field(description="The attributes it may have, sorted.")
    identification_rules: list[list[str]] = strawberry.field(
        description="Each rule: the fields that together identify one CI of the class on "
        "import, tried in order."
    )
    authoritative_sources: list[AuthoritativeSource] = strawberry.field(
        description="Fields only one import source may overwrite."
    )


@strawberry.type(name="RelationshipType", description="A type of relationship, as configured.")
class RelationshipTypeInfo:
    name: str = strawberry.field(description="The type name, e.g. DEPENDS_ON.")
    description: str = strawberry.field(description="What it means; may be empty.")
    propagation: Propagation = strawberry.field(description="How a failure travels along it.")
    source_classes: list[str] | None = strawberry.field(
        description="The CI classes it may start from; null for any."
    )
    target_classes: list[str] | None = strawberry.field(
        description="The CI classes it may end at; null for any."
    )


@strawberry.type(description="The CI classes and relationship types this CMDB accepts.")
class Registry:
    ci_classes: list[CIClassInfo] = strawberry.field(description="Every CI class, by name.")
    relationship_types: list[RelationshipTypeInfo] = strawberry.field(
        description="Every relationship type, by name."
    )
