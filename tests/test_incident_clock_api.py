"""An incident's clocks and SLA events through the API: computed at the time of the request,
what the sweep fired, a paused clock, and one read per page of incidents whatever its size."""

from __future__ import annotations

from typing import Any

from core.ids import record_id, to_global_id
from graphdb import timers
from graphdb.write_path import Store
from tests.conftest import Api, RunningServer
from tests.test_escalations import SECOND, Estate, age, estate

CLOCK = (
    "clock state targetMinutes elapsedSeconds pausedSeconds remainingSeconds startedAt "
    "stoppedAt dueAt breached breachedAt warnings { percent at reached }"
)
EVENT = (
    "key clock kind percent level repetition dueAt firedAt firedVia firedBy priority "
    "recipients notified reassignedTo"
)
PAGE = (
    "query($n: Int!) { incidents(first: $n, orderBy: {field: NUMBER}) { edges { node { "
    f"id number version responseClock {{ {CLOCK} }} resolutionClock {{ {CLOCK} }} "
    f"slaEvents {{ {EVENT} }} }} }} }} }}"
)
OPEN = (
    "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { "
    "userErrors { code field message } incident { id number version } } }"
)
STEP = (
    "mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { "
    "userErrors { code field message } incident { id resolutionClock { state dueAt } } } }"
)


def open_incident(api: Api, where: Estate, title: str) -> dict[str, Any]:
    answer = api.ok(
        OPEN,
        {
            "input": {
                "title": title,
                "impact": "HIGH",
                "urgency": "HIGH",
                "ci": where.service,
                "team": where.team,
                "assignee": where.assignee,
            }
        },
    )["createIncident"]
    assert answer["userErrors"] == [], answer
    found: dict[str, Any] = answer["incident"]
    return found


def page(api: Api, n: int = 10) -> list[dict[str, Any]]:
    return [e["node"] for e in api.ok(PAGE, {"n": n})["incidents"]["edges"]]


def test_clocks_are_read_at_the_time_of_the_request_with_what_fired(api: Api, store: Store) -> None:
    where = estate(store)
    late = open_incident(api, where, "Checkout fails")
    fresh = open_incident(api, where, "Search is slow")
    age(store, record_id(late["id"], "Incident"), 130 * SECOND)
    # The sweep fires what is due (no worker here): the warning and the breach, in one firing.
    assert timers.fire_due(store) == 1

    first, second = page(api)
    assert first["number"] == late["number"]
    response = first["responseClock"]
    assert response["state"] == "RUNNING" and response["targetMinutes"] is None
    assert response["dueAt"] is None and response["remainingSeconds"] is None
    resolution = first["resolutionClock"]
    assert resolution["clock"] == "RESOLUTION" and resolution["state"] == "RUNNING"
    assert resolution["targetMinutes"] == 2 and resolution["breached"] is True
    assert 130 <= resolution["elapsedSeconds"] < 200
    assert resolution["remainingSeconds"] == 120 - resolution["elapsedSeconds"]
    assert resolution["breachedAt"] == resolution["dueAt"] is not None
    assert resolution["pausedSeconds"] == 0
    assert [(w["percent"], w["reached"]) for w in resolution["warnings"]] == [(50, True)]
    ana, web = to_global_id("Person", where.assignee), to_global_id("Team", where.team)
    events = first["slaEvents"]
    assert [(e["kind"], e["percent"], e["firedVia"]) for e in events] == [
        ("WARNED", 50, "sweep"),
        ("BREACHED", None, "sweep"),
    ]
    assert all(e["recipients"] == [ana, web] and e["notified"] == 2 for e in events)
    assert events[1]["dueAt"] == resolution["breachedAt"]
    assert events[0]["key"].endswith(":resolution:warned:50")

    untouched = second["resolutionClock"]
    assert untouched["breached"] is False and untouched["breachedAt"] is None
    assert 100 < untouched["remainingSeconds"] <= 120
    assert [(w["percent"], w["reached"]) for w in untouched["warnings"]] == [(50, False)]
    assert second["slaEvents"] == []

    held = api.ok(
        STEP,
        {
            "input": {
                "id": fresh["id"],
                "state": "ON_HOLD",
                "changes": {"holdReason": "AWAITING_CALLER"},
            }
        },
    )["transitionIncident"]
    assert held["userErrors"] == []
    assert held["incident"]["resolutionClock"] == {"state": "PAUSED", "dueAt": None}


def test_a_page_of_incidents_costs_the_same_reads_for_2_and_6(
    api: Api, store: Store, api_server: RunningServer
) -> None:
    where = estate(store)
    for n in range(6):
        open_incident(api, where, f"Outage {n}")
    graph = api_server.app.state.store.graph
    costs = []
    for n in (2, 6):
        answer, reads = api.ok_counting_reads(graph, PAGE, {"n": n})
        assert len(answer["incidents"]["edges"]) == n
        costs.append(reads)
    assert costs[0] == costs[1], f"{costs[0]} reads for 2 incidents, {costs[1]} for 6"
