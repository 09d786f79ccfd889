"""Per-request DataLoaders: a list of N records costs one Cypher round trip per field, not N."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from domain.configuration import ALL_CI_RELATIONSHIP_TYPES
from graphdb.cypher import audit as audit_cypher
from graphdb.cypher import ci as ci_cypher
from schema.context import Context

HISTORY_LIMIT = 100


class Loaders:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.ci = DataLoader[str, dict[str, Any] | None](load_fn=self._load_cis)
        self.ci_relationships = DataLoader[str, list[dict[str, Any]]](
            load_fn=self._load_relationships
        )
        self.history = DataLoader[str, list[dict[str, Any]]](load_fn=self._load_history)

    async def _load_cis(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        store = self._context.store
        found = await self._context.run(store.read, lambda tx: ci_cypher.by_ids(tx, ids))
        return [found.get(i) for i in ids]

    async def _load_relationships(self, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
        store = self._context.store
        rows = await self._context.run(
            store.read,
            lambda tx: ci_cypher.relationships(tx, ids, ALL_CI_RELATIONSHIP_TYPES),
        )
        grouped: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for row in rows:
            grouped[row["ci"]].append(row)
        return [grouped[i] for i in ids]

    async def _load_history(self, ids: Sequence[str]) -> list[list[dict[str, Any]]]:
        store = self._context.store
        found = await self._context.run(
            store.read, lambda tx: audit_cypher.for_records(tx, ids, HISTORY_LIMIT)
        )
        return [found[i] for i in ids]
