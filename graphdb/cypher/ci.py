"""Cypher for configuration items and the relationships between them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from core.record_types import CI
from graphdb import records
from graphdb.write_path import UnitOfWork, ident

_PROPERTY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TIMES = ("createdAt", "updatedAt", "blastRadiusAt")


def ci_view(n: str, properties: Sequence[str] | None = None) -> str:
    """A CI as read for display: timestamps as epoch milliseconds, because the driver's decoding
    of temporal values costs more than the rest of a row. With `properties`, only those."""
    if properties is None:
        times = ", ".join(f"{t}: {n}.{t}.epochMillis" for t in _TIMES)
        return f"{n} {{.*, {times}}}"
    for name in properties:
        if not _PROPERTY_NAME.match(name):
            raise ValueError(f"not a property name: {name!r}")
    picked = [f"{p}: {n}.{p}.epochMillis" if p in _TIMES else f".{p}" for p in properties]
    return f"{n} {{{', '.join(picked)}}}"


CI_VIEW = ci_view("n")


def _agreements(n: str) -> str:
    """For a Service: the active SLAs covering it (a draft or retired one promises nothing),
    each with the Customers it is agreed with."""
    return (
        f"CASE WHEN {n}:Service THEN COLLECT {{ "
        f"  MATCH (sla:SLA {{state: 'active'}})-[:COVERS]->({n}) "
        "  RETURN sla {.id, .name, .number, customers: COLLECT { "
        "    MATCH (sla)-[:AGREED_WITH]->(c:Customer) RETURN c {.id, .name, .number} }} "
        "} ELSE [] END"
    )


def all_ids(tx: ManagedTransaction) -> list[str]:
    return [r["id"] for r in tx.run("MATCH (n:CI) RETURN n.id AS id")]


def by_ids(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = tx.run(f"UNWIND $ids AS id MATCH (n:CI {{id: id}}) RETURN {CI_VIEW} AS n", ids=list(ids))
    return {r["n"]["id"]: dict(r["n"]) for r in rows}


ORDER_FIELDS = {
    "name": "name",
    "number": "number",
    "createdAt": "createdAt",
    "updatedAt": "updatedAt",
}


# A CI's attributes are stored as `attr_<name>` properties: one condition covers them all.
_ATTRIBUTES = "all(k IN keys($attrs) WHERE n['attr_' + k] = $attrs[k])"


def search(
    tx: ManagedTransaction,
    *,
    filters: dict[str, Any],
    text: str | None,
    order_field: str,
    descending: bool,
    after: tuple[Any, str] | None,
    limit: int,
    before: tuple[Any, str] | None = None,
    backward: bool = False,
    count: bool = True,
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """One page of CIs, each with its position in the order (what a cursor carries), and the
    total matching, for the filters, full-text query and order: the kernel's generic page with
    what only CIs have (attributes, the (ciClass, name) index).

    `after` and `before` are (position, id) bounds. Backwards, the page is the `limit` CIs just
    before the upper bound, handed back in the requested order."""
    prop = ORDER_FIELDS[order_field]
    equal = {
        name: filters[key]
        for key, name in (
            ("ci_class", "ciClass"),
            ("lifecycle", "lifecycle"),
            ("criticality", "criticality"),
        )
        if filters.get(key) is not None
    }
    by_class = filters.get("ci_class") is not None and not text
    query = records.PageQuery(
        order=prop,
        descending=descending,
        filters=equal,
        text=text,
        after=after,
        before=before,
        backward=backward,
        limit=limit,
        conditions=(_ATTRIBUTES,) if filters.get("attributes") else (),
        # Within one class, the (ciClass, name) index hands CIs over in order, and counts them.
        sort_prefix="n.ciClass" if by_class and prop == "name" else None,
        count_conditions=("n.name IS NOT NULL",) if by_class else (),
        params={"attrs": filters.get("attributes") or {}},
        count=count,
    )
    return records.page(tx, CI, query)


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


def providers_within(
    tx: ManagedTransaction, ids: Sequence[str], types: Sequence[str], depth: int
) -> list[str]:
    """The CIs these ones need through the dependency types, within `depth` hops, with them."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (n:CI {id: id}) "
        "CALL (n) { OPTIONAL MATCH (n)-[rels*1.." + str(int(depth)) + "]->(p:CI) "
        "  WHERE all(r IN rels WHERE type(r) IN $types) RETURN collect(DISTINCT p.id) AS ps } "
        "UNWIND [n.id] + ps AS pid RETURN DISTINCT pid",
        ids=list(ids),
        types=list(types),
    )
    return [r["pid"] for r in rows]


