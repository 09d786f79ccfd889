"""Types shared by every process: audit entries, page info, cursors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from core.errors import ValidationFailed


def to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int):  # epoch milliseconds, as graphdb.cypher.ci.CI_VIEW returns them
        return datetime.fromtimestamp(value / 1000, UTC)
    if hasattr(value, "to_native"):
        native: datetime = value.to_native()
        return native
    return value if isinstance(value, datetime) else None


@strawberry.type(description="One change to a record: who, when, what it was and what it became.")
class AuditEntry:
    id: strawberry.ID
    actor: str
    actor_role: str | None
    at: datetime
    action: str
    record_label: str
    record_id: str
    before: JSON | None
    after: JSON | None

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> AuditEntry:
        return cls(
            id=strawberry.ID(props["id"]),
            actor=props["actor"],
            actor_role=props.get("actorRole"),
            at=to_datetime(props["at"]) or datetime.min,
            action=props["action"],
            record_label=props["recordLabel"],
            record_id=props["recordId"],
            before=json.loads(props["before"]) if props.get("before") else None,
            after=json.loads(props["after"]) if props.get("after") else None,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def decode_cursor(cursor: str, size: int, *, field: str = "after") -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        parts = None
    if not isinstance(parts, list) or len(parts) != size:
        raise ValidationFailed(field, "bad_cursor", "this cursor was not issued by this API")
    return parts


@strawberry.type(description="The caller as the API sees it.")
class Me:
    id: str
    name: str
    role: str | None
    permissions: list[str]
