"""Cypher for Service Level Management's records: the links of a page of parties and agreements
read at once, the Service Catalog's page, and the checks the rules need inside a write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from core.record_types import RECORD_TYPES
from core.records import Direction
from core.service_level import CATALOG_ENTRY, CUSTOMER, SLA
from graphdb import records
from graphdb.cypher.ci import ci_view
from graphdb.write_path import ident

# Retired records keep their state in the property their machine names; a CI in its lifecycle.
_RETIRED = "coalesce(o.state, o.status, o.lifecycle) = 'retired'"


def _pattern(label: str, rel_type: str, direction: Direction, other: str) -> str:
    arrow = (
        f"-[x:{ident(rel_type)}]->(o:{ident(other)})"
        if direction is Direction.OUT
        else f"<-[x:{ident(rel_type)}]-(o:{ident(other)})"
    )
    return f"(r:{ident(label)} {{id: id}}){arrow}"


def _view_of(label: str, n: str) -> str:
    """How a linked record is read: a CI as the CMDB shows it, a record as the kernel does."""
    if label in RECORD_TYPES and label != "CI":
        return records.view(RECORD_TYPES[label], n)
    return ci_view(n)


def linked(
    tx: ManagedTransaction,
    label: str,
    ids: Sequence[str],
    rel_type: str,
    direction: Direction,
    other: str,
) -> dict[str, list[dict[str, Any]]]:
    """For each record id, the records at the other end of its `rel_type` links, by name."""
    rows = tx.run(
        "UNWIND $ids AS id "
        f"OPTIONAL MATCH {_pattern(label, rel_type, direction, other)} "
        f"WITH id, o ORDER BY o.name, o.id "
        f"RETURN id, [x IN collect({_view_of(other, 'o')}) WHERE x.id IS NOT NULL] AS others",
        ids=list(ids),
    )
    found = {r["id"]: [dict(o) for o in r["others"]] for r in rows}
    return {i: found.get(i, []) for i in ids}


def linked_now(
    tx: ManagedTransaction,
    label: str,
    record_id: str,
    rel_type: str,
    direction: Direction,
    other: str,
    at: Any,
) -> list[dict[str, Any]]:
    """The records this transaction (its time `at`) linked to the record: id, name, retired."""
    return [
        dict(r)
        for r in tx.run(
            f"WITH $id AS id MATCH {_pattern(label, rel_type, direction, other)} "
            f"WHERE x.createdAt = $at RETURN o.id AS id, o.name AS name, {_RETIRED} AS retired",
            id=record_id,
            at=at,
        )
    ]


def live_entries_of_service(tx: ManagedTransaction, service_id: str) -> list[dict[str, Any]]:
    """The catalogue entries of a Service that are not retired."""
    return [
        dict(r["e"])
        for r in tx.run(
            f"MATCH (e:{ident(CATALOG_ENTRY.label)})-[:DESCRIBES]->(:Service {{id: $id}}) "
            "WHERE e.status <> 'retired' RETURN e {.id, .number, .name, .status} AS e "
            "ORDER BY e.number",
            id=service_id,
        )
    ]


def active_slas_with(tx: ManagedTransaction, customer_id: str) -> list[dict[str, Any]]:
    return [
        dict(r["s"])
        for r in tx.run(
            f"MATCH (s:{ident(SLA.label)} {{state: 'active'}})-[:AGREED_WITH]->"
            f"(:{ident(CUSTOMER.label)} {{id: $id}}) RETURN s {{.id, .number, .name}} AS s "
            "ORDER BY s.number",
            id=customer_id,
        )
    ]


# -- the Service Catalog ---------------------------------------------------------------------


@dataclass(frozen=True)
class CataloguePage:
    """A page of catalogue entries by name (ties by id): statuses to keep, a Customer whose
    active SLAs must cover the entry's Service, and the cursor bounds (name, id)."""

    statuses: Sequence[str] | None = None
    customer: str | None = None
    after: tuple[Any, str] | None = None
    before: tuple[Any, str] | None = None
    backward: bool = False
    limit: int = 50
    count: bool = True


_ACTIVE_SLAS = (
    "COLLECT { MATCH (sla:SLA {state: 'active'})-[:COVERS]->(s) "
    "WITH sla ORDER BY sla.name, sla.id "
    f"RETURN {{sla: {records.view(SLA, 'sla')}, customers: COLLECT {{ "
    "MATCH (sla)-[:AGREED_WITH]->(c:Customer) WITH c ORDER BY c.name, c.id "
    f"RETURN {records.view(CUSTOMER, 'c')} }} }} }}"
)


def catalogue(
    tx: ManagedTransaction, query: CataloguePage
) -> tuple[list[dict[str, Any]], int | None]:
    """The page, each row {entry, service, slas: [{sla, customers}]}, in one query; and how
    many entries match the filters when asked."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": query.limit}
    if query.statuses is not None:
        where.append("e.status IN $statuses")
        params["statuses"] = list(query.statuses)
    if query.customer is not None:
        where.append(
            "EXISTS { MATCH (e)-[:DESCRIBES]->(:Service)<-[:COVERS]-(:SLA {state: 'active'})"
            "-[:AGREED_WITH]->(:Customer {id: $customer}) }"
        )
        params["customer"] = query.customer
    count_where = list(where)

    def beyond(cursor: tuple[Any, str], name: str, greater: bool) -> str:
        params.update({name: cursor[0], name + "Id": cursor[1]})
        op = ">" if greater else "<"
        return f"e.name {op}= ${name} AND (e.name {op} ${name} OR e.id {op} ${name}Id)"

    if query.after is not None:
        where.append(beyond(query.after, "after", True))
    if query.before is not None:
        where.append(beyond(query.before, "before", False))
    order = "DESC" if query.backward else "ASC"
    match = f"MATCH (e:{ident(CATALOG_ENTRY.label)}) WHERE e.name IS NOT NULL "
    rows = tx.run(
        match
        + "".join(f"AND {w} " for w in where)
        + f"WITH e ORDER BY e.name {order}, e.id {order} LIMIT $limit "
        "OPTIONAL MATCH (e)-[:DESCRIBES]->(s:Service) "
        f"RETURN {records.view(CATALOG_ENTRY, 'e')} AS entry, "
        f"CASE WHEN s IS NULL THEN null ELSE {ci_view('s')} END AS service, "
        f"CASE WHEN s IS NULL THEN [] ELSE {_ACTIVE_SLAS} END AS slas",
        params,
    )
    found = [
        {
            "entry": dict(r["entry"]),
            "service": dict(r["service"]) if r["service"] else None,
            "slas": [dict(s) for s in r["slas"]],
        }
        for r in rows
    ]
    if query.backward:
        found.reverse()
    if not query.count:
        return found, None
    total = tx.run(
        match + "".join(f"AND {w} " for w in count_where) + "RETURN count(e) AS c", params
    ).single(strict=True)["c"]
    return found, int(total)
