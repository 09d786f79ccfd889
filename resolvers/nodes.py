"""Global object identification: any record by its global id, through the per-request loaders."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from core.errors import LimitExceeded
from core.ids import parse_global_id
from schema.cmdb import ConfigurationItem
from schema.common import AuditEntry, Node
from schema.context import Info
from schema.records import NODE_TYPES

MAX_NODES = 100


async def _node(info: Info, global_id: str) -> Node | None:
    parsed = parse_global_id(global_id)
    # A bare stored id carries no type; before global ids only CIs were fetched by id.
    label, stored = parsed if parsed is not None else ("CI", global_id)
    loaders = info.context.loaders
    if label == "CI":
        props = await loaders.ci.load(stored)
        return ConfigurationItem.from_props(props) if props else None
    if label == "AuditEntry":
        props = await loaders.audit_entry.load(stored)
        return AuditEntry.from_props(props) if props else None
    served = NODE_TYPES.get(label)
    # A type registered by a module this schema does not include has no records here.
    if served is None or info.schema.get_type_by_name(served.graphql_name) is None:
        return None  # a type this API does not serve records of (yet)
    props = await loaders.record(served.record).load(stored)
    return served.from_props(props) if props else None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any record by its global id; null when there is none.")
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        return await _node(info, str(id))

    @strawberry.field(
        description=f"Records by global id, in the order asked, null where there is none; at "
        f"most {MAX_NODES} ids, read in one round trip per type."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise LimitExceeded("ids", MAX_NODES, f"ask for at most {MAX_NODES} ids at a time")
        # Gathered, the loads of one type reach their loader together: one batch.
        return list(await asyncio.gather(*(_node(info, str(i)) for i in ids)))
