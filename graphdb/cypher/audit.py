"""Cypher for the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction


def for_records(
    tx: ManagedTransaction, record_ids: Sequence[str], limit: int
) -> dict[str, list[dict[str, Any]]]:
    rows = tx.run(
        "UNWIND $ids AS rid "
        "CALL (rid) { MATCH (a:AuditEntry {recordId: rid}) "
        "  RETURN a ORDER BY a.at DESC LIMIT $limit } "
        "RETURN rid, properties(a) AS a",
        ids=list(record_ids),
        limit=limit,
    )
    out: dict[str, list[dict[str, Any]]] = {rid: [] for rid in record_ids}
    for r in rows:
        out[r["rid"]].append(dict(r["a"]))
    return out


def by_ids(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = tx.run(
        "UNWIND $ids AS id MATCH (a:AuditEntry {id: id}) RETURN properties(a) AS a", ids=list(ids)
    )
    return {r["a"]["id"]: dict(r["a"]) for r in rows}
