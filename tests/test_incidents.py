"""Incidents through the API: opened prioritised, governed and routed; worked through their
state machine with every step audited; bad input refused with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from core.access import SYSTEM
from core.ids import record_id, to_global_id
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_governing import Agreements, agree, shop  # noqa: F401 (a fixture)

FIELDS = """id number title state priority priorityReason routingReason impact urgency major
  reassignmentCount respondedAt resolvedAt reopenUntil closedAt holdReason resolutionCode version
  ci { name } team { name } governedBy { sla { name } ola { name } termsVersion }"""

OPEN = (
    "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { "
    "userErrors { code field message } incident { " + FIELDS + " } } }"
)
UPDATE = (
    "mutation($input: UpdateIncidentInput!) { updateIncident(input: $input) { "
    "userErrors { code field message } incident { " + FIELDS + " } } }"
)
STEP = (
    "mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { "
    "userErrors { code field message } incident { " + FIELDS + " } } }"
)


def open_incident(api: Api, **given: Any) -> dict[str, Any]:
    answer = api.ok(OPEN, {"input": {"title": "checkout fails", **given}})["createIncident"]
    assert answer["userErrors"] == [], answer["userErrors"]
    incident: dict[str, Any] = answer["incident"]
    return incident


def step(api: Api, incident: dict[str, Any], state: str, **changes: Any) -> dict[str, Any]:
    given = {"id": incident["id"], "version": incident["version"], "state": state}
    if changes:
        given["changes"] = changes
    answer: dict[str, Any] = api.ok(STEP, {"input": given})["transitionIncident"]
    return answer


def count_incidents(store: Store) -> int:
    return int(
        store.read(lambda tx: tx.run("MATCH (i:Incident) RETURN count(i) AS n").single()["n"])
    )


@pytest.fixture
def governed(store: Store, shop: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """The shop covered by an SLA whose OLA's team is the DBAs; a Web team supports it too."""
    made: dict[str, str] = {}

    def build(a: Agreements) -> None:
        gold = a.sla("Shop Gold", ["shop"], {p: (30, 240) for p in ("P1", "P2", "P3", "P4")})
        made["sla"] = gold
        made["web"] = a.team("Web", ["shop"])
        made["dbas"] = a.team("DBAs", [])
        a.ola("Shop databases", gold, made["dbas"], {"P3": (15, 120)})

    agree(store, shop, build)
    return {**shop, **made}


def test_an_incident_on_a_database_is_governed_by_the_shop_sla_and_routed_to_the_ola_team(
    api: Api, governed: dict[str, str]
) -> None:
    incident = open_incident(api, ci=governed["db"], impact="MEDIUM", urgency="MEDIUM")
    assert incident["number"].startswith("INC")
    assert incident["priority"] == "P3"
    assert incident["priorityReason"] == "P3 from impact medium and urgency medium"
    assert incident["governedBy"] == {
        "sla": {"name": "Shop Gold"},
        "ola": {"name": "Shop databases"},
        "termsVersion": 1,
    }
    assert incident["team"] == {"name": "DBAs"}
    assert incident["state"] == "ASSIGNED"
    assert "Shop Gold" in incident["routingReason"]
    assert incident["ci"] == {"name": "db"}


def test_priority_comes_from_the_matrix_raised_by_criticality_and_by_the_sla(
    api: Api, store: Store, governed: dict[str, str]
) -> None:
    low = open_incident(api, ci=governed["vm3"], impact="LOW", urgency="LOW")
    assert low["priority"] == "P5"
    # A critical CI is at least P2 by the default floors.
    store.write(
        SYSTEM,
        lambda uow: uow.update(
            "CI",
            record_id(governed["vm3"], "CI"),
            {"criticality": "critical"},
            expected_version=None,
        ),
    )
    raised = open_incident(api, ci=governed["vm3"], impact="LOW", urgency="LOW")
    assert raised["priority"] == "P2"
    assert "raised to P2: the CI is critical" in raised["priorityReason"]
    # The SLA's floor raises what the matrix and the CI's criticality gave.
    store.write(
        SYSTEM,
        lambda uow: uow.update(
            "SLA", governed["sla"], {"minimumPriority": "P1"}, expected_version=None
        ),
    )
    floored = open_incident(api, ci=governed["db"], impact="LOW", urgency="LOW")
    assert floored["priority"] == "P1"
    assert "Shop Gold says so" in floored["priorityReason"]


