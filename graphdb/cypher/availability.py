"""Cypher for outages and availability: the outage an alert recorded, and, for a report, every
outage of the CIs asked about that overlaps the period, with the CIs a Service depends on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graphdb.write_path import ident


def open_outage_of_alert(tx: ManagedTransaction, alert_id: str) -> dict[str, Any] | None:
    """The latest outage recorded from this alert that has not ended."""
    row = tx.run(
        "MATCH (o:Outage)-[:RECORDED_FROM]->(:Alert {id: $alert}) WHERE o.end IS NULL "
        "RETURN properties(o) AS o ORDER BY o.start DESC, o.id LIMIT 1",
        alert=alert_id,
    ).single()
    return dict(row["o"]) if row else None


def outage(tx: ManagedTransaction, outage_id: str) -> dict[str, Any] | None:
    row = tx.run("MATCH (o:Outage {id: $id}) RETURN properties(o) AS o", id=outage_id).single()
    return dict(row["o"]) if row else None


def outage_conditions(
    *,
    ci_ids: Sequence[str] | None,
    ongoing: bool | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Conditions on an outage `n` for a page of outages, with their parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if ci_ids is not None:
        conditions.append("EXISTS { (n)-[:ABOUT]->(c:CI) WHERE c.id IN $outageCis }")
        params["outageCis"] = list(ci_ids)
    if ongoing is not None:
        conditions.append("n.end IS NULL" if ongoing else "n.end IS NOT NULL")
    if until is not None:
        conditions.append("n.start < $outageUntil")
        params["outageUntil"] = until
    if since is not None:
        conditions.append("(n.end IS NULL OR n.end > $outageSince)")
        params["outageSince"] = since
    return tuple(conditions), params


_CI = "{.id, .number, .name, .ciClass}"


def cis(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = tx.run(f"UNWIND $ids AS id MATCH (c:CI {{id: id}}) RETURN c {_CI} AS c", ids=list(ids))
    return {row["c"]["id"]: dict(row["c"]) for row in rows}


def agreements(tx: ManagedTransaction, label: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """SLAs or OLAs by id, for naming them in a report."""
    rows = tx.run(
        f"UNWIND $ids AS id MATCH (a:{ident(label)} {{id: id}}) "
        "RETURN a {.id, .number, .name, .state} AS a",
        ids=list(ids),
    )
    return {row["a"]["id"]: dict(row["a"]) for row in rows}


def customers(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = tx.run(
        "UNWIND $ids AS id MATCH (c:Customer {id: id}) RETURN c {.id, .number, .name} AS c",
        ids=list(ids),
    )
    return {row["c"]["id"]: dict(row["c"]) for row in rows}


def outages_of(
    tx: ManagedTransaction, ci_ids: Sequence[str], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Every outage of these CIs that overlaps [since, until), going on ones included."""
    rows = tx.run(
        "UNWIND $ids AS id MATCH (c:CI {id: id})<-[:ABOUT]-(o:Outage) "
        "WHERE o.start < $until AND (o.end IS NULL OR o.end > $since) "
        "RETURN c.id AS ciId, properties(o) AS outage ORDER BY o.start, o.id",
        ids=list(ci_ids),
        since=since,
        until=until,
    )
    return [{"ciId": row["ciId"], "outage": dict(row["outage"])} for row in rows]


def slas_for_report(
    tx: ManagedTransaction, sla_ids: Sequence[str], customer_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The SLAs asked and those agreed with the customers asked (with neither, every active
    SLA), each with the Services it covers, its customers' ids and every version of its terms."""
    rows = tx.run(
        "MATCH (sla:SLA) "
        "WHERE sla.id IN $slas "
        "   OR EXISTS { (sla)-[:AGREED_WITH]->(c:Customer) WHERE c.id IN $customers } "
        "   OR (size($slas) = 0 AND size($customers) = 0 AND sla.state = 'active') "
        "RETURN sla {.id, .number, .name, .state} AS sla, "
        f"COLLECT {{ MATCH (sla)-[:COVERS]->(s:Service) RETURN s {_CI} }} AS services, "
        "COLLECT { MATCH (sla)-[:AGREED_WITH]->(c:Customer) RETURN c.id } AS customerIds, "
        "COLLECT { MATCH (sla)-[:HAS_TERMS]->(t:AgreementTerms) RETURN properties(t) } AS terms "
        "ORDER BY sla.number, sla.id",
        slas=list(sla_ids),
        customers=list(customer_ids),
    )
    return [
        {
            "sla": dict(row["sla"]),
            "services": [dict(s) for s in row["services"]],
            "customerIds": list(row["customerIds"]),
            "terms": [dict(t) for t in row["terms"]],
        }
        for row in rows
    ]
