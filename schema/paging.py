"""Connections: one generic page type and one set of paging rules for every list that can grow.

The rules are Relay's (https://relay.dev/graphql/connections.htm): `after` and `before` bound the
list, then `first` takes from its start or `last` from its end; `first` and `last` together, or
a negative size, are refused. Cursors are opaque: base64 of the sort key of the item they point at,
so that a page seeks to its place in an index instead of counting rows before it.

Strawberry ships `strawberry.relay.Connection`, but its node type is bound to `relay.Node` and its
cursors are offsets; relationships are not nodes, and offsets shift while CIs are added, so this
module has its own small generic.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.types.nodes import SelectedField

from core.errors import LimitExceeded, ValidationFailed

MAX_PAGE_SIZE = 500
"""The most items one page may ask for, in every connection."""

T = TypeVar("T")

# The paging arguments, declared once for every connection.
First = Annotated[
    int | None,
    strawberry.argument(
        description=f"Take this many items from the start (after `after`); at most "
        f"{MAX_PAGE_SIZE}. The page size when neither `first` nor `last` is given is the field's."
    ),
]
After = Annotated[str | None, strawberry.argument(description="Only items after this cursor.")]
Last = Annotated[
    int | None,
    strawberry.argument(
        description=f"Take this many items from the end (before `before`); at most "
        f"{MAX_PAGE_SIZE}; not together with `first`."
    ),
]
Before = Annotated[str | None, strawberry.argument(description="Only items before this cursor.")]


@strawberry.type(description="Where a page stands in its list, and the cursors to move from it.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow this page. Paging backwards, true whenever `before` was "
        "given (the item at that cursor follows)."
    )
    has_previous_page: bool = strawberry.field(
        description="More items precede this page. Paging forwards, true whenever `after` was "
        "given (the item at that cursor precedes)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item on this page, for `before`; null on an "
        "empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item on this page, for `after`; null on an empty page."
    )


@strawberry.type(description="One item of a page, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        description="Opaque; pass it as `after` or `before` to page on from this item."
    )
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, with the total and the cursors to move on.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Whether more items precede or follow.")
    # Counting is a second query over everything the filters match: only done when asked for
    # (`wants_total`), so None means "not selected", never shown.
    total: strawberry.Private[int | None] = None

    @strawberry.field(
        description="How many items the whole list holds, ignoring the paging arguments."
    )
    def total_count(self) -> int:
        if self.total is None:
            raise RuntimeError("totalCount was selected but not counted")
        return self.total


def wants_total(info: Any) -> bool:
    """Whether the connection field being resolved selects `totalCount`, through fragments."""

    def among(selections: Sequence[Any]) -> bool:
        for selection in selections:
            if isinstance(selection, SelectedField):
                if selection.name == "totalCount":
                    return True
            elif among(selection.selections):  # a fragment: its fields are of this level
                return True
        return False

    return any(among(field.selections) for field in info.selected_fields)


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


@dataclass(frozen=True)
class PageRequest:
    """Checked paging arguments: how many items, from which end, between which sort keys."""

    size: int
    backward: bool  # `last`: the page is taken from the end of the bounded list
    after: list[Any] | None
    before: list[Any] | None

    @property
    def after_key(self) -> tuple[Any, str] | None:
        """`after` as (position in the order, id), the bound a record page seeks to."""
        return (self.after[0], self.after[1]) if self.after else None

    @property
    def before_key(self) -> tuple[Any, str] | None:
        return (self.before[0], self.before[1]) if self.before else None


def page_request(
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    default: int,
    key_size: int,
) -> PageRequest:
    """Check Relay paging arguments; `default` is the page size when neither size is given."""
    if first is not None and last is not None:
        raise ValidationFailed(
            "last", "first_and_last", "give first (with after) or last (with before), not both"
        )
    for name, value in (("first", first), ("last", last)):
        if value is not None and value < 0:
            raise ValidationFailed(name, "negative", f"{name} cannot be negative")
        if value is not None and value > MAX_PAGE_SIZE:
            raise LimitExceeded(
                name, MAX_PAGE_SIZE, f"{name} must be at most {MAX_PAGE_SIZE} items per page"
            )
    return PageRequest(
        size=last if last is not None else first if first is not None else default,
        backward=last is not None,
        after=decode_cursor(after, key_size, field="after") if after is not None else None,
        before=decode_cursor(before, key_size, field="before") if before is not None else None,
    )


def page_info(request: PageRequest, edges: Sequence[Edge[Any]], *, more: bool) -> PageInfo:
    """For a page read from the database: `more` says the read found items beyond the page at
    the end it was taken from; the other side is only known to hold the item at the cursor."""
    if request.backward:
        return _info(edges, previous=more, following=request.before is not None)
    return _info(edges, previous=request.after is not None, following=more)


def _info(edges: Sequence[Edge[Any]], *, previous: bool, following: bool) -> PageInfo:
    return PageInfo(
        has_next_page=following,
        has_previous_page=previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


def page_of_sorted(
    items: Sequence[T], keys: Sequence[tuple[Any, ...]], request: PageRequest
) -> tuple[list[Edge[T]], PageInfo]:
    """A page of a list already in memory and sorted by `keys` (one unique key per item); with
    the whole list at hand, both sides of the page are known exactly."""
    start = bisect.bisect_right(keys, tuple(request.after)) if request.after else 0
    end = bisect.bisect_left(keys, tuple(request.before)) if request.before else len(keys)
    end = max(start, end)
    if request.backward:
        window = range(max(start, end - request.size), end)
    else:
        window = range(start, min(end, start + request.size))
    edges = [Edge(cursor=encode_cursor(*keys[i]), node=items[i]) for i in window]
    return edges, _info(edges, previous=window.start > 0, following=window.stop < len(keys))


def connection_of_rows(
    request: PageRequest,
    rows: Sequence[tuple[dict[str, Any], Any]],
    total: int | None,
    node: Callable[[dict[str, Any]], T],
) -> Connection[T]:
    """A connection from records read with one row beyond the page (`limit=request.size + 1`),
    each with its position in the order; the extra row, at the far end of the page, says only
    that there is more."""
    more = len(rows) > request.size
    chosen = rows[max(0, len(rows) - request.size) :] if request.backward else rows[: request.size]
    edges = [
        Edge(cursor=encode_cursor(position, row["id"]), node=node(row)) for row, position in chosen
    ]
    return Connection(edges=edges, page_info=page_info(request, edges, more=more), total=total)
