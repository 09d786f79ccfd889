"""Resolvers about the caller."""

from __future__ import annotations

import strawberry

from schema.common import Me
from schema.context import Info


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who the API thinks you are, and what you may do.")
    def me(self, info: Info) -> Me:
        actor = info.context.actor
        return Me(
            id=actor.id,
            name=actor.name,
            role=actor.role.value if actor.role else None,
            permissions=sorted(p.value for p in actor.permissions),
        )
