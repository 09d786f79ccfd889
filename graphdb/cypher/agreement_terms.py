"""Cypher for agreement terms: the versions of an SLA's or an OLA's terms, and the escalation
levels of each with whom they notify and where they reassign.

Agreement labels come from `core.agreement_terms.AGREEMENT_LABELS`, never from input.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from core.agreement_terms import AGREEMENT_LABELS
from graphdb.write_path import ident

# One escalation level with its recipients, read from `e`.
_LEVEL = (
    "e {.*, notify: [(e)-[:NOTIFIES]->(p) WHERE p:Person OR p:Team | "
    "{id: p.id, label: CASE WHEN p:Person THEN 'Person' ELSE 'Team' END, name: p.name}], "
    "reassignTo: head([(e)-[:REASSIGNS_TO]->(r:Team) | {id: r.id, label: 'Team', name: r.name}])}"
)


def agreement_labels(tx: ManagedTransaction, labels: Sequence[str], agreement_id: str) -> list[str]:
    """Which of these agreement labels have a record with this stored id."""
    found = []
    for label in labels:
        row = tx.run(
            f"MATCH (a:{ident(label)} {{id: $id}}) RETURN count(a) AS n", id=agreement_id
        ).single(strict=True)
        if row["n"]:
            found.append(label)
    return found


def terms_of(
    tx: ManagedTransaction, label: str, agreement_id: str, version: int | None
) -> dict[str, Any] | None:
    """One version of an agreement's terms (the current one when `version` is None)."""
    row = tx.run(
        f"MATCH (:{ident(label)} {{id: $id}})-[:HAS_TERMS]->(t:AgreementTerms) "
        "WHERE ($version IS NULL AND t.current) OR t.version = $version "
        "RETURN properties(t) AS t ORDER BY t.version DESC LIMIT 1",
        id=agreement_id,
        version=version,
    ).single()
    return dict(row["t"]) if row else None


def latest_version(tx: ManagedTransaction, label: str, agreement_id: str) -> int:
    """The highest terms version an agreement has; 0 before its first."""
    row = tx.run(
        f"MATCH (:{ident(label)} {{id: $id}})-[:HAS_TERMS]->(t:AgreementTerms) "
        "RETURN max(t.version) AS v",
        id=agreement_id,
    ).single(strict=True)
    return int(row["v"] or 0)


def current_of(
    tx: ManagedTransaction, label: str, agreement_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The current terms of many agreements of one label, by agreement id."""
    rows = tx.run(
        f"MATCH (a:{ident(label)})-[:HAS_TERMS]->(t:AgreementTerms {{current: true}}) "
        "WHERE a.id IN $ids RETURN a.id AS id, properties(t) AS t",
        ids=list(agreement_ids),
    )
    return {row["id"]: dict(row["t"]) for row in rows}


def history_of(
    tx: ManagedTransaction, label: str, agreement_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every terms version of many agreements of one label, newest first, by agreement id."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in agreement_ids}
    rows = tx.run(
        f"MATCH (a:{ident(label)})-[:HAS_TERMS]->(t:AgreementTerms) WHERE a.id IN $ids "
        "RETURN a.id AS id, properties(t) AS t ORDER BY t.version DESC",
        ids=list(agreement_ids),
    )
    for row in rows:
        out[row["id"]].append(dict(row["t"]))
    return out


def terms_by_ids(tx: ManagedTransaction, terms_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Terms versions by id, each with the label and id of its agreement."""
    rows = tx.run(
        "MATCH (a)-[:HAS_TERMS]->(t:AgreementTerms) WHERE t.id IN $ids "
        "RETURN properties(t) AS t, a.id AS agreementId, "
        "[l IN labels(a) WHERE l IN $labels][0] AS agreementLabel",
        ids=list(terms_ids),
        labels=list(AGREEMENT_LABELS),
    )
    return {
        row["t"]["id"]: {
            **dict(row["t"]),
            "agreementId": row["agreementId"],
            "agreementLabel": row["agreementLabel"],
        }
        for row in rows
    }


def levels_of(tx: ManagedTransaction, terms_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The escalation levels of many terms versions, in order, each with its recipients."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in terms_ids}
    rows = tx.run(
        "MATCH (t:AgreementTerms)-[:ESCALATES_AT]->(e:EscalationLevel) WHERE t.id IN $ids "
        f"RETURN t.id AS id, {_LEVEL} AS level ORDER BY e.level",
        ids=list(terms_ids),
    )
    for row in rows:
        level = dict(row["level"])
        level["notify"] = sorted(
            (dict(n) for n in level["notify"]), key=lambda n: (n["label"], n["name"] or "")
        )
        level["reassignTo"] = dict(level["reassignTo"]) if level["reassignTo"] else None
        out[row["id"]].append(level)
    return out


def parties(tx: ManagedTransaction, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """People and Teams by stored id: their labels and state, for escalation recipients."""
    rows = tx.run(
        "MATCH (n) WHERE n.id IN $ids AND (n:Person OR n:Team) "
        "RETURN n.id AS id, CASE WHEN n:Person THEN 'Person' ELSE 'Team' END AS label, "
        "n.state AS state, n.name AS name",
        ids=list(ids),
    )
    return {row["id"]: dict(row) for row in rows}


def active_teams_by_name(tx: ManagedTransaction, names: Sequence[str]) -> dict[str, str]:
    """The stored ids of the active Teams with these names, by name."""
    rows = tx.run(
        "MATCH (t:Team) WHERE t.name IN $names AND t.state = 'active' RETURN t.name AS name, "
        "t.id AS id",
        names=list(names),
    )
    return {row["name"]: row["id"] for row in rows}


def close(tx: ManagedTransaction, terms_id: str, at: datetime) -> None:
    """End a version: no longer current, valid until `at`. Its version number and every target
    stay as written, so nothing else about it changes."""
    tx.run(
        "MATCH (t:AgreementTerms {id: $id}) SET t.current = false, t.validTo = $at, "
        "t.updatedAt = $at",
        id=terms_id,
        at=at,
    ).consume()
