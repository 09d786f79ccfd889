"""Resolvers for Configuration Management."""

from __future__ import annotations

from typing import Any

import strawberry

from domain import cmdb, configuration
from domain.access import Permission
from domain.errors import LimitExceeded, NotFound, ValidationFailed
from graphdb.cypher import ci as ci_cypher
from schema.cmdb import (
    CIConnection,
    CIEdge,
    ConfigurationItem,
    RegisterCIInput,
    RelateCIsInput,
    RelateCIsPayload,
    UpdateCIInput,
)
from schema.common import PageInfo, decode_cursor, encode_cursor
from schema.context import Info

MAX_PAGE = 500


def _json_object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(field, "not_an_object", f"{field} must be a JSON object")
    return value


@strawberry.type
class CMDBQuery:
    @strawberry.field(description="One CI by id.")
    async def ci(self, info: Info, id: strawberry.ID) -> ConfigurationItem | None:
        info.context.actor.require(Permission.READ)
        props = await info.context.loaders.ci.load(str(id))
        return ConfigurationItem.from_props(props) if props else None

    @strawberry.field(description="CIs by name, filtered by class and lifecycle; cursor paging.")
    async def cis(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        ci_class: str | None = None,
        lifecycle: str | None = None,
    ) -> CIConnection:
        ctx = info.context
        ctx.actor.require(Permission.READ)
        if first < 0 or first > MAX_PAGE:
            raise LimitExceeded("first", MAX_PAGE, f"first must be between 0 and {MAX_PAGE}")
        if ci_class is not None:
            cmdb.ci_class(ci_class)
        if lifecycle is not None:
            cmdb.lifecycle(lifecycle)
        cursor = tuple(decode_cursor(after, 2)) if after else None

        def read(tx: Any) -> tuple[list[dict[str, Any]], int]:
            rows = ci_cypher.page(
                tx, ci_class=ci_class, lifecycle=lifecycle, name_after=cursor, limit=first + 1
            )
            return rows, ci_cypher.count(tx, ci_class=ci_class, lifecycle=lifecycle)

        rows, total = await ctx.run(ctx.store.read, read)
        for row in rows:
            ctx.loaders.ci.prime(row["id"], row)
        edges = [
            CIEdge(cursor=encode_cursor(r["name"], r["id"]), node=ConfigurationItem.from_props(r))
            for r in rows[:first]
        ]
        return CIConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
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


__all__ = ["CMDBMutation", "CMDBQuery", "NotFound"]
