"""Cypher for thresholds: which thresholds watch a batch of (CI, metric) pairs, and the
evaluation state kept per (threshold, CI) in a `(:ThresholdState {key})` node.

A state node is the evaluator's working memory, not a record: it has no number, no audit trail
and no version, the way a `(:Timer)` has none. Its key is `<threshold id>:<CI id>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from graphdb.cypher.ci import Propagating
from graphdb.cypher.ci import _travels as travels

# Only an active agreement sets thresholds that are evaluated.
_IN_FORCE = "EXISTS { MATCH (t)-[:DEFINED_BY]->(agreement) WHERE agreement.state = 'active' }"


def _scoped(types: Propagating, hops: int, ci: str, metric: str | None) -> str:
    """Thresholds scoped to a Service with the CI's class (on `metric`, a Cypher expression, when
    given), where a failure of the CI reaches the Service (the Service depends on it) within
    `hops` relationships."""
    if not types.union:
        return "[]"
    on_metric = f"AND t.metric = {metric} " if metric else ""
    return (
        f"COLLECT {{ MATCH (t:Threshold)-[:SCOPED_TO]->(svc:CI) WHERE t.ciClass = {ci}.ciClass "
        f"{on_metric}"
        f"AND EXISTS {{ MATCH ({ci})((a)-[r:{types.union}]-(b) WHERE {travels('r', 'a', False)})"
        f"{{1,{int(hops)}}}(svc) }} RETURN t }}"
    )


def watching(
    tx: ManagedTransaction,
    pairs: Sequence[tuple[str, str]],
    types: Propagating,
    hops: int,
) -> list[tuple[str, str, dict[str, Any]]]:
    """For each (CI id, metric): the enabled thresholds of active agreements on that metric that
    watch the CI by name or through a Service of their class. Returns (CI id, metric, threshold)
    rows, in one query for the whole batch."""
    query = (
        "UNWIND $pairs AS pair MATCH (c:CI {id: pair[0]}) WITH c, pair[1] AS metric "
        "WITH c, metric, COLLECT { MATCH (t:Threshold {metric: metric})-[:WATCHES]->(c) "
        f"RETURN t }} + {_scoped(types, hops, 'c', 'metric')} AS found "
        "UNWIND found AS t WITH DISTINCT c, metric, t "
        f"WHERE t.enabled AND {_IN_FORCE} "
        "RETURN c.id AS ci, metric, properties(t) AS t"
    )
    rows = tx.run(query, pairs=[list(p) for p in pairs], **types.params())
    return [(r["ci"], r["metric"], dict(r["t"])) for r in rows]


def of_cis(
    tx: ManagedTransaction, ci_ids: Sequence[str], types: Propagating, hops: int
) -> dict[str, list[dict[str, Any]]]:
    """Every threshold watching each CI, by name or through a Service of its class, enabled or
    not, by name."""
    query = (
        "UNWIND $ids AS id MATCH (c:CI {id: id}) "
        "WITH c, COLLECT { MATCH (t:Threshold)-[:WATCHES]->(c) RETURN t } + "
        f"{_scoped(types, hops, 'c', None)} AS found "
        "RETURN c.id AS ci, COLLECT { UNWIND found AS t WITH DISTINCT t "
        "  RETURN properties(t) ORDER BY t.name, t.id } AS thresholds"
    )
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in ci_ids}
    for row in tx.run(query, ids=list(ci_ids), **types.params()):
        found[row["ci"]] = [dict(t) for t in row["thresholds"]]
    return found


def lock_states(
    tx: ManagedTransaction, keys: Sequence[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """The state nodes of these (threshold id, CI id) pairs, created empty where missing, each
    under its write lock (taken in key order, so two batches cannot deadlock on them)."""
    rows = tx.run(
        "UNWIND $rows AS row "
        "MERGE (s:ThresholdState {key: row.key}) "
        "ON CREATE SET s.thresholdId = row.threshold, s.ciId = row.ci, s.state = 'ok' "
        "SET s._lock = true REMOVE s._lock "
        "RETURN s.key AS key, properties(s) AS s",
        rows=[{"key": f"{t}:{c}", "threshold": t, "ci": c} for t, c in sorted(dict.fromkeys(keys))],
    )
    return {r["key"]: dict(r["s"]) for r in rows}


def save_states(tx: ManagedTransaction, states: Sequence[dict[str, Any]]) -> None:
    """Replace the evaluated state nodes' properties (key, threshold and CI kept)."""
    if states:
        tx.run(
            "UNWIND $rows AS row MATCH (s:ThresholdState {key: row.key}) SET s = row",
            rows=list(states),
        ).consume()


def states_of(
    tx: ManagedTransaction, threshold_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each threshold's states with the CI they are about: the CIs it watches by name (with no
    state yet when no sample came) and every CI it has evaluated samples of, by CI name."""
    query = (
        "UNWIND $ids AS id MATCH (t:Threshold {id: id}) "
        "RETURN id, COLLECT { "
        "  CALL (t) { MATCH (t)-[:WATCHES]->(c:CI) RETURN c "
        "    UNION MATCH (s:ThresholdState {thresholdId: t.id}) MATCH (c:CI {id: s.ciId}) "
        "    RETURN c } "
        "  OPTIONAL MATCH (s:ThresholdState {key: t.id + ':' + c.id}) "
        "  RETURN {ci: properties(c), state: properties(s)} ORDER BY c.name, c.id "
        "} AS states"
    )
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in threshold_ids}
    for row in tx.run(query, ids=list(threshold_ids)):
        found[row["id"]] = [
            {"ci": dict(s["ci"]), "state": dict(s["state"]) if s["state"] else None}
            for s in row["states"]
        ]
    return found
