"""Reads and state changes for any declared record type: by id, by number, a filtered and sorted
page, and a transition. The declaration says what may be filtered, sorted and searched; every
refusal names the input field. Each read checks the READ permission here, once, and applies the
type's read rule, so that `node(id:)`, one record and lists hide and show the same."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed, VersionConflict
from core.ids import record_id as stored_id
from core.record_types import RECORD_TYPES
from core.records import LinkField, RecordType, check_properties, check_value
from domain.search import full_text_errors, full_text_search
from graphdb import records as cypher
from graphdb.write_path import Store, UnitOfWork

# What a process does in the same transaction after the kernel created or updated its record.
Also = Callable[[UnitOfWork, dict[str, Any]], None]


# A read rule says, for one reader, what part of a record type they see (None: all of it, as
# stored). A process registers one where its records are not for every reader as they are (drafts
# of knowledge articles); the Cypher of the scope is the record type's own.
ReadRule = Callable[[Actor], cypher.Scope | None]

_READ_RULES: dict[str, ReadRule] = {}


def register_read_rule(label: str, rule: ReadRule) -> None:
    _READ_RULES[label] = rule


def scope_for(actor: Actor, record: RecordType) -> cypher.Scope:
    rule = _READ_RULES.get(record.label)
    return (rule(actor) if rule else None) or cypher.EVERYTHING


def by_ids(
    store: Store, actor: Actor, record: RecordType, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The records with these stored ids that exist and the actor may see, by id."""
    actor.require(Permission.READ)
    scope = scope_for(actor, record)
    return store.read(lambda tx: cypher.by_ids(tx, record, ids, scope))


def by_number(store: Store, actor: Actor, record: RecordType, number: str) -> dict[str, Any] | None:
    actor.require(Permission.READ)
    scope = scope_for(actor, record)
    return store.read(lambda tx: cypher.by_number(tx, record, number.strip().upper(), scope))


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
        scope=scope_for(actor, record),
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
    also: Also | None = None,
) -> dict[str, Any]:
    """Move a record to `target` with the changes that come with the step, in one transaction.

    The changes are checked against the declaration (named `changes.<property>`); the state
    machine checks the step, the role and the guards against the record as locked; `permission`
    is what the process asks of anyone who works its records at all. `also` runs in the same
    transaction on the record after the step, for rules a guard cannot see (other records):
    raising there refuses the step.
    """
    actor.require(permission)
    checked = check_properties(record, changes, creating=False, prefix="changes.", step=True)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        after = uow.transition(
            record.label, record_id, target, expected_version=version, changes=checked
        )
        if also is not None:
            also(uow, after)
            after = uow.lock(record.label, record_id)
        return after

    return store.write(actor, work)


def checked_links(
    record: RecordType, given: Mapping[str, Sequence[str] | None] | None, *, creating: bool
) -> list[tuple[LinkField, list[str]]]:
    """Link fields as given, by stored id; on create the required ones must be there."""
    given = given or {}
    known = {link.name: link for link in record.link_fields}
    for name in given:
        if name not in known:
            raise ValidationFailed(
                name, "unknown_link", f"{record.label} has no link field {name!r}"
            )
    out = []
    for link in record.link_fields:
        where = link.name
        ids = given.get(link.name)
        if ids is None:
            if creating and link.required:
                raise ValidationFailed(where, "required", f"{link.name} is required")
            continue
        if not link.many and len(ids) > 1:
            raise ValidationFailed(where, "one_only", f"{link.name} takes one id")
        if link.required and not ids:
            raise ValidationFailed(where, "required", f"{link.name} must not be empty")
        other = link.other if link.other in RECORD_TYPES else "CI"
        out.append((link, [stored_id(str(i), other, field=where) for i in ids]))
    return out


def create(
    store: Store,
    actor: Actor,
    record: RecordType,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    permission: Permission = Permission.WORK_RECORDS,
    also: Also | None = None,
) -> dict[str, Any]:
    """Create a record from input checked against its declaration (errors name
    `input.<property>`), link it by its link fields, then let the process's `also` finish it,
    all in one transaction. Returns the record as stored."""
    actor.require(permission)
    checked = check_properties(record, values, creating=True, prefix="")
    wanted = checked_links(record, links, creating=True)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        created = create_in(uow, record, checked, wanted)
        if also is not None:
            also(uow, created)
        return uow.lock(record.label, created["id"])

    return store.write(actor, work)


def create_in(
    uow: UnitOfWork,
    record: RecordType,
    checked: Mapping[str, Any],
    links: Sequence[tuple[LinkField, list[str]]] = (),
    derived: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a record inside a unit of work the caller holds (one transaction with whatever
    else it writes): `checked` as `check_properties` answered, `links` as `checked_links` did,
    `derived` the system's own figures for it (a priority). Returns it as stored."""
    created = uow.create(record.label, {**checked, **(derived or {})})
    for link, ids in links:
        uow.set_links(record.label, created["id"], link, ids, field=link.name)
    return created


def update(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None = None,
    *,
    version: int | None,
    permission: Permission = Permission.WORK_RECORDS,
    also: Also | None = None,
) -> dict[str, Any]:
    """Change the given properties and replace the given link sets (an empty list clears one),
    with the version check, in one transaction; `also` runs after, on the record as changed."""
    actor.require(permission)
    checked = check_properties(record, values, creating=False, prefix="")
    wanted = checked_links(record, links, creating=False)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        current = uow.lock(record.label, record_id)
        if version is not None and current["version"] != version:
            raise VersionConflict(record.label, record_id, version, current["version"])
        if checked:
            uow.update(record.label, record_id, checked, expected_version=None)
        relinked = sum(
            uow.set_links(record.label, record_id, link, ids, field=link.name)
            for link, ids in wanted
        )
        if relinked and uow.lock(record.label, record_id)["version"] == current["version"]:
            uow.touch(record.label, record_id)  # a new link set is a new version too
        after = uow.lock(record.label, record_id)
        if also is not None:
            also(uow, after)
            after = uow.lock(record.label, record_id)
        return after

    return store.write(actor, work)


def set_singleton(
    store: Store,
    actor: Actor,
    record: RecordType,
    existing: Mapping[str, Any] | None,
    defaults: Mapping[str, Any],
    values: Mapping[str, Any],
    links: Mapping[str, Sequence[str] | None] | None,
    *,
    version: int | None,
    permission: Permission,
) -> dict[str, Any]:
    """Change a record type's one record (a policy): created from `defaults` and what is given
    the first time, updated with what is given after."""
    if existing is None:
        return create(
            store,
            actor,
            record,
            {**defaults, **{k: v for k, v in values.items() if v is not None}},
            links,
            permission=permission,
        )
    return update(
        store, actor, record, existing["id"], values, links, version=version, permission=permission
    )