def test_the_matrix_is_the_policy_and_a_manager_changes_it(
    api: Api, store: Store, governed: dict[str, str]
) -> None:
    manager = api.as_role(store, "manager")
    policy = api.ok("{ incidentPolicy { matrix isDefault reopenWindowHours version } }")
    assert policy["incidentPolicy"]["isDefault"] is True
    assert "high/high=P1" in policy["incidentPolicy"]["matrix"]
    matrix = [f"{i}/{u}=P4" for i in ("high", "medium", "low") for u in ("high", "medium", "low")]
    setting = (
        "mutation($i: SetIncidentPolicyInput!) { setIncidentPolicy(input: $i) { "
        "userErrors { code field message } policy { matrix isDefault version } } }"
    )
    refused = api.post(setting, {"i": {"matrix": matrix}}).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    incomplete = manager.ok(setting, {"i": {"matrix": matrix[:8]}})["setIncidentPolicy"]
    assert incomplete["userErrors"][0]["field"] == ["input", "matrix"]
    assert incomplete["userErrors"][0]["code"] == "INCOMPLETE"
    malformed = manager.ok(setting, {"i": {"matrix": [*matrix[:8], "low/low=P9"]}})
    assert malformed["setIncidentPolicy"]["userErrors"][0]["field"] == ["input", "matrix", "8"]
    done = manager.ok(setting, {"i": {"matrix": matrix}})["setIncidentPolicy"]
    assert done["userErrors"] == [] and done["policy"]["isDefault"] is False
    assert open_incident(api, impact="HIGH", urgency="HIGH")["priority"] == "P4"


def test_a_new_team_is_a_reassignment_and_assigns_a_new_incident(
    api: Api, governed: dict[str, str]
) -> None:
    unrouted = open_incident(api)  # no CI: nothing to route by
    assert unrouted["state"] == "NEW" and unrouted["team"] is None
    assert unrouted["routingReason"].startswith("not routed")
    given = api.ok(UPDATE, {"input": {"id": unrouted["id"], "team": governed["web"]}})[
        "updateIncident"
    ]["incident"]
    assert given["state"] == "ASSIGNED" and given["reassignmentCount"] == 0
    moved = api.ok(UPDATE, {"input": {"id": unrouted["id"], "team": governed["dbas"]}})[
        "updateIncident"
    ]["incident"]
    assert moved["team"] == {"name": "DBAs"} and moved["reassignmentCount"] == 1


