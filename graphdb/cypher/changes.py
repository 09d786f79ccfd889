"""Cypher of Change Management: conflicts over the dependency chain, the facts behind a
change's risk, its derived figures, and the changes in maintenance for event management.

A dependency chain is a directed path of CI-to-CI relationships (`(a)-[:RUNS_ON]->(b)`: a
needs b), followed either way from a changed CI, so a change on a database and one on the
application three hops above it meet; sideways paths (two apps on one server) are not a chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

# Changes still to come or under way: the ones another change can collide with.
LIVE_STATES = ("draft", "assessment", "authorisation", "scheduled", "implementing")
CRITICALITY_ORDER = ("low", "medium", "high", "critical")

# A chain is made of CIs joined by relationships a failure travels along: `$skip` names the
# informational ones (DOCUMENTED_BY), which the CMDB registry declares.
_CHAIN = "all(n IN nodes(p) WHERE n:CI) AND none(r IN relationships(p) WHERE type(r) IN $skip)"
_CHAIN_1 = _CHAIN.replace("(p)", "(p1)")
_CHAIN_2 = _CHAIN.replace("(p)", "(p2)")


def set_derived(tx: ManagedTransaction, change_id: str, values: Mapping[str, Any]) -> None:
    """Derived figures are written without a new version, as a CI's blast radius is."""
    tx.run("MATCH (c:Change {id: $id}) SET c += $values", id=change_id, values=dict(values))


def policy(tx: ManagedTransaction) -> dict[str, Any] | None:
    # One policy is written; should two first writes race, the older one counts.
    record = tx.run(
        "MATCH (p:ChangePolicy) WITH p ORDER BY p.createdAt LIMIT 1 RETURN properties(p) AS p"
    ).single()
    return dict(record["p"]) if record is not None else None


def template_active(tx: ManagedTransaction, change_id: str) -> bool | None:
    """Whether the change's template is active; None when it has no template."""
    row = tx.run(
        "MATCH (:Change {id: $id})-[:USES_TEMPLATE]->(t:ChangeTemplate) RETURN t.active AS a",
        id=change_id,
    ).single()
    return None if row is None else row["a"] is not False


def caused_by(tx: ManagedTransaction, incident_id: str, change_id: str) -> bool:
    row = tx.run(
        "MATCH (:Incident {id: $i})-[:CAUSED_BY_CHANGE]->(:Change {id: $c}) RETURN 1 AS x",
        i=incident_id,
        c=change_id,
    ).single()
    return row is not None


def live_near(
    tx: ManagedTransaction, ci_ids: Sequence[str], now: datetime, skip: Sequence[str] = ()
) -> list[str]:
    """The live changes not yet over whose CIs are in the same dependency chain as any of these
    CIs (either way), whose conflicts a new or removed relationship of them may change."""
    rows = tx.run(
        "MATCH (o:Change)-[:MODIFIES]->(y:CI) "
        "WHERE o.state IN $live AND o.plannedEnd IS NOT NULL AND o.plannedEnd > $now "
        "WITH DISTINCT o, y MATCH (x:CI) WHERE x.id IN $ids "
        "OPTIONAL MATCH p1 = shortestPath((x)-[*0..]->(y)) WHERE " + _CHAIN_1 + " "
        "OPTIONAL MATCH p2 = shortestPath((y)-[*0..]->(x)) WHERE " + _CHAIN_2 + " "
        "WITH o WHERE p1 IS NOT NULL OR p2 IS NOT NULL "
        "RETURN DISTINCT o.id AS id ORDER BY id",
        ids=list(ci_ids),
        now=now,
        live=list(LIVE_STATES),
        skip=list(skip),
    )
    return [r["id"] for r in rows]


