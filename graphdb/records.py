"""Generic Cypher for any declared record type: by id and number, filtered and sorted pages with
cursors in both directions, counts, and the transitions a record went through.

Labels, property names and index names come from the declarations (`core.records`), never from
input; values always travel as parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from core.records import Kind, RecordType
from graphdb.write_path import ident

_SYSTEM_TIMES = ("createdAt", "updatedAt")


# -- full text: what a user typed, as a Lucene query that cannot carry Lucene syntax ----------


def fulltext_words(text: str) -> list[str]:
    """The words of a search as the index's analyzer splits names ("orders-db" is two words).

    Only letters and digits pass, and Lucene's operator words are dropped, so no input can
    inject Lucene syntax.
    """
    words = [w.lower() for w in re.findall(r"[^\W_]+", text)]
    return [w for w in words if w.upper() not in {"AND", "OR", "NOT", "TO"}]


def fulltext_query(words: Sequence[str]) -> str:
    """Plain words to a Lucene query: every word must match, as a prefix."""
    return " AND ".join(f"{w}*" for w in words)


def _always_set(record: RecordType, name: str) -> bool:
    """The write path sets the number (where the type has one) and the times; a required
    property can never be cleared."""
    if name in _SYSTEM_TIMES or (name == "number" and record.number_prefix):
        return True
    prop = record.by_name.get(name)
    return prop is not None and prop.required


def time_properties(record: RecordType) -> tuple[str, ...]:
    return (
        _SYSTEM_TIMES
        + tuple(p.name for p in record.properties if p.kind is Kind.DATETIME)
        + (("stateChangedAt",) if record.states else ())
    )


def view(record: RecordType, n: str = "n", shown: Mapping[str, str] | None = None) -> str:
    """A record as read for display: times as epoch milliseconds, because the driver's decoding
    of temporal values costs more than the rest of a row; `shown` replaces properties by
    expressions over `n` (what a reader sees instead, see `Scope`)."""
    times = ", ".join(f"{t}: {n}.{t}.epochMillis" for t in time_properties(record))
    extra = "".join(f", {name}: {expression}" for name, expression in (shown or {}).items())
    return f"{n} {{.*, {times}{extra}}}"


@dataclass(frozen=True)
class Scope:
    """What one reader may see of a record type, as the type's own Cypher module says it.

    `conditions` on `n` hide records from every read (by id, by number, pages and their counts);
    `shown` replaces stored properties by expressions over `n` (a reader who sees a published
    copy rather than the working one); `text_source` is where this reader's full-text search
    looks: Cypher that reads the Lucene query `$text` and binds the records it finds to `n`, one
    row each (the page goes on with `WITH n`).
    """

    conditions: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    shown: Mapping[str, str] = field(default_factory=dict)
    text_source: str | None = None


EVERYTHING = Scope()


def _where(conditions: Sequence[str]) -> str:
    return f"WHERE {' AND '.join(conditions)} " if conditions else ""


def by_ids(
    tx: ManagedTransaction, record: RecordType, ids: Sequence[str], scope: Scope = EVERYTHING
) -> dict[str, dict[str, Any]]:
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (n:{ident(record.label)} {{id: id}}) "
        f"{_where(scope.conditions)}RETURN {view(record, shown=scope.shown)} AS n",
        {**scope.params, "ids": list(ids)},
    )
    return {r["n"]["id"]: dict(r["n"]) for r in rows}


def by_number(
    tx: ManagedTransaction, record: RecordType, number: str, scope: Scope = EVERYTHING
) -> dict[str, Any] | None:
    found = tx.run(
        f"MATCH (n:{ident(record.label)} {{number: $number}}) "
        f"{_where(scope.conditions)}RETURN {view(record, shown=scope.shown)} AS n",
        {**scope.params, "number": number},
    ).single()
    return dict(found["n"]) if found else None


@dataclass(frozen=True)
class PageQuery:
    """One page of records: equality filters (a list means any of), full text, one order, and
    a cursor (the position in the order and the id) to start after, or, going backwards, to end
    before."""

    order: str = "createdAt"
    descending: bool = False
    filters: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None  # a Lucene query made safe by the caller
    after: tuple[Any, str] | None = None
    before: tuple[Any, str] | None = None
    backward: bool = False  # the last `limit` before `before` (or of all), still in order
    limit: int = 50
    count: bool = True  # False: the caller does not show the total, so it is not counted
    scope: Scope = EVERYTHING  # what the reader may see
    # What a record type's own Cypher module adds: conditions on parameters it passes (a CI's
    # attributes), a key to sort by before the order (so a composite index serves it), and
    # conditions only the count needs (so that index also counts).
    conditions: tuple[str, ...] = ()
    count_conditions: tuple[str, ...] = ()
    sort_prefix: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def page(
    tx: ManagedTransaction, record: RecordType, query: PageQuery
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """The page, each record with its position in the order (what a cursor carries), and the
    number of records that match the filters.

    Only set filters reach the query, and the sort key must exist, so that a range index on it
    hands records over in order; a time sorts by epoch nanoseconds, so that equal and
    sub-millisecond times page without repeats or gaps.
    """
    if query.order not in record.sortable_properties:
        raise ValueError(f"{record.label} cannot be ordered by {query.order!r}")
    label = ident(record.label)
    scope = query.scope
    params: dict[str, Any] = {**scope.params, **query.params, "limit": query.limit}
    where: list[str] = [*scope.conditions, *query.conditions]
    for i, (name, value) in enumerate(sorted(query.filters.items())):
        if name not in record.by_name and name not in ("number", "id"):
            raise ValueError(f"{record.label} has no property {name!r} to filter on")
        param = f"f{i}"
        params[param] = value
        where.append(f"n.{name} {'IN' if isinstance(value, list) else '='} ${param}")
    if query.text:
        if record.fulltext_index is None:
            raise ValueError(f"{record.label} has no full-text index")
        source = (
            scope.text_source or "CALL db.index.fulltext.queryNodes($index, $text) YIELD node AS n"
        ) + f" WITH n WHERE n:{label} "
        params.update(index=record.fulltext_index, text=query.text)
        first_where = "AND "
    else:
        source = f"MATCH (n:{label}) "
        first_where = "WHERE "
    key = f"n.{query.order}"
    if query.order in time_properties(record):
        mark = "datetime({epochSeconds: $mark / 1000000000, nanosecond: $mark % 1000000000})"
        position = f"{key}.epochSeconds * 1000000000 + {key}.nanosecond"
    else:
        mark, position = "$mark", key
    # The total counts what paging can reach: records without the sort key are not listed. A
    # key every record has is left out of the count, so that a count over the whole label is
    # answered from Neo4j's count store instead of scanning an index.
    count_where = [*where, *query.count_conditions]
    if not query.text:
        where.append(f"{key} IS NOT NULL")
        if not _always_set(record, query.order):
            count_where.append(f"{key} IS NOT NULL")

    def beyond(cursor: tuple[Any, str], name: str, greater: bool) -> str:
        """Records past the cursor in the order: a range an index can seek, ties by id."""
        params.update({name: cursor[0], name + "Id": cursor[1]})
        at = mark.replace("$mark", "$" + name)
        op = ">" if greater else "<"
        return f"{key} {op}= {at} AND ({key} {op} {at} OR n.id {op} ${name}Id)"

    if query.after is not None:
        where.append(beyond(query.after, "after", not query.descending))
    if query.before is not None:
        where.append(beyond(query.before, "before", query.descending))
    # Backwards, the query walks the order reversed and the page is flipped afterwards.
    order = "DESC" if query.descending != query.backward else "ASC"
    sort = f"{key} {order}, n.id {order}"
    if query.sort_prefix:
        sort = f"{query.sort_prefix} {order}, {sort}"
    return run_page(
        tx,
        source
        + (f"{first_where}{' AND '.join(where)} " if where else "")
        + f"WITH n ORDER BY {sort} LIMIT $limit "
        f"RETURN {view(record, shown=scope.shown)} AS n, {position} AS position",
        source
        + (f"{first_where}{' AND '.join(count_where)} " if count_where else "")
        + "RETURN count(n) AS c"
        if query.count
        else None,
        params,
        backward=query.backward,
    )


def run_page(
    tx: ManagedTransaction,
    rows_query: str,
    count_query: str | None,
    params: dict[str, Any],
    *,
    backward: bool,
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """A page read as rows of `n` and its `position`, put back in order when the query walked
    the order reversed, and the count `c` of `count_query` when there is one."""
    found = [(dict(r["n"]), r["position"]) for r in tx.run(rows_query, params)]
    if backward:
        found.reverse()
    if count_query is None:
        return found, None
    return found, int(tx.run(count_query, params).single(strict=True)["c"])


def transitions(tx: ManagedTransaction, record: RecordType, record_id: str) -> list[dict[str, Any]]:
    """Every state change of a record, oldest first: the audited transitions clocks replay."""
    if record.states is None:
        return []
    state = record.states.property
    rows = tx.run(
        "MATCH (a:AuditEntry {recordId: $id}) WHERE a.action IN ['create', 'transition'] "
        "RETURN a.action AS action, a.at AS at, a.actor AS actor, a.before AS before, "
        "a.after AS after ORDER BY a.at",
        id=record_id,
    )
    out = []
    for r in rows:
        before = json.loads(r["before"]) if r["before"] else {}
        after = json.loads(r["after"]) if r["after"] else {}
        out.append(
            {
                "transition": after.get("transition"),
                "from": before.get(state),
                "to": after.get(state),
                "at": r["at"].to_native(),
                "actor": r["actor"],
            }
        )
    return out