def refresh_blast_radius(
    tx: ManagedTransaction, ids: Sequence[str], types: Sequence[str], depth: int, at: Any
) -> dict[str, int]:
    """Count, for each CI, the CIs that reach it through the dependency types within `depth`
    hops, and store it as `blastRadius`. A derived figure: no version bump, no audit entry."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (n:CI {id: id}) "
        "CALL (n) { OPTIONAL MATCH (d:CI)-[rels*1.." + str(int(depth)) + "]->(n) "
        "  WHERE all(r IN rels WHERE type(r) IN $types) AND d <> n "
        "  RETURN count(DISTINCT d) AS c } "
        "SET n.blastRadius = c, n.blastRadiusAt = $at RETURN n.id AS id, c",
        ids=list(ids),
        types=list(types),
        at=at,
    )
    return {r["id"]: int(r["c"]) for r in rows}


def summaries(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id, name, class and lifecycle: what relationship rules check, without the rest."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (n:CI {id: id}) RETURN n {.id, .name, .ciClass, .lifecycle} AS n",
        ids=list(ids),
    )
    return {r["n"]["id"]: dict(r["n"]) for r in rows}


def by_identity(tx: ManagedTransaction, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Identity key -> the CI it identifies."""
    rows = tx.run(
        "UNWIND $keys AS key MATCH (:CIIdentity {key: key})-[:IDENTIFIES]->(n:CI) "
        "RETURN key, properties(n) AS n",
        keys=list(keys),
    )
    return {r["key"]: dict(r["n"]) for r in rows}


def set_identities(tx: ManagedTransaction, rows: Sequence[dict[str, Any]]) -> None:
    """Make each CI's identity keys exactly `keys` ({id, keys} per row)."""
    tx.run(
        "UNWIND $rows AS row MATCH (n:CI {id: row.id}) "
        "OPTIONAL MATCH (old:CIIdentity)-[:IDENTIFIES]->(n) WHERE NOT old.key IN row.keys "
        "DETACH DELETE old",
        rows=list(rows),
    ).consume()
    tx.run(
        "UNWIND $rows AS row MATCH (n:CI {id: row.id}) UNWIND row.keys AS key "
        "MERGE (i:CIIdentity {key: key}) MERGE (i)-[:IDENTIFIES]->(n)",
        rows=list(rows),
    ).consume()


