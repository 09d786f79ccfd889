"""The shortcut executor answers exactly as graphql-core does: same data, same errors, same paths.

Each query runs twice over the same objects, once with Strawberry's own execution context and once
with `PlainFieldExecutor`, including data the schema refuses (nulls in non-null fields, values a
scalar cannot coerce, failing resolvers), so that the shortcut's hand-over to the general path is
exercised wherever it can happen.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission

from schema.execution import PlainFieldExecutor
from schema.root import build_schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):  # an interface gives the type a type check: it stays on the general path
    id: strawberry.ID
    note: str | None
    count: int
    colour: Colour
    seen: datetime | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Owner:  # no interface: completed by the shortcut, as are fields holding one
    name: str
    rank: int

    @strawberry.field
    async def badge(self) -> str:
        await asyncio.sleep(0)
        if not self.name:
            raise ValueError("no badge without a name")
        return f"#{self.rank:03d} {self.name}"


class NobodyMayLook(BasePermission):
    message = "the audit trail is for managers"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Shouted(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Guarded:  # attribute reads that Strawberry wraps: none of them may take the shortcut
    name: str
    secret: str | None = strawberry.field(permission_classes=[NobodyMayLook])
    loud: str = strawberry.field(extensions=[Shouted()])


@strawberry.type
class Pair:
    depth: int
    label: str | None
    leaf: Leaf
    maybe: Leaf | None
    owner: Owner
    backup: Owner | None
    guarded: Guarded

    @strawberry.field
    async def later(self) -> Leaf:
        await asyncio.sleep(0)
        return self.leaf

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("this resolver fails")


@strawberry.type
class Query:
    pairs: list[Pair]
    maybe_pairs: list[Pair | None] | None
    odd_pairs: list[Pair | None]  # holds an exception as an item: an error at that index
    first: Pair


def _leaf(n: int, **overrides: Any) -> Leaf:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"ci-{n}"),
        "name": f"leaf {n}",
        "note": None if n % 2 else f"note {n}",
        "count": n,
        "colour": Colour.RED if n % 3 else Colour.BLUE,
        "seen": datetime(2026, 1, 1 + n % 28, tzinfo=UTC),
    }
    values.update(overrides)
    return Leaf(**values)


def _pair(n: int, **overrides: Any) -> Pair:
    values: dict[str, Any] = {
        "depth": n,
        "label": f"pair {n}" if n % 2 else None,
        "leaf": _leaf(n),
        "maybe": _leaf(n + 100) if n % 2 else None,
        "owner": Owner(name=f"owner {n}", rank=n),
        "backup": Owner(name=f"backup {n}", rank=-n) if n % 2 else None,
        "guarded": Guarded(name=f"guarded {n}", secret=f"secret {n}", loud=f"loud {n}"),
    }
    values.update(overrides)
    return Pair(**values)


def _root(bad: dict[str, Any] | None = None) -> Query:
    pairs = [_pair(n) for n in range(6)]
    if bad:
        pairs[3] = _pair(3, **bad)
    return Query(
        pairs=pairs,
        maybe_pairs=[*pairs[:2], None, pairs[3]],
        odd_pairs=[pairs[0], ValueError("item refused"), None],  # type: ignore[list-item]
        first=pairs[3],
    )


def _run(
    executor: type | None, query: str, root: Query, schema: strawberry.Schema | None = None
) -> tuple[Any, list[tuple[str, Any]]]:
    kwargs = {"execution_context_class": executor} if executor else {}
    schema = schema or strawberry.Schema(query=Query, **kwargs)

    async def execute() -> Any:
        result = await schema.execute(query, root_value=root)
        # An error that nulls a list leaves its siblings' resolvers to settle in the background.
        for _ in range(5):
            await asyncio.sleep(0)
        return result

    result = asyncio.run(execute())
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


FULL = """
fragment leafFields on Leaf { id name note count colour seen shout __typename }
query {
  pairs {
    depth label kind: __typename
    owner { name rank badge } backup { name rank badge }
    leaf { ...leafFields }
    maybe { ...leafFields }
    later { id name }
    again: leaf { name @include(if: false) count }
    guarded { name secret loud }
  }
  maybePairs { depth leaf { id } maybe { name } }
  oddPairs { depth owner { name } }
  first { depth broken leaf { id } }
}
"""

BROKEN_DATA = [
    pytest.param(None, id="sound data"),
    pytest.param({"depth": None}, id="null in a non-null scalar"),
    pytest.param({"depth": "three"}, id="value the scalar refuses"),
    pytest.param({"label": 7}, id="int where a string is declared"),
    pytest.param({"leaf": None}, id="null in a non-null object"),
    pytest.param({"maybe": _leaf(5, count=None)}, id="null inside a nullable object"),
    pytest.param({"owner": Owner(name="o", rank=None)}, id="null inside a non-null object"),
    pytest.param({"backup": Owner(name=None, rank=1)}, id="null inside a nullable plain object"),
    pytest.param({"backup": Owner(name="", rank=1)}, id="failure awaited in a plain object"),
    pytest.param({"owner": Owner(name="", rank=1)}, id="failure awaited in a non-null object"),
    pytest.param({"leaf": _leaf(3, colour="green")}, id="value the enum refuses"),
    pytest.param({"maybe": _leaf(4, seen="yesterday")}, id="value a custom scalar refuses"),
]


@pytest.mark.parametrize("bad", BROKEN_DATA)
def test_plain_field_execution_matches_graphql_core(bad: dict[str, Any] | None) -> None:
    expected = _run(None, FULL, _root(bad))
    assert _run(PlainFieldExecutor, FULL, _root(bad)) == expected
    if bad:
        assert expected[1], "the broken value should have produced an error"


def test_errors_inside_a_list_of_plain_objects_keep_their_paths() -> None:
    data, errors = _run(
        PlainFieldExecutor, "{ pairs { depth leaf { count } } }", _root({"depth": None})
    )
    assert data is None  # a non-null list item failing nulls its non-null parents up to the root
    assert errors == [
        ("Cannot return null for non-nullable field Pair.depth.", ["pairs", 3, "depth"])
    ]

    data, errors = _run(PlainFieldExecutor, "{ maybePairs { depth } }", _root({"depth": None}))
    assert data == {"maybePairs": [{"depth": 0}, {"depth": 1}, None, None]}
    assert errors == [
        ("Cannot return null for non-nullable field Pair.depth.", ["maybePairs", 3, "depth"])
    ]


def test_permission_classes_and_field_extensions_are_never_skipped() -> None:
    # The API's own schema construction (limits, caches, masking), over these types.
    schema = build_schema(
        max_depth=12, max_aliases=30, max_tokens=20000, query=Query, mutation=None
    )
    data, errors = _run(None, "{ pairs { guarded { name secret loud } } }", _root(), schema)
    assert data == {
        "pairs": [
            {"guarded": {"name": f"guarded {n}", "secret": None, "loud": f"LOUD {n}"}}
            for n in range(6)
        ]
    }
    assert errors == [
        ("the audit trail is for managers", ["pairs", n, "guarded", "secret"]) for n in range(6)
    ]
