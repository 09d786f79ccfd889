"""Types shared by every process: the Node interface, audit entries, user errors, the caller."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from core.ids import to_global_id


def to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int):  # epoch milliseconds, as graphdb.cypher.ci.CI_VIEW returns them
        return datetime.fromtimestamp(value / 1000, UTC)
    if hasattr(value, "to_native"):
        native: datetime = value.to_native()
        return native
    return value if isinstance(value, datetime) else None


@strawberry.interface(
    description="A record with a global id: fetch any record again with `node(id:)`, whatever "
    "its type."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="The global id: opaque, unique across every type of record, stable for the "
        "record's life. Inputs also accept the bare stored id (see `number` for what people quote)."
    )


@strawberry.type(description="One change to a record: who, when, what it was and what it became.")
class AuditEntry(Node):
    actor: str = strawberry.field(description="The name of the user or token that made the change.")
    actor_role: str | None = strawberry.field(description="The role it acted in; null for system.")
    at: datetime = strawberry.field(description="When the change was committed.")
    action: str = strawberry.field(
        description="What was done: create, update, relate, unrelate, import, …"
    )
    record_label: str = strawberry.field(description="The type of the record changed, e.g. CI.")
    record_id: strawberry.ID = strawberry.field(description="The global id of the record changed.")
    before: JSON | None = strawberry.field(
        description="The changed properties as they were, by stored name; null on creation."
    )
    after: JSON | None = strawberry.field(
        description="The changed properties as they became, by stored name."
    )

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> AuditEntry:
        return cls(
            id=strawberry.ID(to_global_id("AuditEntry", props["id"])),
            actor=props["actor"],
            actor_role=props.get("actorRole"),
            at=to_datetime(props["at"]) or datetime.min,
            action=props["action"],
            record_label=props["recordLabel"],
            record_id=strawberry.ID(to_global_id(props["recordLabel"], props["recordId"])),
            before=json.loads(props["before"]) if props.get("before") else None,
            after=json.loads(props["after"]) if props.get("after") else None,
        )


@strawberry.type(
    description="Why a mutation refused its input. Nothing of a refused mutation is written."
)
class UserError:
    code: str = strawberry.field(
        description="The stable reason in UPPER_SNAKE, for scripts to branch on: UNKNOWN_CLASS, "
        "ATTRIBUTE_NOT_ALLOWED, DUPLICATE, NOT_FOUND, CONFLICT, LIMIT_EXCEEDED, …"
    )
    field: list[str] | None = strawberry.field(
        description='The path of the input field at fault, e.g. ["input", "attributes", "os"]; '
        "null when the input as a whole is refused."
    )
    message: str = strawberry.field(description="What is wrong, for a person to read.")


@strawberry.type(description="What every mutation answers: why its input was refused, if it was.")
class MutationPayload:
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why the input was refused; empty when the mutation was done. A refused "
        "mutation has written nothing.",
    )


@strawberry.type(description="The caller as the API sees it.")
class Me:
    id: str = strawberry.field(description="The id of the API token, or 'anonymous'.")
    name: str = strawberry.field(description="The token's name, as audit entries record it.")
    role: str | None = strawberry.field(description="The token's role; null when anonymous.")
    permissions: list[str] = strawberry.field(description="What the role may do, sorted.")
