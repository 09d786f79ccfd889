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
