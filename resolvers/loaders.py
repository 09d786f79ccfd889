"""Per-request DataLoaders: a list of N records costs one Cypher round trip per field, not N."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from core.records import Direction, RecordType
from domain import cmdb_reads, records
from domain.service_level import rules as service_level
from schema.cmdb import HISTORY_LIMIT
from schema.context import Context


class Loaders:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.ci = DataLoader[str, dict[str, Any] | None](load_fn=self._load_cis)
        self.audit_entry = DataLoader[str, dict[str, Any] | None](load_fn=self._load_audit_entries)
        self.ci_relationships = DataLoader[str, list[dict[str, Any]]](
            load_fn=self._load_relationships
        )
        self.history = DataLoader[str, list[dict[str, Any]]](load_fn=self._load_history)
        self._records: dict[str, DataLoader[str, dict[str, Any] | None]] = {}
        self._keyed: dict[str, DataLoader[Any, Any]] = {}
        self._links: dict[tuple[str, str, Direction, str], DataLoader[str, list[dict[str, Any]]]]
        self._links = {}

    def record(self, record: RecordType) -> DataLoader[str, dict[str, Any] | None]:
        """The loader of one declared record type, made when a request first needs it."""
        loader = self._records.get(record.label)
        if loader is None:

            async def load(ids: Sequence[str]) -> list[dict[str, Any] | None]:
                ctx = self._context
                found = await ctx.run(records.by_ids, ctx.store, ctx.actor, record, ids)
                return [found.get(i) for i in ids]

            loader = self._records[record.label] = DataLoader(load_fn=load)
        return loader

    def linked(
        self, record: RecordType, rel_type: str, direction: Direction, other: str
    ) -> DataLoader[str, list[dict[str, Any]]]:
        """The records that `rel_type` links join records of one type to, by that record's id:
        a page of Teams asking for their members is one round trip."""
        key = (record.label, rel_type, direction, other)
        loader = self._links.get(key)
        if loader is None:

            async def load(ids: Sequence[str]) -> list[list[dict[str, Any]]]:
                ctx = self._context
                found = await ctx.run(
                    service_level.linked, ctx.store, ctx.actor, record, ids, *key[1:]
                )
                return [found[i] for i in ids]

            loader = self._links[key] = DataLoader(load_fn=load)
        return loader

    def keyed(
        self, name: str, load: Callable[[Context, Sequence[Any]], Awaitable[list[Any]]]
    ) -> DataLoader[Any, Any]:
        """A process's own batch loader by name, made when a request first needs it: `load`
        answers for many keys at once, in their order."""
        loader = self._keyed.get(name)
        if loader is None:
            context = self._context

            async def batch(keys: Sequence[Any]) -> list[Any]:
                return await load(context, keys)

            loader = self._keyed[name] = DataLoader(load_fn=batch)
        return loader

    async def _load_cis(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        found = await self._context.run(cmdb_reads.cis_by_ids, self._context.store, ids)
        return [found.get(i) for i in ids]

    async def _load_audit_entries(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        found = await self._context.run(cmdb_reads.audit_entries_by_ids, self._context.store, ids)
        return [found.get(i) for i in ids]

    async def _load_relationships(self, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
        grouped = await self._context.run(cmdb_reads.relationships_of, self._context.store, ids)
        return [grouped[i] for i in ids]

    async def _load_history(self, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
        found = await self._context.run(
            cmdb_reads.history_of, self._context.store, ids, HISTORY_LIMIT
        )
        return [found[i] for i in ids]
