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


def person_id(tx: ManagedTransaction, person: str) -> str | None:
    """The stored id of the Person with this number or id."""
    found = tx.run(
        "MATCH (p:Person) WHERE p.number = toUpper($person) OR p.id = $person RETURN p.id AS id",
        person=person,
    ).single()
    return found["id"] if found else None


def listing(tx: ManagedTransaction) -> list[dict[str, Any]]:
    rows = tx.run(
        "MATCH (t:ApiToken) RETURN t.id AS id, t.name AS name, t.role AS role, "
        "t.createdAt AS createdAt, coalesce(t.revoked, false) AS revoked, t.personId AS personId "
        "ORDER BY t.createdAt"
    )
    return [dict(r) for r in rows]
