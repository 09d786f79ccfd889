"""Cypher for API tokens (stored as digests, never in clear)."""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction


def by_digest(tx: ManagedTransaction, digest: str) -> dict[str, Any] | None:
    record = tx.run(
        "MATCH (t:ApiToken {digest: $digest}) WHERE coalesce(t.revoked, false) = false "
        "RETURN properties(t) AS t",
        digest=digest,
    ).single()
    return dict(record["t"]) if record else None


def listing(tx: ManagedTransaction) -> list[dict[str, Any]]:
    rows = tx.run(
        "MATCH (t:ApiToken) RETURN t.id AS id, t.name AS name, t.role AS role, "
        "t.createdAt AS createdAt, coalesce(t.revoked, false) AS revoked ORDER BY t.createdAt"
    )
    return [dict(r) for r in rows]
