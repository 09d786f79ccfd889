"""Resolvers about the caller, and the one place every read is checked."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.base import get_object_definition

from core.access import Permission
from schema.common import Me
from schema.context import Info


class MayRead(BasePermission):
    """The READ permission. The actor's own check raises the typed error (UNAUTHENTICATED or
    FORBIDDEN, with its HTTP status), so the denial reads the same wherever it happens."""

    message = "this query needs the read permission"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        info.context.actor.require(Permission.READ)
        return True


Q = TypeVar("Q", bound=type)


def reads_need_permission(query: Q) -> Q:
    """Check READ on every field of the root Query, and only there: a field below the root is
    reached through one of these, and a check on it would take it off the plain-field path."""
    definition = get_object_definition(query, strict=True)
    for field in definition.fields:
        if not any(isinstance(p, MayRead) for p in _permissions(field)):
            field.permission_classes.append(MayRead)
            field.extensions.append(PermissionExtension([MayRead()], use_directives=False))
    return query


def _permissions(field: Any) -> list[BasePermission]:
    return [
        p
        for extension in field.extensions
        if isinstance(extension, PermissionExtension)
        for p in extension.permissions
    ]


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
