"""The outage trigger through the API against the real Neo4j: a down outage that ends over what
an SLA covering the Services its CI takes down allows opens a problem saying why; one under it,
a degraded one, one outside the SLA's business hours or one while the policy is off opens none;
firing again while the problem is open links its incident instead of opening a second."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from core.access import SYSTEM
from core.events import OutageKind
from core.ids import record_id, to_global_id
from domain.availability import outages
from graphdb.write_path import Store, UnitOfWork
from tests.conftest import Api
from tests.test_availability import CREATE, END, UPDATE, import_cis, iso, sla, t
from tests.test_problems import OPEN, incident, problems

POLICY = (
    "mutation($input: SetProblemPolicyInput!) { setProblemPolicy(input: $input) { "
    "userErrors { code field message } policy { outageTrigger version } } }"
)


@pytest.fixture
def shop(api: Api) -> dict[str, str]:
    """The shop needs an application on one VM; the intranet needs nothing the VM runs."""
    return import_cis(
        api,
        [
            ("shop", "Service"),
            ("app", "Application"),
            ("vm", "VirtualMachine"),
            ("intranet", "Service"),
        ],
        [("shop", "DEPENDS_ON", "app", {}), ("app", "RUNS_ON", "vm", {})],
    )


def down(api: Api, ci: str, start: datetime, end: datetime, kind: str = "DOWN") -> str:
    """An outage entered by hand as it began, then ended: its number."""
    made = api.ok(CREATE, {"i": {"ci": to_global_id("CI", ci), "kind": kind, "start": iso(start)}})
    outage = made["createOutage"]["outage"]
    ended = api.ok(END, {"i": {"id": outage["id"], "end": iso(end)}})["endOutage"]
    assert ended["userErrors"] == [], ended
    number: str = outage["number"]
    return number


def from_alert(store: Store, ci: str, incident_id: str, start: datetime, end: datetime) -> str:
    """An alert on the CI that raised the incident records an outage, then clears it."""

    def work(uow: UnitOfWork) -> str:
        alert: str = uow.create(
            "Alert",
            {"dedupKey": f"threshold:{incident_id}", "state": "triggered", "summary": "vm down"},
        )["id"]
        uow.link("Alert", alert, "ABOUT", "CI", ci)
        uow.link("Alert", alert, "RAISED", "Incident", record_id(incident_id, "Incident"))
        opened = outages.open_outage_in(uow, ci, OutageKind.DOWN, start, alert_id=alert)
        outages.end_outage_in(uow, opened["id"], end)
        number: str = opened["number"]
        return number

    return store.write(SYSTEM, work)


def test_an_outage_over_the_threshold_opens_a_problem_saying_why(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    sla(store, "Gold", target=99.9, services=(shop["shop"],))
    # March is 744 h; 0.1% of it is 44 min 38 s: an hour down is over.
    number = down(api, shop["vm"], t(10, 10), t(10, 11))
    [problem] = problems(api)
    assert problem["trigger"] == "OUTAGE_OVER_THRESHOLD" and problem["state"] == "NEW"
    assert [c["name"] for c in problem["cisAtFault"]] == ["vm"]
    # Entered by hand, the outage has no incident: the problem is opened from none.
    assert problem["triggeredBy"] is None and problem["incidents"] == []
    reason = problem["triggerReason"]
    assert reason.startswith(f"{number} took vm down from 2026-03-10 10:00 UTC")
    assert "SLA Gold" in reason and "on shop" in reason
    assert "1 h of downtime in its period from 2026-03-01" in reason
    assert "over the 44 min 38 s its 99.9% availability target allows" in reason
    assert "0.1% of 744 h agreed time" in reason
    assert number in problem["title"] and "Gold" in problem["title"]

    # Down again while the problem is open: no second problem.
    down(api, shop["vm"], t(12, 10), t(12, 12))
    assert [p["number"] for p in problems(api)] == [problem["number"]]


def test_an_outage_under_the_threshold_or_out_of_business_hours_opens_none(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    sla(store, "Office", target=99.5, services=(shop["shop"],), business_hours=True)
    sla(store, "Intranet", target=90.0, services=(shop["intranet"],))
    # March on office hours: 21 working days of 8 h, of which 0.5% (50 min 24 s) is allowed.
    down(api, shop["vm"], t(10, 10), t(10, 10, 40))  # 40 min: under it
    down(api, shop["vm"], t(11, 1), t(11, 4))  # at night: no downtime on office hours
    down(api, shop["vm"], t(13, 10), t(13, 18), kind="DEGRADED")  # never counts as down
    down(api, shop["intranet"], t(18, 10), t(18, 12))  # 2 h of the 74 h 24 min allowed
    assert problems(api) == []

    # An hour in the day is over it, and over a 24x7 SLA's 44 min 38 s: both are named.
    sla(store, "Gold", target=99.9, services=(shop["shop"],))
    down(api, shop["vm"], t(19, 10), t(19, 11))
    [problem] = problems(api)
    reason = problem["triggerReason"]
    assert "SLA Office" in reason and "SLA Gold" in reason
    assert "over the 50 min 24 s its 99.5% availability target allows" in reason
    assert "0.5% of 168 h agreed time" in reason


def test_the_outages_incident_triggers_it_and_firing_again_links_instead_of_opening(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    sla(store, "Gold", target=99.9, services=(shop["shop"],))
    first = incident(api, to_global_id("CI", shop["vm"]), "vm does not answer")
    number = from_alert(store, shop["vm"], first["id"], t(10, 10), t(10, 12))
    [problem] = problems(api)
    assert problem["trigger"] == "OUTAGE_OVER_THRESHOLD" and number in problem["triggerReason"]
    assert problem["triggeredBy"] == {"number": first["number"]}
    assert [i["number"] for i in problem["incidents"]] == [first["number"]]

    # A later outage's incident, opened on no CI (so nothing linked it as it opened), is linked
    # to the problem open at fault on the CI; no second problem opens.
    opened = api.ok(OPEN, {"input": {"title": "shop is down again", "impact": "LOW"}})
    second = opened["createIncident"]["incident"]
    assert second["problems"] == []
    from_alert(store, shop["vm"], second["id"], t(20, 10), t(20, 12))
    [again] = problems(api)
    assert again["number"] == problem["number"]
    assert sorted(i["number"] for i in again["incidents"]) == sorted(
        [first["number"], second["number"]]
    )

    # Once the problem is over, the next outage over the threshold opens a new one.
    cancel = (
        "mutation($input: TransitionProblemInput!) { transitionProblem(input: $input) { "
        "userErrors { code } } }"
    )
    done = api.ok(cancel, {"input": {"id": problem["id"], "state": "CANCELLED"}})
    assert done["transitionProblem"]["userErrors"] == []
    down(api, shop["vm"], t(25, 10), t(25, 12))
    assert len(problems(api)) == 2


def test_with_the_outage_trigger_off_no_problem_opens(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    sla(store, "Gold", target=99.9, services=(shop["shop"],))
    manager = api.as_role(store, "manager")
    answer: dict[str, Any] = manager.ok(POLICY, {"input": {"outageTrigger": False}})
    assert answer["setProblemPolicy"]["policy"]["outageTrigger"] is False
    down(api, shop["vm"], t(10, 10), t(10, 14))
    assert problems(api) == []
    manager.ok(POLICY, {"input": {"outageTrigger": True}})
    down(api, shop["vm"], t(11, 10), t(11, 14))
    assert [p["trigger"] for p in problems(api)] == ["OUTAGE_OVER_THRESHOLD"]


def test_an_outage_recorded_already_over_or_ended_by_an_update_triggers_too(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    sla(store, "Gold", target=99.9, services=(shop["shop"],))
    over = api.ok(
        CREATE,
        {
            "i": {
                "ci": to_global_id("CI", shop["vm"]),
                "kind": "DOWN",
                "start": iso(t(10, 10)),
                "end": iso(t(10, 11)),
            }
        },
    )["createOutage"]
    assert over["userErrors"] == []
    [problem] = problems(api)
    assert over["outage"]["number"] in problem["triggerReason"]
    api.ok(
        "mutation($id: ID!) { transitionProblem(input: {id: $id, state: CANCELLED}) { "
        "userErrors { code } } }",
        {"id": problem["id"]},
    )
    going = api.ok(
        CREATE,
        {"i": {"ci": to_global_id("CI", shop["vm"]), "kind": "DOWN", "start": iso(t(12, 10))}},
    )["createOutage"]["outage"]
    assert len(problems(api)) == 1
    updated = api.ok(
        UPDATE,
        {"i": {"id": going["id"], "version": going["version"], "end": iso(t(12, 12))}},
    )["updateOutage"]
    assert updated["userErrors"] == [], updated
    assert [p["trigger"] for p in problems(api)] == ["OUTAGE_OVER_THRESHOLD"] * 2
