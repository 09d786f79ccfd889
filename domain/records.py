"""Reads and state changes for any declared record type: by id, by number, a filtered and sorted
page, and a transition. The declaration says what may be filtered, sorted and searched; every
refusal names the input field. Each read checks the READ permission here, once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.records import RecordType, check_properties, check_value
from domain.search import full_text_errors, full_text_search
from graphdb import records as cypher
from graphdb.write_path import Store


def by_ids(
    store: Store, actor: Actor, record: RecordType, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The records with these stored ids that exist, by id."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.by_ids(tx, record, ids))


def by_number(store: Store, actor: Actor, record: RecordType, number: str) -> dict[str, Any] | None:
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.by_number(tx, record, number.strip().upper()))


@dataclass(frozen=True)
class RecordSearch:
    """A page of records as the API asks for it: filters by property (a list means any of),
    words to find, one order, and the cursor bounds (position in the order, id)."""

    filters: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None
    order: str = "createdAt"
    descending: bool = False
    after: tuple[Any, str] | None = None
    before: tuple[Any, str] | None = None
    backward: bool = False
    limit: int = 50
    count: bool = True  # count the records matching the filters (only when the total is shown)


def page(
    store: Store, actor: Actor, record: RecordType, search: RecordSearch
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """Records in order, each with its sort position, and how many match the filters."""
    actor.require(Permission.READ)
    query = cypher.PageQuery(
        order=_order(record, search.order),
        descending=search.descending,
        filters=_filters(record, search.filters),
        text=_text(record, search.text),
        after=search.after,
        before=search.before,
        backward=search.backward,
        limit=search.limit,
        count=search.count,
    )
    return store.read(full_text_errors(lambda tx: cypher.page(tx, record, query)))


def _filters(record: RecordType, given: Mapping[str, Any]) -> dict[str, Any]:
    """Filters checked against the declaration, as stored; unset ones left out."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        where = f"filter.{name}"
        prop = record.by_name.get(name)
        if prop is None or name not in record.indexed_properties:
            filterable = ", ".join(record.indexed_properties) or "none"
            raise ValidationFailed(
                where,
                "not_filterable",
                f"{record.label} records cannot be filtered by {name!r}; by: {filterable}",
            )
        if value is None:
            continue
        if isinstance(value, list | tuple):
            if not value:
                raise ValidationFailed(where, "empty", f"give at least one {name} to match")
            out[name] = [check_value(prop, v, where) for v in value]
        else:
            out[name] = check_value(prop, value, where)
    return out


def _order(record: RecordType, order: str) -> str:
    if order not in record.sortable_properties:
        raise ValidationFailed(
            "orderBy.field",
            "not_sortable",
            f"{record.label} records cannot be sorted by {order!r}; by: "
            + ", ".join(record.sortable_properties),
        )
    return order


def _text(record: RecordType, text: str | None) -> str | None:
    if text is None:
        return None
    if record.fulltext_index is None:
        raise ValidationFailed(
            "filter.search", "no_full_text", f"{record.label} records have no text to search"
        )
    return full_text_search(text)


def transition(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    target: str,
    *,
    version: int | None,
    changes: Mapping[str, Any],
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """Move a record to `target` with the changes that come with the step, in one transaction.

    The changes are checked against the declaration (named `changes.<property>`); the state
    machine checks the step, the role and the guards against the record as locked; `permission`
    is what the process asks of anyone who works its records at all.
    """
    actor.require(permission)
    checked = check_properties(record, changes, creating=False, prefix="changes.")
    return store.write(
        actor,
        lambda uow: uow.transition(
            record.label, record_id, target, expected_version=version, changes=checked
        ),
    )