def test_the_life_of_an_incident_is_audited_step_by_step(
    api: Api, store: Store, governed: dict[str, str]
) -> None:
    incident = open_incident(api, ci=governed["db"])
    started = step(api, incident, "IN_PROGRESS")["incident"]
    assert started["respondedAt"] is not None
    no_reason = step(api, started, "ON_HOLD")
    assert no_reason["userErrors"][0]["field"] == ["input", "changes", "holdReason"]
    held = step(api, started, "ON_HOLD", holdReason="AWAITING_CALLER")["incident"]
    assert held["holdReason"] == "AWAITING_CALLER"
    resumed = step(api, held, "IN_PROGRESS")["incident"]
    assert resumed["holdReason"] is None
    no_code = step(api, resumed, "RESOLVED", resolutionNotes="restarted")
    assert no_code["userErrors"][0]["field"] == ["input", "changes", "resolutionCode"]
    no_notes = step(api, resumed, "RESOLVED", resolutionCode="FIXED")
    assert no_notes["userErrors"][0]["field"] == ["input", "changes", "resolutionNotes"]
    resolved = step(api, resumed, "RESOLVED", resolutionCode="FIXED", resolutionNotes="restarted")
    resolved = resolved["incident"]
    assert resolved["resolvedAt"] is not None and resolved["reopenUntil"] is not None
    reopened = step(api, resolved, "IN_PROGRESS")["incident"]
    assert reopened["resolutionCode"] is None and reopened["reopenUntil"] is None
    again = step(api, reopened, "RESOLVED", resolutionCode="WORKAROUND", resolutionNotes="x")
    closed = step(api, again["incident"], "CLOSED")["incident"]
    assert closed["closedAt"] is not None
    after_close = step(api, closed, "IN_PROGRESS")
    assert after_close["userErrors"][0]["code"] == "INVALID_TRANSITION"
    stored_id = record_id(incident["id"], "Incident")
    steps = store.read(
        lambda tx: [
            r["t"]
            for r in tx.run(
                "MATCH (a:AuditEntry {recordId: $id, action: 'transition'}) "
                "RETURN a.after AS t ORDER BY a.at",
                id=stored_id,
            )
        ]
    )
    names = [__import__("json").loads(s)["transition"] for s in steps]
    assert names == ["assign", "start", "hold", "resume", "resolve", "reopen", "resolve", "close"]


def test_bad_input_writes_nothing(api: Api, store: Store, governed: dict[str, str]) -> None:
    before = count_incidents(store)
    unknown_ci = api.ok(OPEN, {"input": {"title": "x", "ci": to_global_id("CI", "nope")}})
    assert unknown_ci["createIncident"]["userErrors"][0]["field"] == ["input", "ci"]
    assert unknown_ci["createIncident"]["userErrors"][0]["code"] == "NOT_FOUND"
    no_title = api.post(OPEN, {"input": {"ci": governed["db"]}})
    assert no_title.status_code == 200 and no_title.json()["errors"]
    assert count_incidents(store) == before
    incident = open_incident(api, ci=governed["db"])
    stale = api.ok(UPDATE, {"input": {"id": incident["id"], "version": 1, "impact": "HIGH"}})[
        "updateIncident"
    ]
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    invalid = step(api, incident, "CLOSED")
    assert invalid["userErrors"][0]["code"] == "INVALID_TRANSITION"
    assert "assigned" in invalid["userErrors"][0]["message"]
    fresh = api.ok(
        "query($id: ID!) { incident(id: $id) { " + FIELDS + " } }", {"id": incident["id"]}
    )
    assert fresh["incident"] == incident


def test_reopening_after_the_window_is_refused_and_the_window_closes_it(
    api: Api, store: Store, governed: dict[str, str]
) -> None:
    incident = open_incident(api, ci=governed["db"])
    resolved = step(api, incident, "RESOLVED", resolutionCode="FIXED", resolutionNotes="done")
    stored_id = record_id(incident["id"], "Incident")
    store.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (i:Incident {id: $id}) SET i.reopenUntil = datetime() - duration('PT1M')",
            id=stored_id,
        ).consume(),
    )
    late = step(api, resolved["incident"], "IN_PROGRESS")
    assert late["userErrors"][0]["code"] == "REOPEN_WINDOW_PASSED"
    from graphdb import timers
    from graphdb.cypher import timers as timers_cypher

    found = store.read(lambda tx: timers_cypher.by_record(tx, "Incident", stored_id))
    auto_close = next(t for t in found if t["kind"] == "incident.auto_close")
    store.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (t:Timer {id: $id}) SET t.dueAt = datetime() - duration('PT1S')",
            id=auto_close["id"],
        ).consume(),
    )
    assert timers.fire(store, auto_close["id"], "sweep")
    closed = api.ok(
        "query($id: ID!) { incident(id: $id) { state closedAt } }", {"id": incident["id"]}
    )
    assert closed["incident"]["state"] == "CLOSED" and closed["incident"]["closedAt"]
