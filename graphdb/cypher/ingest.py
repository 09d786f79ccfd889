"""Cypher for the ingest edge: naming the CIs of a whole batch in one read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from neo4j import ManagedTransaction


@dataclass
class CIsFound:
    ids: set[str] = field(default_factory=set)  # the given ids that are CIs
    by_key: dict[str, str] = field(default_factory=dict)  # identity key -> CI id
    by_name: dict[str, list[str]] = field(default_factory=dict)  # name -> the CI ids bearing it


def find_cis(
    tx: ManagedTransaction, ids: Sequence[str], keys: Sequence[str], names: Sequence[str]
) -> CIsFound:
    found = CIsFound()
    if ids:
        rows = tx.run("UNWIND $ids AS id MATCH (n:CI {id: id}) RETURN n.id AS id", ids=list(ids))
        found.ids = {r["id"] for r in rows}
    if keys:
        rows = tx.run(
            "UNWIND $keys AS key MATCH (:CIIdentity {key: key})-[:IDENTIFIES]->(n:CI) "
            "RETURN key, n.id AS id",
            keys=list(keys),
        )
        found.by_key = {r["key"]: r["id"] for r in rows}
    if names:
        rows = tx.run(
            "UNWIND $names AS name MATCH (n:CI {name: name}) RETURN name, collect(n.id) AS ids",
            names=list(names),
        )
        found.by_name = {r["name"]: sorted(r["ids"]) for r in rows}
    return found