def existing_relationships(
    tx: ManagedTransaction, rel_type: str, pairs: Sequence[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """For rows {index, s, t}: the properties of the `s -[rel_type]-> t` that already exist."""
    rows = tx.run(
        f"UNWIND $rows AS row MATCH (:CI {{id: row.s}})-[r:{ident(rel_type)}]->(:CI {{id: row.t}}) "
        "RETURN row.index AS index, properties(r) AS r",
        rows=[{"index": p["index"], "s": p["s"], "t": p["t"]} for p in pairs],
    )
    return {int(r["index"]): dict(r["r"]) for r in rows}


def update_relationships(uow: UnitOfWork, rel_type: str, rows: Sequence[dict[str, Any]]) -> None:
    """Rows {s, t, props}: merge the given properties in; all were seen now."""
    uow.tx.run(
        f"UNWIND $rows AS row MATCH (:CI {{id: row.s}})-[r:{ident(rel_type)}]->(:CI {{id: row.t}}) "
        "SET r += row.props, r.lastSeen = $at",
        rows=list(rows),
        at=uow.at,
    ).consume()


# -- impact analysis --------------------------------------------------------------------------
#
# A failure travels along a relationship as its type declares. The three lists below name the
# types by that rule; the rule itself (what a redundancy group means) stays in domain/impact.py.
# Relationship type names go into the pattern text because Cypher cannot take a type union as a
# parameter; they come from the CI registry and are checked against _TYPE_NAME first.

_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Propagating:
    """Relationship types by the way a failure travels along `(source)-[:TYPE]->(target)`."""

    to_source: tuple[str, ...]  # the target failing hurts the source
    to_target: tuple[str, ...]  # the source failing hurts the target
    both: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in (*self.to_source, *self.to_target, *self.both):
            if not _TYPE_NAME.match(name):
                raise ValueError(f"not a relationship type name: {name!r}")

    @property
    def union(self) -> str:
        return "|".join((*self.to_source, *self.to_target, *self.both))

    def params(self) -> dict[str, Any]:
        return {
            "toSource": list(self.to_source),
            "toTarget": list(self.to_target),
            "both": list(self.both),
        }


def _travels(rel: str, start: str, upstream: bool) -> str:
    """True when a failure of `start` reaches the other end of `rel` (downstream), or when
    `start` needs the other end (upstream)."""
    at_target, at_source = ("startNode", "endNode") if upstream else ("endNode", "startNode")
    return (
        f"(type({rel}) IN $both OR (type({rel}) IN $toSource AND {at_target}({rel}) = {start}) "
        f"OR (type({rel}) IN $toTarget AND {at_source}({rel}) = {start}))"
    )


def _provider_edges(dependant: str, types: Propagating, rel: str, provider: str) -> list[str]:
    """The relationships through which `dependant` needs a provider: typed and directed, so that a
    provider with thousands of dependants is not read through when looking at one of them."""
    branches = []
    if types.to_source:
        branches.append(f"MATCH ({dependant})-[{rel}:{'|'.join(types.to_source)}]->({provider}:CI)")
    if types.to_target:
        branches.append(f"MATCH ({dependant})<-[{rel}:{'|'.join(types.to_target)}]-({provider}:CI)")
    if types.both:
        branches.append(f"MATCH ({dependant})-[{rel}:{'|'.join(types.both)}]-({provider}:CI)")
    return branches


def propagation_reach(
    tx: ManagedTransaction,
    starts: Sequence[tuple[str, int]],
    types: Propagating,
    *,
    upstream: bool,
    through_groups: bool,
    max_depth: int,
    properties: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every CI a failure reaches from the starts (or, upstream, every CI they need), each once
    with its fewest hops plus its start's depth, up to `max_depth`.

    Without `through_groups` the walk stops at relationships in a redundancy group; it then also
    returns each group standing behind a reached CI (short of the last depth, where it could hurt
    nobody within reach) with all its members, for the caller to judge. Aggregating to the fewest
    hops lets Neo4j walk breadth-first with pruning instead of enumerating every trail.

    Returns {"reached": [(id, depth)], "groups": [(dependant, group, members)],
    "shown": {id: {"ci": properties, "service": bool, "slas": [...]}}}.
    """
    if not types.union:
        return {"reached": [], "groups": [], "shown": {}}
    hops = max(0, int(max_depth) - min(depth for _, depth in starts))
    walk_filter = _travels("r", "a", upstream)
    if not through_groups:
        walk_filter += " AND r.redundancyGroup IS NULL"

    def shown(n: str) -> str:
        return f"[{ci_view(n, properties)}, {n}:Service, {_agreements(n)}]"

    groups = "[]"
    if not through_groups:
        members = " UNION ALL ".join(
            f"{b} WHERE m.redundancyGroup = grp "
            "RETURN [member.id, startNode(m).id, type(m), endNode(m).id, m.minUp]"
            for b in _provider_edges("dep", types, "m", "member")
        )
        groups = (
            "COLLECT { UNWIND reached AS x WITH x[0] AS hit, x[1] AS depth "
            "WHERE depth < $maxDepth "
            f"MATCH (hit)-[g:{types.union}]-(dep) "
            f"WHERE {_travels('g', 'hit', upstream)} AND g.redundancyGroup IS NOT NULL "
            "WITH DISTINCT dep, g.redundancyGroup AS grp "
            f"RETURN [dep.id, grp, COLLECT {{ {members} }}, {shown('dep')}] }}"
        )
    query = (
        "UNWIND $starts AS start MATCH (s:CI {id: start[0]}) "
        f"MATCH (s)((a)-[r:{types.union}]-(b) WHERE {walk_filter}){{0,{hops}}}(hit:CI) "
        "WITH start, hit, min(size(r)) AS hops "
        "WITH hit, min(start[1] + hops) AS depth WHERE depth <= $maxDepth "
        "WITH collect([hit, depth]) AS reached "
        # Everything in one record: the driver's cost is per record far more than per value.
        "RETURN COLLECT { UNWIND reached AS x WITH x[0] AS hit, x[1] AS depth "
        f"  RETURN [hit.id, depth, {shown('hit')}] }} AS reached, "
        f"{groups} AS groups"
    )
    params = {"starts": [[ci, depth] for ci, depth in starts], "maxDepth": max_depth}
    record = tx.run(query, {**params, **types.params()}).single(strict=True)
    found: dict[str, Any] = {"reached": [], "groups": [], "shown": {}}
    for ci, depth, view in record["reached"]:
        found["reached"].append((ci, depth))
        found["shown"][ci] = _shown(*view)
    for ci, group, members, view in record["groups"]:
        found["groups"].append((ci, group, members))
        found["shown"].setdefault(ci, _shown(*view))
    return found


def needs_among(
    tx: ManagedTransaction,
    starts: Sequence[str],
    candidates: Sequence[str],
    types: Propagating,
    *,
    max_depth: int,
) -> list[tuple[str, str, int]]:
    """Which of the candidates each start needs within `max_depth` hops (through redundancy
    groups), with the fewest hops: (start, candidate, hops). The walk ends only at candidates,
    so it reads no more than the starts' neighbourhoods."""
    if not types.union or not starts or not candidates:
        return []
    step = f"(a)-[r:{types.union}]-(b) WHERE {_travels('r', 'a', True)}"
    rows = tx.run(
        "UNWIND $starts AS sid MATCH (s:CI {id: sid}) "
        f"MATCH (s)({step}){{1,{int(max_depth)}}}(hit:CI) WHERE hit.id IN $candidates "
        "RETURN sid, hit.id AS hit, min(size(r)) AS hops",
        {"starts": list(starts), "candidates": list(candidates), **types.params()},
    )
    return [(r["sid"], r["hit"], int(r["hops"])) for r in rows]


def dependants_within(
    tx: ManagedTransaction, ci_id: str, types: Propagating, *, max_depth: int
) -> int:
    """How many CIs need this one within `max_depth` hops (through redundancy groups)."""
    if not types.union:
        return 0
    step = f"(a)-[r:{types.union}]-(b) WHERE {_travels('r', 'a', False)}"
    row = tx.run(
        f"MATCH (s:CI {{id: $id}}) OPTIONAL MATCH (s)({step}){{1,{int(max_depth)}}}(d:CI) "
        "WHERE d <> s RETURN count(DISTINCT d) AS n",
        {"id": ci_id, **types.params()},
    ).single(strict=True)
    return int(row["n"])


def _shown(ci: dict[str, Any], service: bool, slas: list[Any]) -> dict[str, Any]:
    """A CI for display, and for a Service the agreements covering it."""
    return {"ci": ci, "service": service, "slas": slas}


def provider_edges(
    tx: ManagedTransaction, ids: Sequence[str], types: Propagating
) -> dict[str, list[list[Any]]]:
    """For each CI, the relationships through which it needs another one, as
    [provider, source, type, target, redundancyGroup, minUp]."""
    if not types.union:
        return {ci: [] for ci in ids}
    needs = " UNION ALL ".join(
        f"{b} RETURN [p.id, startNode(e).id, type(e), endNode(e).id, e.redundancyGroup, e.minUp]"
        for b in _provider_edges("n", types, "e", "p")
    )
    record = tx.run(
        f"UNWIND $ids AS id MATCH (n:CI {{id: id}}) "
        f"RETURN collect([id, COLLECT {{ {needs} }}]) AS needs",
        {"ids": list(ids), **types.params()},
    ).single(strict=True)
    return {ci: needs for ci, needs in record["needs"]}


def with_agreements(
    tx: ManagedTransaction, ids: Sequence[str], properties: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The CIs for display; a Service also with the SLAs covering it and their Customers."""
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (n:CI {{id: id}}) "
        f"RETURN {ci_view('n', properties)} AS n, n:Service AS service, "
        f"{_agreements('n')} AS slas",
        ids=list(ids),
    )
    return [_shown(r["n"], r["service"], r["slas"]) for r in rows]


def shortest_path(
    tx: ManagedTransaction, from_id: str, to_id: str, types: Sequence[str], max_depth: int
) -> list[dict[str, Any]] | None:
    record = tx.run(
        "MATCH (a:CI {id: $a}), (b:CI {id: $b}) "
        f"MATCH p = shortestPath((a)-[*..{int(max_depth)}]-(b)) "
        "WHERE all(r IN relationships(p) WHERE type(r) IN $types) "
        "RETURN [r IN relationships(p) | "
        "  {s: startNode(r).id, type: type(r), t: endNode(r).id}] AS steps",
        a=from_id,
        b=to_id,
        types=list(types),
    ).single()
    return [dict(s) for s in record["steps"]] if record else None


def propagation_path(
    tx: ManagedTransaction,
    from_id: str,
    to_id: str,
    types: Propagating,
    *,
    upstream: bool,
    max_depth: int,
) -> list[dict[str, Any]] | None:
    """A shortest path along which a failure of `from_id` travels to `to_id` (or, upstream,
    along which `from_id` needs `to_id`), each step in the direction its type carries it."""
    if not types.union:
        return None
    record = tx.run(
        "MATCH (from:CI {id: $a}), (to:CI {id: $b}) "
        "MATCH p = SHORTEST 1 (from)"
        f"((a)-[r:{types.union}]-(b) WHERE {_travels('r', 'a', upstream)}){{1,{int(max_depth)}}}"
        "(to) "
        "RETURN [r IN relationships(p) | "
        "  {s: startNode(r).id, type: type(r), t: endNode(r).id}] AS steps",
        {"a": from_id, "b": to_id, **types.params()},
    ).single()
    return [dict(s) for s in record["steps"]] if record else None


def neighbourhood(
    tx: ManagedTransaction, ci_id: str, types: Sequence[str], depth: int, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """CIs within `depth` hops (any direction), at most `limit` besides the root, the
    relationships among them, and how many more CIs were within reach but left out."""
    record = tx.run(
        "MATCH (root:CI {id: $id}) "
        f"OPTIONAL MATCH (root)-[rels*1..{int(depth)}]-(m:CI) "
        "WHERE all(r IN rels WHERE type(r) IN $types) "
        "WITH root, [o IN collect(DISTINCT m) WHERE o <> root] AS within "
        "WITH root, within[..$limit] AS others, size(within) AS reachable "
        "WITH [root] + others AS nodes, reachable - size(others) AS omitted "
        "UNWIND nodes AS n OPTIONAL MATCH (n)-[r]->(o:CI) WHERE o IN nodes AND type(r) IN $types "
        "WITH nodes, omitted, collect(DISTINCT r) AS rels "
        "RETURN [n IN nodes | properties(n)] AS nodes, omitted, "
        "       [r IN rels | {s: startNode(r).id, type: type(r), t: endNode(r).id}] AS edges",
        id=ci_id,
        types=list(types),
        limit=limit,
    ).single()
    if record is None:
        return [], [], 0
    nodes = [dict(n) for n in record["nodes"]]
    return nodes, [dict(e) for e in record["edges"]], int(record["omitted"])
