"""Cypher for configuration items and the relationships between them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from graphdb.write_path import UnitOfWork, ident


def by_ids(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = tx.run(
        "UNWIND $ids AS id MATCH (n:CI {id: id}) RETURN properties(n) AS n", ids=list(ids)
    )
    return {r["n"]["id"]: dict(r["n"]) for r in rows}


def page(
    tx: ManagedTransaction,
    *,
    ci_class: str | None,
    lifecycle: str | None,
    name_after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """CIs ordered by name then id, starting after a cursor."""
    rows = tx.run(
        "MATCH (n:CI) "
        "WHERE ($class IS NULL OR n.ciClass = $class) "
        "  AND ($lifecycle IS NULL OR n.lifecycle = $lifecycle) "
        "  AND ($afterName IS NULL OR [n.name, n.id] > [$afterName, $afterId]) "
        "RETURN properties(n) AS n ORDER BY n.name, n.id LIMIT $limit",
        {
            "class": ci_class,
            "lifecycle": lifecycle,
            "afterName": name_after[0] if name_after else None,
            "afterId": name_after[1] if name_after else None,
            "limit": limit,
        },
    )
    return [dict(r["n"]) for r in rows]


def count(tx: ManagedTransaction, *, ci_class: str | None, lifecycle: str | None) -> int:
    record = tx.run(
        "MATCH (n:CI) WHERE ($class IS NULL OR n.ciClass = $class) "
        "AND ($lifecycle IS NULL OR n.lifecycle = $lifecycle) RETURN count(n) AS c",
        {"class": ci_class, "lifecycle": lifecycle},
    ).single(strict=True)
    return int(record["c"])


def relationships(
    tx: ManagedTransaction, ids: Sequence[str], types: Sequence[str]
) -> list[dict[str, Any]]:
    """Every CI-to-CI relationship touching the given CIs, both directions, in one round trip."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (n:CI {id: id})-[r]-(m:CI) "
        "WHERE type(r) IN $types "
        "RETURN id AS ci, type(r) AS type, startNode(r) = n AS outgoing, "
        "       properties(r) AS props, properties(m) AS other",
        ids=list(ids),
        types=list(types),
    )
    return [
        {
            "ci": r["ci"],
            "type": r["type"],
            "outgoing": r["outgoing"],
            "props": dict(r["props"]),
            "other": dict(r["other"]),
        }
        for r in rows
    ]


def find_relationship(
    tx: ManagedTransaction, source_id: str, rel_type: str, target_id: str
) -> dict[str, Any] | None:
    record = tx.run(
        f"MATCH (:CI {{id: $s}})-[r:{ident(rel_type)}]->(:CI {{id: $t}}) RETURN properties(r) AS r",
        s=source_id,
        t=target_id,
    ).single()
    return dict(record["r"]) if record else None


def delete_relationship(uow: UnitOfWork, source_id: str, rel_type: str, target_id: str) -> int:
    record = uow.tx.run(
        f"MATCH (:CI {{id: $s}})-[r:{ident(rel_type)}]->(:CI {{id: $t}}) "
        "DELETE r RETURN count(*) AS deleted",
        s=source_id,
        t=target_id,
    ).single(strict=True)
    return int(record["deleted"])


def dependants_within(tx: ManagedTransaction, ci_id: str, types: Sequence[str], depth: int) -> int:
    """How many CIs reach this one through the given dependency types, up to `depth` hops."""
    record = tx.run(
        "MATCH (n:CI {id: $id}) "
        "OPTIONAL MATCH (d:CI)-[rels*1.." + str(int(depth)) + "]->(n) "
        "WHERE all(r IN rels WHERE type(r) IN $types) AND d <> n "
        "RETURN count(DISTINCT d) AS c",
        id=ci_id,
        types=list(types),
    ).single()
    return int(record["c"]) if record else 0


def set_derived(tx: ManagedTransaction, ci_id: str, values: dict[str, Any]) -> None:
    """Derived figures are recomputed by workers; they do not bump the record's version."""
    tx.run("MATCH (n:CI {id: $id}) SET n += $values", id=ci_id, values=values).consume()
