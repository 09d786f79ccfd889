"""Cypher for "which agreement applies": the agreements and teams standing behind Services.

Which of them governs is decided in `domain/service_level/governing.py`; this reads, in one round
trip, everything that decision weighs, including the retired and draft agreements, so that the
answer can say why they do not govern.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

_REF = ".id, .number, .name, .state"


def _current_terms(agreement: str, terms: str) -> str:
    """The agreement's current terms version with its targets at the asked priority (the target
    property names are parameters: `t[$key]` reads a property named by a parameter)."""
    return (
        f"head(COLLECT {{ MATCH ({agreement})-[:HAS_TERMS]->"
        f"({terms}:AgreementTerms {{current: true}}) "
        f"RETURN {terms} {{.id, .version, response: {terms}[$response], "
        f"resolution: {terms}[$resolution]}} }})"
    )


def behind_services(
    tx: ManagedTransaction, service_ids: Sequence[str], *, response: str, resolution: str
) -> list[dict[str, Any]]:
    """For each Service: the SLAs covering it with their current terms and the OLAs supporting
    each (with their terms, their team and whether that team supports this Service), and the
    teams supporting the Service. `response` and `resolution` name the target properties read
    (`responseP2`, `resolutionP2`)."""
    rows = tx.run(
        "UNWIND $ids AS sid MATCH (svc:CI:Service {id: sid}) "
        "RETURN svc {.id, .number, .name} AS service, "
        "COLLECT { MATCH (sla:SLA)-[:COVERS]->(svc) "
        f"  RETURN sla {{{_REF}, terms: {_current_terms('sla', 't')}, "
        "    olas: COLLECT { MATCH (ola:OLA)-[:SUPPORTS]->(sla) "
        "      OPTIONAL MATCH (ola)-[:PROVIDED_BY]->(team:Team) "
        f"      RETURN ola {{{_REF}, terms: {_current_terms('ola', 'ot')}, "
        f"        team: team {{{_REF}}}, "
        "        teamSupportsService: team IS NOT NULL "
        "          AND EXISTS { (team)-[:SUPPORTS_SERVICE]->(svc) }} } "
        "  }} AS slas, "
        f"COLLECT {{ MATCH (team:Team)-[:SUPPORTS_SERVICE]->(svc) RETURN team {{{_REF}}} }} "
        "AS teams",
        ids=list(service_ids),
        response=response,
        resolution=resolution,
    )
    return [
        {"service": dict(r["service"]), "slas": list(r["slas"]), "teams": list(r["teams"])}
        for r in rows
    ]