def conflicts(
    tx: ManagedTransaction, change_id: str, skip: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every other live change, freeze window and maintenance window that overlaps this
    change's planned window on its CIs or on CIs in the same dependency chain, with the path
    of CI names from this change's CI to the other's."""
    rows = tx.run(
        "MATCH (c:Change {id: $id}) WHERE c.plannedStart IS NOT NULL AND c.plannedEnd IS NOT NULL "
        "MATCH (c)-[:MODIFIES]->(x:CI) "
        "CALL (c, x) { "
        "  MATCH (o:Change)-[:MODIFIES]->(y:CI) "
        "  WHERE o.id <> c.id AND o.state IN $live AND o.plannedStart < c.plannedEnd "
        "    AND o.plannedEnd > c.plannedStart "
        "  OPTIONAL MATCH p1 = shortestPath((x)-[*0..]->(y)) WHERE " + _CHAIN_1 + " "
        "  OPTIONAL MATCH p2 = shortestPath((y)-[*0..]->(x)) WHERE " + _CHAIN_2 + " "
        "  WITH o, CASE WHEN p1 IS NOT NULL THEN [n IN nodes(p1) | n.name] "
        "    ELSE reverse([n IN nodes(p2) | n.name]) END AS path, p1, p2 "
        "  WHERE p1 IS NOT NULL OR p2 IS NOT NULL "
        "  RETURN 'change' AS kind, o.id AS otherId, o.number AS otherNumber, o.title AS title, "
        "    o.plannedStart AS start, o.plannedEnd AS end, path "
        "  UNION "
        "  MATCH (f:FreezeWindow) WHERE f.start < c.plannedEnd AND f.end > c.plannedStart "
        "  OPTIONAL MATCH (f)-[:FREEZES]->(z:CI) "
        "  OPTIONAL MATCH p = shortestPath((z)-[*0..]->(x)) WHERE " + _CHAIN + " "
        "  WITH f, p WHERE f.isGlobal OR p IS NOT NULL "
        "  RETURN 'freeze' AS kind, f.id AS otherId, f.number AS otherNumber, f.title AS title, "
        "    f.start AS start, f.end AS end, "
        "    CASE WHEN p IS NULL THEN [x.name] ELSE reverse([n IN nodes(p) | n.name]) END AS path "
        "  UNION "
        "  MATCH (w:MaintenanceWindow)-[:SCHEDULED_FOR]->(z:CI) "
        "  WHERE w.start < c.plannedEnd AND w.end > c.plannedStart "
        "  MATCH p = shortestPath((z)-[*0..]->(x)) WHERE " + _CHAIN + " "
        "  RETURN 'maintenance' AS kind, w.id AS otherId, w.number AS otherNumber, "
        "    w.title AS title, w.start AS start, w.end AS end, reverse([n IN nodes(p) | n.name]) "
        "    AS path "
        "} "
        "RETURN kind, otherId, otherNumber, title, start, end, x.name AS ci, path "
        "ORDER BY kind, otherNumber, size(path)",
        id=change_id,
        live=list(LIVE_STATES),
        skip=list(skip),
    )
    seen: set[tuple[str, str]] = set()
    out = []
    for r in rows:
        key = (r["kind"], r["otherId"])
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(r))
    return out


def risk_facts(
    tx: ManagedTransaction, change_id: str, following_hours: int, skip: Sequence[str] = ()
) -> dict[str, Any]:
    """What a change's risk is computed from, over the CIs it modifies."""
    record = tx.run(
        "MATCH (c:Change {id: $id}) "
        "OPTIONAL MATCH (c)-[:MODIFIES]->(x:CI) "
        "WITH c, collect(DISTINCT x) AS cis "
        "CALL (cis) { UNWIND cis AS x OPTIONAL MATCH p = (d:CI)-[*1..6]->(x) "
        "  WHERE " + _CHAIN + " "
        "  RETURN count(DISTINCT d) AS dependants } "
        "CALL (cis) { UNWIND cis AS x "
        "  OPTIONAL MATCH p = (s:Service)-[*0..6]->(x) WHERE " + _CHAIN + " "
        "  OPTIONAL MATCH (a:SLA {state: 'active'})-[:COVERS]->(s) "
        "  OPTIONAL MATCH (a)-[:AGREED_WITH]->(k:Customer) "
        "  RETURN collect(DISTINCT a.name) AS slas, collect(DISTINCT k.name) AS customers } "
        "CALL (c, cis) { UNWIND cis AS x "
        "  OPTIONAL MATCH p = (x)-[*0..3]->(u:CI) WHERE " + _CHAIN + " "
        "  WITH c, collect(DISTINCT u) AS near "
        "  UNWIND near AS u "
        "  MATCH (e:Change)-[:MODIFIES]->(u) WHERE e.id <> c.id AND e.implementedAt IS NOT NULL "
        "  OPTIONAL MATCH (i1:Incident)-[:CAUSED_BY_CHANGE]->(e) "
        "  OPTIONAL MATCH (i2:Incident)-[:AFFECTS]->(u) WHERE i2.createdAt >= e.implementedAt "
        "    AND i2.createdAt < e.implementedAt + duration({hours: $hours}) "
        "  WITH collect(DISTINCT e.number) AS earlier, "
        "    collect(DISTINCT i1.number) + collect(DISTINCT i2.number) AS incs "
        "  RETURN earlier, reduce(s = [], i IN incs | CASE WHEN i IN s THEN s ELSE s + i END) "
        "    AS incidents } "
        "RETURN c.changeType AS changeType, [x IN cis | x.name] AS cis, "
        "  [x IN cis | x.criticality] AS criticalities, dependants, slas, customers, "
        "  earlier, incidents",
        id=change_id,
        hours=following_hours,
        skip=list(skip),
    ).single(strict=True)
    return dict(record)


def approvals(tx: ManagedTransaction, change_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    rows = tx.run(
        "MATCH (a:ChangeApproval)-[:APPROVAL_OF]->(c:Change) WHERE c.id IN $ids "
        "RETURN c.id AS change, properties(a) AS a ORDER BY a.at, a.id",
        ids=list(change_ids),
    )
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in change_ids}
    for r in rows:
        out[r["change"]].append(dict(r["a"]))
    return out


def implementing_on(tx: ManagedTransaction, ci_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Changes being implemented that modify any of these CIs."""
    rows = tx.run(
        "MATCH (c:Change {state: 'implementing'})-[:MODIFIES]->(x:CI) WHERE x.id IN $ids "
        "RETURN c.number AS number, c.title AS title, x.id AS ci, x.name AS ciName "
        "ORDER BY c.number",
        ids=list(ci_ids),
    )
    return [dict(r) for r in rows]


def changes_on(
    tx: ManagedTransaction,
    ci_ids: Sequence[str],
    since: datetime,
    upstream: bool,
    skip: Sequence[str] = (),
) -> dict[str, list[dict[str, Any]]]:
    """Changes implemented since `since` on each CI, or (upstream) on anything it depends on."""
    hops = "*0.." if upstream else "*0..0"
    rows = tx.run(
        f"UNWIND $ids AS ci MATCH p = (x:CI {{id: ci}})-[{hops}]->(u:CI) "
        "WHERE " + _CHAIN + " "
        "WITH DISTINCT ci, u MATCH (c:Change)-[:MODIFIES]->(u) WHERE c.implementedAt >= $since "
        "WITH DISTINCT ci, c RETURN ci, properties(c) AS c ORDER BY c.implementedAt DESC",
        ids=list(ci_ids),
        since=since,
        skip=list(skip),
    )
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ci_ids}
    for r in rows:
        out[r["ci"]].append(dict(r["c"]))
    return out


def recent_upstream(
    tx: ManagedTransaction,
    ci_id: str,
    since: datetime,
    until: datetime,
    skip: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Changes implemented in [since, until] on this CI or anything it depends on, with the
    fewest hops to each, nearest then newest first."""
    rows = tx.run(
        "MATCH p = (x:CI {id: $id})-[*0..]->(u:CI) WHERE " + _CHAIN + " "
        "WITH u, min(length(p)) AS hops "
        "MATCH (c:Change)-[:MODIFIES]->(u) "
        "WHERE c.implementedAt >= $since AND c.implementedAt <= $until "
        "WITH c, min(hops) AS hops, head(collect(u.name)) AS ciName "
        "RETURN c.id AS id, c.number AS number, c.title AS title, c.implementedAt AS at, "
        "  hops, ciName ORDER BY hops, at DESC, number",
        id=ci_id,
        since=since,
        until=until,
        skip=list(skip),
    )
    return [dict(r) for r in rows]


def proposals(
    tx: ManagedTransaction, incident_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    rows = tx.run(
        "MATCH (i:Incident)-[r:PROPOSED_CAUSE]->(c:Change) WHERE i.id IN $ids "
        "RETURN i.id AS incident, properties(c) AS change, r.rank AS rank, r.hops AS hops, "
        "  r.reason AS reason, EXISTS { (i)-[:CAUSED_BY_CHANGE]->(c) } AS accepted "
        "ORDER BY r.rank",
        ids=list(incident_ids),
    )
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in incident_ids}
    for r in rows:
        out[r["incident"]].append(dict(r))
    return out


def incident_ci(tx: ManagedTransaction, incident_id: str) -> dict[str, Any] | None:
    record = tx.run(
        "MATCH (i:Incident {id: $id}) OPTIONAL MATCH (i)-[:AFFECTS]->(c:CI) "
        "RETURN i.createdAt AS at, c.id AS ci",
        id=incident_id,
    ).single()
    return dict(record) if record else None


def change_metrics(
    tx: ManagedTransaction, start: datetime, end: datetime, skip: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Changes implemented in the period, each with the services whose dependency chain holds a
    CI it modified, the teams owning those CIs, its outcome and the incidents it caused."""
    rows = tx.run(
        "MATCH (c:Change) WHERE c.implementedAt >= $start AND c.implementedAt < $end "
        "CALL (c) { MATCH (c)-[:MODIFIES]->(x:CI) "
        "  OPTIONAL MATCH p = (s:Service)-[*0..]->(x) WHERE " + _CHAIN + " "
        "  OPTIONAL MATCH (x)-[:OWNED_BY]->(t:Team) "
        "  RETURN collect(DISTINCT {id: s.id, name: s.name}) AS services, "
        "    collect(DISTINCT {id: t.id, name: t.name}) AS teams } "
        "OPTIONAL MATCH (i:Incident)-[:CAUSED_BY_CHANGE]->(c) "
        "RETURN c.id AS id, c.outcome AS outcome, services, teams, "
        "  collect({openedAt: i.createdAt, resolvedAt: i.resolvedAt, id: i.id}) AS incidents",
        start=start,
        end=end,
        skip=list(skip),
    )
    return [dict(r) for r in rows]
