"""What every Service Level Management record obeys when it is written, and the frame its own
rules plug into: checks of the input before the transaction, and checks inside it (on the graph
as the write left it), so that a refusal writes nothing.

One rule holds for all of them: nothing retired gains new links. A retired Team supports no new
Services and takes no new members, a retired Customer is agreed no new SLAs, a retired agreement
covers nothing new; what was linked before retiring stays, as history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.records import Direction, RecordType
from domain import records
from graphdb.cypher import service_level as cypher
from graphdb.write_path import Store, UnitOfWork

# The input as given, checked and cleaned by a process rule before the kernel checks it.
ValuesRule = Callable[[Mapping[str, Any]], dict[str, Any]]
# A rule on the record as written, inside the writing transaction; it raises to refuse.
WrittenRule = Callable[[UnitOfWork, RecordType, dict[str, Any]], None]

Links = Mapping[str, Sequence[str] | None] | None


def _is_retired(record: RecordType, props: Mapping[str, Any]) -> bool:
    return record.states is not None and props.get(record.states.property) == "retired"


def no_new_links_with_retired(uow: UnitOfWork, record: RecordType, row: dict[str, Any]) -> None:
    """Refuse links this transaction made from a retired record, or to a retired one."""
    for link in record.link_fields:
        added = cypher.linked_now(
            uow.tx, record.label, row["id"], link.type, link.direction, link.other, uow.at
        )
        if not added:
            continue
        if _is_retired(record, row):
            raise ValidationFailed(
                link.name,
                "retired",
                f"{record.label} {row.get('name')!r} is retired: it gains no new {link.name}",
            )
        retired = [a["name"] for a in added if a["retired"]]
        if retired:
            raise ValidationFailed(
                link.name,
                "retired",
                f"{link.other} {', '.join(repr(r) for r in retired)} is retired and gains no "
                f"new links; choose one in use",
            )


def _same(values: Mapping[str, Any]) -> dict[str, Any]:
    return dict(values)


@dataclass(frozen=True)
class Rules:
    """A record type's rules, as the `create=` and `update=` functions of the kernel's
    mutations (`resolvers.records.create_field`), called as `domain.records`' own are."""

    values: ValuesRule = _same
    written: tuple[WrittenRule, ...] = ()

    def _also(self, record: RecordType, also: records.Also | None) -> records.Also:
        def run(uow: UnitOfWork, row: dict[str, Any]) -> None:
            no_new_links_with_retired(uow, record, row)
            for rule in self.written:
                rule(uow, record, row)
            if also is not None:
                also(uow, row)

        return run

    def create(
        self,
        store: Store,
        actor: Actor,
        record: RecordType,
        values: Mapping[str, Any],
        links: Links = None,
        *,
        permission: Permission = Permission.MANAGE_SERVICE_LEVELS,
        also: records.Also | None = None,
    ) -> dict[str, Any]:
        actor.require(permission)
        return records.create(
            store,
            actor,
            record,
            self.values(values),
            links,
            permission=permission,
            also=self._also(record, also),
        )

    def update(
        self,
        store: Store,
        actor: Actor,
        record: RecordType,
        record_id: str,
        values: Mapping[str, Any],
        links: Links = None,
        *,
        version: int | None,
        permission: Permission = Permission.MANAGE_SERVICE_LEVELS,
        also: records.Also | None = None,
    ) -> dict[str, Any]:
        actor.require(permission)
        return records.update(
            store,
            actor,
            record,
            record_id,
            self.values(values),
            links,
            version=version,
            permission=permission,
            also=self._also(record, also),
        )


def linked(
    store: Store,
    actor: Actor,
    record: RecordType,
    ids: Sequence[str],
    rel_type: str,
    direction: Direction,
    other: str,
) -> dict[str, list[dict[str, Any]]]:
    """For each record id, the records its `rel_type` links join it to, by name."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.linked(tx, record.label, ids, rel_type, direction, other))
