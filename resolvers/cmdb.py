"""Resolvers for Configuration Management."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from core.access import Permission
from core.errors import LimitExceeded, NotFound, ValidationFailed
from domain import cmdb, configuration, diagram, impact, reconciliation
from graphdb.cypher import ci as ci_cypher
from schema.cmdb import (
    AgreementRef,
    CIConnection,
    CIEdge,
    CIFilter,
    CIOrder,
    ConfigurationItem,
    ImpactAnalysis,
    ImpactDirection,
    ImpactedCI,
    ImportCIsInput,
    ImportCIsPayload,
    ImportError,
    ImportItemResult,
    ImportRelationshipResult,
    ImportStatus,
    PathDirection,
    PathStep,
    RegisterCIInput,
    RelateCIsInput,
    RelateCIsPayload,
    SortDirection,
    SparedCI,
    Subgraph,
    UpdateCIInput,
)
from schema.common import PageInfo, decode_cursor, encode_cursor
from schema.context import Info

MAX_PAGE = 500
MAX_SUBGRAPH_NODES = 2000
MAX_PATH_DEPTH = 12


def _json_object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(field, "not_an_object", f"{field} must be a JSON object")
    return value


def _types(values: list[str] | None, field: str) -> list[str]:
    names = values or list(cmdb.RELATIONSHIP_TYPES)
    return [cmdb.relationship_type(n, field_name=field).name for n in names]


def _agreement(props: dict[str, Any]) -> AgreementRef:
    return AgreementRef(
        id=strawberry.ID(props["id"]), name=props["name"], number=props.get("number")
    )


def _step(s: str, type_: str, t: str, forward: bool = True) -> PathStep:
    return PathStep(
        source_id=strawberry.ID(s), type=type_, target_id=strawberry.ID(t), forward=forward
    )


def _import_error(error: ValidationFailed | None) -> ImportError | None:
    if error is None:
        return None
    return ImportError(field=error.field, reason=error.reason, message=error.message)


def _selected(selections: list[Any], path: list[str]) -> set[str]:
    """The field names selected at `path` below these selections, through fragments."""
    found: set[str] = set()
    for selection in selections:
        name = getattr(selection, "name", None)
        if name is None:  # a fragment: its fields belong to this level
            found |= _selected(selection.selections, path)
        elif not path:
            found.add(name)
        elif name == path[0]:
            found |= _selected(selection.selections, path[1:])
    return found


async def _impact(
    info: Info,
    ci_id: strawberry.ID,
    direction: ImpactDirection,
    max_depth: int,
    relationship_types: list[str] | None,
    max_results: int,
) -> ImpactAnalysis:
    ctx = info.context
    # Reasons and paths cost a second walk over every affected CI: only when they are asked for.
    below = [s for field in info.selected_fields for s in field.selections]
    explain = bool(_selected(below, ["affected"]) & {"reason", "paths"})
    # Read only the CI properties the answer shows: an impact may hold thousands of CIs.
    shown = set()
    for path in (["root"], ["affected", "ci"], ["spared", "ci"], ["services"]):
        shown |= _selected(below, path)
    properties = ConfigurationItem.properties_for(shown)
    report = await ctx.run(
        lambda: impact.impact_of(
            ctx.store,
            ctx.actor,
            str(ci_id),
            direction=impact.Direction(direction.value),
            max_depth=max_depth,
            relationship_types=relationship_types,
            max_results=max_results,
            explain=explain,
            ci_properties=properties,
        )
    )
    cis = report.cis
    if properties is None:  # partial CIs must not stand in for whole ones elsewhere
        for props in cis.values():
            ctx.loaders.ci.prime(props["id"], props)
    result = report.result
    return ImpactAnalysis(
        root=ConfigurationItem.from_props(cis[result.root]),
        direction=direction,
        affected=[
            ImpactedCI(
                ci=ConfigurationItem.from_props(cis[r.ci_id]),
                depth=r.depth,
                reason=r.reason or "",
                paths=[[_step(s.source, s.type, s.target, s.forward) for s in p] for p in r.paths],
            )
            for r in result.reached
            if r.ci_id in cis
        ],
        spared=[
            SparedCI(
                ci=ConfigurationItem.from_props(cis[s.ci_id]),
                reason=s.reason,
                redundancy_group=s.group,
                members=s.members,
                up=s.up,
                min_up=s.min_up,
            )
            for s in result.spared
            if s.ci_id in cis
        ],
        services=[ConfigurationItem.from_props(s) for s in report.services],
        slas=[_agreement(s) for s in report.slas],
        customers=[_agreement(c) for c in report.customers],
    )


@strawberry.type
class CMDBQuery:
    @strawberry.field(description="One CI by id.")
    async def ci(self, info: Info, id: strawberry.ID) -> ConfigurationItem | None:
        info.context.actor.require(Permission.READ)
        props = await info.context.loaders.ci.load(str(id))
        return ConfigurationItem.from_props(props) if props else None

    @strawberry.field(description="Search CIs: filters, full text, sorting, cursor paging.")
    async def cis(
        self,
        info: Info,
        filter: CIFilter | None = None,
        order_by: CIOrder | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CIConnection:
        ctx = info.context
        ctx.actor.require(Permission.READ)
        if first < 0 or first > MAX_PAGE:
            raise LimitExceeded("first", MAX_PAGE, f"first must be between 0 and {MAX_PAGE}")
        f = filter or CIFilter()
        if f.ci_class is not None:
            cmdb.ci_class(f.ci_class, field_name="filter.ciClass")
        if f.lifecycle is not None:
            cmdb.lifecycle(f.lifecycle, field_name="filter.lifecycle")
        if f.criticality is not None:
            cmdb.criticality(f.criticality, field_name="filter.criticality")
        attrs = _json_object(f.attributes, "filter.attributes")
        text = cmdb.full_text_search(f.search) if f.search is not None else None
        order = order_by or CIOrder()
        field = order.field.value
        cursor = decode_cursor(after, 2) if after else None
        filters = {
            "ci_class": f.ci_class,
            "lifecycle": f.lifecycle,
            "criticality": f.criticality,
            "attributes": attrs,
        }

        def read(tx: Any) -> tuple[list[tuple[dict[str, Any], Any]], int]:
            return ci_cypher.search(
                tx,
                filters=filters,
                text=text,
                order_field=field,
                descending=order.direction is SortDirection.DESC,
                after=(cursor[0], cursor[1]) if cursor else None,
                limit=first + 1,
            )

        rows, total = await ctx.run(ctx.store.read, cmdb.full_text_errors(read))
        for row, _ in rows:
            ctx.loaders.ci.prime(row["id"], row)
        edges = [
            CIEdge(
                cursor=encode_cursor(position, row["id"]), node=ConfigurationItem.from_props(row)
            )
            for row, position in rows[:first]
        ]
        return CIConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=total,
        )

    @strawberry.field(
        description="What is affected when this CI fails (DOWNSTREAM), or what it needs "
        "(UPSTREAM), following each relationship type's propagation and redundancy rules."
    )
    async def impact(
        self,
        info: Info,
        ci_id: strawberry.ID,
        direction: ImpactDirection = ImpactDirection.DOWNSTREAM,
        max_depth: int = 6,
        relationship_types: list[str] | None = None,
        max_results: int = 5000,
    ) -> ImpactAnalysis:
        return await _impact(info, ci_id, direction, max_depth, relationship_types, max_results)

    @strawberry.field(description="What this CI needs, transitively (the upstream impact).")
    async def dependencies(
        self,
        info: Info,
        ci_id: strawberry.ID,
        max_depth: int = 6,
        relationship_types: list[str] | None = None,
        max_results: int = 5000,
    ) -> ImpactAnalysis:
        return await _impact(
            info, ci_id, ImpactDirection.UPSTREAM, max_depth, relationship_types, max_results
        )

    @strawberry.field(
        description="How two CIs are connected: a shortest path, in any direction or (with "
        "direction) only the way a failure travels or a CI needs another."
    )
    async def path(
        self,
        info: Info,
        from_id: strawberry.ID,
        to_id: strawberry.ID,
        max_depth: int = 8,
        relationship_types: list[str] | None = None,
        direction: PathDirection = PathDirection.ANY,
    ) -> list[PathStep] | None:
        ctx = info.context
        ctx.actor.require(Permission.READ)
        if max_depth < 1 or max_depth > MAX_PATH_DEPTH:
            raise LimitExceeded(
                "maxDepth", MAX_PATH_DEPTH, f"maxDepth must be between 1 and {MAX_PATH_DEPTH}"
            )
        types = _types(relationship_types, "relationshipTypes")
        ends = await ctx.run(
            ctx.store.read, lambda tx: ci_cypher.by_ids(tx, [str(from_id), str(to_id)])
        )
        for name, value in (("fromId", str(from_id)), ("toId", str(to_id))):
            if value not in ends:
                raise NotFound("CI", value, field=name)
        if from_id == to_id:
            return []
        way = impact.PathDirection(direction.value)
        steps = await ctx.run(
            ctx.store.read,
            lambda tx: impact.path_between(
                tx, str(from_id), str(to_id), types, max_depth=max_depth, direction=way
            ),
        )
        return (
            None if steps is None else [_step(s.source, s.type, s.target, s.forward) for s in steps]
        )

    @strawberry.field(
        description="The CIs around one CI, for drawing: JSON, Graphviz DOT, Mermaid."
    )
    async def subgraph(
        self,
        info: Info,
        ci_id: strawberry.ID,
        depth: int = 2,
        relationship_types: list[str] | None = None,
        max_nodes: int = 500,
    ) -> Subgraph:
        ctx = info.context
        ctx.actor.require(Permission.READ)
        if depth < 1 or depth > 4:
            raise LimitExceeded("depth", 4, "depth must be between 1 and 4")
        if max_nodes < 1 or max_nodes > MAX_SUBGRAPH_NODES:
            raise LimitExceeded(
                "maxNodes",
                MAX_SUBGRAPH_NODES,
                f"maxNodes must be between 1 and {MAX_SUBGRAPH_NODES}",
            )
        types = _types(relationship_types, "relationshipTypes")
        nodes, edges, omitted = await ctx.run(
            ctx.store.read,
            lambda tx: ci_cypher.neighbourhood(tx, str(ci_id), types, depth, max_nodes - 1),
        )
        if not nodes:
            raise NotFound("CI", str(ci_id), field="ciId")
        return Subgraph(
            nodes=[ConfigurationItem.from_props(n) for n in nodes],
            edges=[_step(e["s"], e["type"], e["t"]) for e in edges],
            truncated=omitted > 0,
            omitted_nodes=omitted,
            json=JSON(
                {
                    "nodes": [
                        {
                            "id": n["id"],
                            "name": n["name"],
                            "ciClass": n["ciClass"],
                            "lifecycle": n["lifecycle"],
                        }
                        for n in nodes
                    ],
                    "edges": [
                        {"source": e["s"], "type": e["type"], "target": e["t"]} for e in edges
                    ],
                }
            ),
            dot=diagram.to_dot(nodes, edges),
            mermaid=diagram.to_mermaid(nodes, edges),
        )


@strawberry.type
class CMDBMutation:
    @strawberry.mutation(description="Register a new CI.")
    async def register_ci(self, info: Info, input: RegisterCIInput) -> ConfigurationItem:
        ctx = info.context
        new = cmdb.NewCI(
            ci_class=input.ci_class,
            name=input.name,
            lifecycle=input.lifecycle,
            criticality=input.criticality,
            owner=input.owner,
            description=input.description,
            attributes=_json_object(input.attributes, "attributes"),
        )
        props = await ctx.run(configuration.register_ci, ctx.store, ctx.actor, new)
        return ConfigurationItem.from_props(props)

    @strawberry.mutation(description="Change a CI. Send the version you read: stale ones conflict.")
    async def update_ci(self, info: Info, input: UpdateCIInput) -> ConfigurationItem:
        ctx = info.context
        changes = cmdb.CIChanges(
            name=input.name,
            lifecycle=input.lifecycle,
            criticality=input.criticality,
            owner=input.owner,
            description=input.description,
            attributes=_json_object(input.attributes, "attributes")
            if input.attributes is not None
            else None,
        )
        props = await ctx.run(
            configuration.change_ci, ctx.store, ctx.actor, str(input.id), input.version, changes
        )
        return ConfigurationItem.from_props(props)

    @strawberry.mutation(description="Retire a CI: kept with its history, no new relationships.")
    async def retire_ci(self, info: Info, id: strawberry.ID, version: int) -> ConfigurationItem:
        ctx = info.context
        props = await ctx.run(configuration.retire_ci, ctx.store, ctx.actor, str(id), version)
        return ConfigurationItem.from_props(props)

    @strawberry.mutation(description="Relate two CIs with a typed relationship.")
    async def relate_cis(self, info: Info, input: RelateCIsInput) -> RelateCIsPayload:
        ctx = info.context
        result = await ctx.run(
            configuration.relate_cis,
            ctx.store,
            ctx.actor,
            str(input.source_id),
            input.type,
            str(input.target_id),
            _json_object(input.attributes, "attributes"),
        )
        return RelateCIsPayload(
            source=ConfigurationItem.from_props(result["source"]),
            type=result["type"],
            target=ConfigurationItem.from_props(result["target"]),
        )

    @strawberry.mutation(description="Remove a relationship between two CIs.")
    async def unrelate_cis(
        self, info: Info, source_id: strawberry.ID, type: str, target_id: strawberry.ID
    ) -> bool:
        ctx = info.context
        return await ctx.run(
            configuration.unrelate_cis, ctx.store, ctx.actor, str(source_id), type, str(target_id)
        )

    @strawberry.mutation(
        description="Create or update many CIs and relationships, identified and reconciled by "
        "the CMDB's rules, in one transaction. Rejected items are reported, never half-written."
    )
    async def import_cis(self, info: Info, input: ImportCIsInput) -> ImportCIsPayload:
        ctx = info.context
        items = [
            reconciliation.ImportItem(
                ci_class=i.ci_class,
                name=i.name,
                key=i.key,
                lifecycle=i.lifecycle,
                criticality=i.criticality,
                owner=i.owner,
                description=i.description,
                attributes=_json_object(i.attributes, f"items[{n}].attributes"),
                clear=tuple(i.clear or ()),
            )
            for n, i in enumerate(input.items)
        ]
        rels = [
            reconciliation.ImportRelationship(
                type=r.type,
                source_key=r.source_key,
                source_id=str(r.source_id) if r.source_id is not None else None,
                target_key=r.target_key,
                target_id=str(r.target_id) if r.target_id is not None else None,
                attributes=_json_object(r.attributes, f"relationships[{n}].attributes"),
            )
            for n, r in enumerate(input.relationships)
        ]
        result = await ctx.run(
            lambda: reconciliation.import_cis(
                ctx.store, ctx.actor, input.source, items, rels, dry_run=input.dry_run
            )
        )
        outcome = reconciliation.Outcome
        return ImportCIsPayload(
            dry_run=result.dry_run,
            created=result.count(outcome.CREATED),
            updated=result.count(outcome.UPDATED),
            unchanged=result.count(outcome.UNCHANGED),
            rejected=result.count(outcome.REJECTED),
            items=[
                ImportItemResult(
                    index=r.index,
                    key=r.key,
                    ci_id=strawberry.ID(r.ci_id) if r.ci_id else None,
                    status=ImportStatus(r.outcome.value),
                    changed_attributes=r.changed,
                    skipped_attributes=r.skipped,
                    error=_import_error(r.error),
                )
                for r in result.items
            ],
            relationships=[
                ImportRelationshipResult(
                    index=r.index,
                    status=ImportStatus(r.outcome.value),
                    error=_import_error(r.error),
                )
                for r in result.relationships
            ],
        )
