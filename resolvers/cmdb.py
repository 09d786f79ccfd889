"""Resolvers for Configuration Management: GraphQL input → domain call → GraphQL type."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from core.errors import ValidationFailed
from core.ids import record_id, to_global_id
from domain import cmdb, cmdb_reads, configuration, diagram, impact, reconciliation
from resolvers.payloads import refusals_in_payload
from schema.cmdb import (
    AgreementRef,
    AuthoritativeSource,
    CIClassInfo,
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
    Propagation,
    RegisterCIInput,
    RegisterCIPayload,
    Registry,
    RelateCIsInput,
    RelationshipPayload,
    RelationshipTypeInfo,
    RetireCIInput,
    RetireCIPayload,
    SparedCI,
    Subgraph,
    UnrelateCIsInput,
    UpdateCIInput,
    UpdateCIPayload,
    ci_global_id,
    path_step,
)
from schema.context import Info
from schema.paging import (
    After,
    Before,
    Connection,
    First,
    Last,
    connection_of_rows,
    page_request,
    wants_total,
)
from schema.records import SortDirection, stored

DEFAULT_CIS_PAGE = 50


def ci_ref(value: str | None, field: str) -> str:
    """The stored id of a CI named in an input by global or bare id."""
    return record_id(str(value), "CI", field=field)


def _json_object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(field, "not_an_object", f"{field} must be a JSON object")
    return value


def _agreement(label: str, props: dict[str, Any]) -> AgreementRef:
    return AgreementRef(
        id=strawberry.ID(to_global_id(label, props["id"])),
        name=props["name"],
        number=props.get("number"),
    )


def _import_error(error: ValidationFailed | None) -> ImportError | None:
    if error is None:
        return None
    return ImportError(field=error.field, reason=error.reason, message=error.message)


def _lowered(value: str | None) -> str | None:
    """Import items take enum names (LIVE) as well as the stored values (live)."""
    return value.lower() if value is not None else None


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
    root = ci_ref(ci_id, "ciId")
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
            root,
            direction=impact.Direction(stored(direction)),
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
                paths=[
                    [path_step(s.source, s.type, s.target, s.forward) for s in p] for p in r.paths
                ],
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
        slas=[_agreement("SLA", s) for s in report.slas],
        customers=[_agreement("Customer", c) for c in report.customers],
    )


RelationshipTypes = Annotated[
    list[str] | None,
    strawberry.argument(description="Only these relationship types; all when not given."),
]
ImpactDepth = Annotated[
    int, strawberry.argument(description="How many relationships away to look, 1 to 10.")
]
MaxResults = Annotated[
    int,
    strawberry.argument(description="Refuse (LIMIT_EXCEEDED) rather than answer with more CIs."),
]


def _registry() -> Registry:
    def classes(names: frozenset[str]) -> list[str] | None:
        return None if "*" in names else sorted(names)

    return Registry(
        ci_classes=[
            CIClassInfo(
                name=c.name,
                description=c.description,
                attributes=sorted(c.attributes),
                identification_rules=[list(rule) for rule in c.identification],
                authoritative_sources=[
                    AuthoritativeSource(field=f, source=s)
                    for f, s in sorted(c.authoritative.items())
                ],
            )
            for c in sorted(cmdb.CI_CLASSES.values(), key=lambda c: c.name)
        ],
        relationship_types=[
            RelationshipTypeInfo(
                name=r.name,
                description=r.description,
                propagation=Propagation(r.propagation.value),
                source_classes=classes(r.sources),
                target_classes=classes(r.targets),
            )
            for r in sorted(cmdb.RELATIONSHIP_TYPES.values(), key=lambda r: r.name)
        ],
    )


@strawberry.type
class CMDBQuery:
    @strawberry.field(description="One CI by id; null when there is none.")
    async def ci(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The CI's global or stored id.")
        ],
    ) -> ConfigurationItem | None:
        props = await info.context.loaders.ci.load(ci_ref(id, "id"))
        return ConfigurationItem.from_props(props) if props else None

    @strawberry.field(
        description="Search CIs: filters, full text, sorting, cursor paging; 50 to a page unless "
        "`first` or `last` says."
    )
    async def cis(
        self,
        info: Info,
        filter: Annotated[
            CIFilter | None,
            strawberry.argument(
                description="Conditions the CIs must meet; every CI when not given."
            ),
        ] = None,
        order_by: Annotated[
            CIOrder | None,
            strawberry.argument(description="The sort order; by name, A to Z, when not given."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ConfigurationItem]:
        ctx = info.context
        request = page_request(
            first=first, after=after, last=last, before=before, default=DEFAULT_CIS_PAGE, key_size=2
        )
        f = filter or CIFilter()
        order = order_by or CIOrder()
        query = cmdb_reads.CISearch(
            ci_class=f.ci_class,
            lifecycle=stored(f.lifecycle) if f.lifecycle else None,
            criticality=stored(f.criticality) if f.criticality else None,
            attributes=_json_object(f.attributes, "filter.attributes"),
            text=f.search,
            order_field=stored(order.field),
            descending=order.direction is SortDirection.DESC,
            after=request.after_key,
            before=request.before_key,
            backward=request.backward,
            limit=request.size + 1,
            count=wants_total(info),
        )
        rows, total = await ctx.run(cmdb_reads.search_cis, ctx.store, query)

        def node(row: dict[str, Any]) -> ConfigurationItem:
            ctx.loaders.ci.prime(row["id"], row)
            return ConfigurationItem.from_props(row)

        return connection_of_rows(request, rows, total, node)

    @strawberry.field(
        description="What is affected when this CI fails (DOWNSTREAM), or what it needs "
        "(UPSTREAM), following each relationship type's propagation and redundancy rules."
    )
    async def impact(
        self,
        info: Info,
        ci_id: Annotated[strawberry.ID, strawberry.argument(description="The CI that fails.")],
        direction: Annotated[
            ImpactDirection, strawberry.argument(description="Which way to walk.")
        ] = ImpactDirection.DOWNSTREAM,
        max_depth: ImpactDepth = 6,
        relationship_types: RelationshipTypes = None,
        max_results: MaxResults = 5000,
    ) -> ImpactAnalysis:
        return await _impact(info, ci_id, direction, max_depth, relationship_types, max_results)

    @strawberry.field(description="What this CI needs, transitively (the upstream impact).")
    async def dependencies(
        self,
        info: Info,
        ci_id: Annotated[
            strawberry.ID, strawberry.argument(description="The CI whose needs to list.")
        ],
        max_depth: ImpactDepth = 6,
        relationship_types: RelationshipTypes = None,
        max_results: MaxResults = 5000,
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
        from_id: Annotated[strawberry.ID, strawberry.argument(description="The CI to start from.")],
        to_id: Annotated[strawberry.ID, strawberry.argument(description="The CI to reach.")],
        max_depth: Annotated[
            int,
            strawberry.argument(description="The longest path to look for, 1 to 12 relationships."),
        ] = 8,
        relationship_types: RelationshipTypes = None,
        direction: Annotated[
            PathDirection,
            strawberry.argument(description="ANY, or only the way impact or dependencies walk."),
        ] = PathDirection.ANY,
    ) -> list[PathStep] | None:
        ctx = info.context
        start, end = ci_ref(from_id, "fromId"), ci_ref(to_id, "toId")
        steps = await ctx.run(
            lambda: cmdb_reads.shortest_path(
                ctx.store,
                start,
                end,
                max_depth=max_depth,
                relationship_types=relationship_types,
                direction=impact.PathDirection(stored(direction)),
            )
        )
        if steps is None:
            return None
        return [path_step(s.source, s.type, s.target, s.forward) for s in steps]

    @strawberry.field(
        description="The CIs around one CI, for drawing: JSON, Graphviz DOT, Mermaid."
    )
    async def subgraph(
        self,
        info: Info,
        ci_id: Annotated[strawberry.ID, strawberry.argument(description="The CI in the middle.")],
        depth: Annotated[
            int, strawberry.argument(description="How many relationships away, 1 to 4.")
        ] = 2,
        relationship_types: RelationshipTypes = None,
        max_nodes: Annotated[
            int, strawberry.argument(description="The most CIs to draw, 1 to 2000.")
        ] = 500,
    ) -> Subgraph:
        ctx = info.context
        middle = ci_ref(ci_id, "ciId")
        nodes, edges, omitted = await ctx.run(
            lambda: cmdb_reads.neighbourhood(
                ctx.store,
                middle,
                depth=depth,
                relationship_types=relationship_types,
                max_nodes=max_nodes,
            )
        )
        return Subgraph(
            nodes=[ConfigurationItem.from_props(n) for n in nodes],
            edges=[path_step(e["s"], e["type"], e["t"]) for e in edges],
            truncated=omitted > 0,
            omitted_nodes=omitted,
            json=JSON(
                {
                    "nodes": [
                        {
                            "id": ci_global_id(n["id"]),
                            "name": n["name"],
                            "ciClass": n["ciClass"],
                            "lifecycle": n["lifecycle"],
                        }
                        for n in nodes
                    ],
                    "edges": [
                        {
                            "source": ci_global_id(e["s"]),
                            "type": e["type"],
                            "target": ci_global_id(e["t"]),
                        }
                        for e in edges
                    ],
                }
            ),
            dot=diagram.to_dot(nodes, edges),
            mermaid=diagram.to_mermaid(nodes, edges),
        )

    @strawberry.field(
        description="The CI classes and relationship types this CMDB accepts: what `ciClass` "
        "and relationship `type` may be, with their rules."
    )
    def registry(self) -> Registry:
        return _registry()


@strawberry.type
class CMDBMutation:
    @strawberry.mutation(description="Register a new CI.")
    @refusals_in_payload(RegisterCIPayload)
    async def register_ci(
        self,
        info: Info,
        input: Annotated[RegisterCIInput, strawberry.argument(description="The new CI.")],
    ) -> RegisterCIPayload:
        ctx = info.context
        new = cmdb.NewCI(
            ci_class=input.ci_class,
            name=input.name,
            lifecycle=stored(input.lifecycle),
            criticality=stored(input.criticality),
            owner=input.owner,
            description=input.description,
            attributes=_json_object(input.attributes, "attributes"),
        )
        props = await ctx.run(configuration.register_ci, ctx.store, ctx.actor, new)
        return RegisterCIPayload(ci=ConfigurationItem.from_props(props))

    @strawberry.mutation(description="Change a CI. Send the version you read: stale ones conflict.")
    @refusals_in_payload(UpdateCIPayload)
    async def update_ci(
        self,
        info: Info,
        input: Annotated[UpdateCIInput, strawberry.argument(description="The changes.")],
    ) -> UpdateCIPayload:
        ctx = info.context
        changes = cmdb.CIChanges(
            name=input.name,
            lifecycle=stored(input.lifecycle) if input.lifecycle else None,
            criticality=stored(input.criticality) if input.criticality else None,
            owner=input.owner,
            description=input.description,
            attributes=_json_object(input.attributes, "attributes")
            if input.attributes is not None
            else None,
        )
        ci_id = ci_ref(input.id, "id")
        props = await ctx.run(
            configuration.change_ci, ctx.store, ctx.actor, ci_id, input.version, changes
        )
        return UpdateCIPayload(ci=ConfigurationItem.from_props(props))

    @strawberry.mutation(description="Retire a CI: kept with its history, no new relationships.")
    @refusals_in_payload(RetireCIPayload)
    async def retire_ci(
        self,
        info: Info,
        input: Annotated[RetireCIInput, strawberry.argument(description="The CI.")],
    ) -> RetireCIPayload:
        ctx = info.context
        ci_id = ci_ref(input.id, "id")
        props = await ctx.run(configuration.retire_ci, ctx.store, ctx.actor, ci_id, input.version)
        return RetireCIPayload(ci=ConfigurationItem.from_props(props))

    @strawberry.mutation(description="Relate two CIs with a typed relationship.")
    @refusals_in_payload(RelationshipPayload)
    async def relate_cis(
        self,
        info: Info,
        input: Annotated[RelateCIsInput, strawberry.argument(description="The relationship.")],
    ) -> RelationshipPayload:
        ctx = info.context
        result = await ctx.run(
            configuration.relate_cis,
            ctx.store,
            ctx.actor,
            ci_ref(input.source_id, "sourceId"),
            input.type,
            ci_ref(input.target_id, "targetId"),
            _json_object(input.attributes, "attributes"),
        )
        return RelationshipPayload(
            source=ConfigurationItem.from_props(result["source"]),
            type=result["type"],
            target=ConfigurationItem.from_props(result["target"]),
        )

    @strawberry.mutation(description="Remove a relationship between two CIs.")
    @refusals_in_payload(RelationshipPayload)
    async def unrelate_cis(
        self,
        info: Info,
        input: Annotated[UnrelateCIsInput, strawberry.argument(description="The relationship.")],
    ) -> RelationshipPayload:
        ctx = info.context
        source, target = ci_ref(input.source_id, "sourceId"), ci_ref(input.target_id, "targetId")
        rel_type = cmdb.relationship_type(input.type).name

        def unrelate() -> dict[str, dict[str, Any]]:
            configuration.unrelate_cis(ctx.store, ctx.actor, source, rel_type, target)
            return cmdb_reads.cis_by_ids(ctx.store, [source, target])

        ends = await ctx.run(unrelate)
        return RelationshipPayload(
            source=ConfigurationItem.from_props(ends[source]),
            type=rel_type,
            target=ConfigurationItem.from_props(ends[target]),
        )

    @strawberry.mutation(
        description="Create or update many CIs and relationships, identified and reconciled by "
        "the CMDB's rules, in one transaction. Rejected items are reported, never half-written."
    )
    @refusals_in_payload(ImportCIsPayload)
    async def import_cis(
        self,
        info: Info,
        input: Annotated[
            ImportCIsInput, strawberry.argument(description="The data and its source.")
        ],
    ) -> ImportCIsPayload:
        ctx = info.context
        items = [
            reconciliation.ImportItem(
                ci_class=i.ci_class,
                name=i.name,
                key=i.key,
                lifecycle=_lowered(i.lifecycle),
                criticality=_lowered(i.criticality),
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
                source_id=ci_ref(r.source_id, f"relationships[{n}].sourceId")
                if r.source_id is not None
                else None,
                target_key=r.target_key,
                target_id=ci_ref(r.target_id, f"relationships[{n}].targetId")
                if r.target_id is not None
                else None,
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
                    ci_id=ci_global_id(r.ci_id) if r.ci_id else None,
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
