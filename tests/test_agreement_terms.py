"""Agreement terms over HTTP against the real Neo4j: versions that never change once replaced,
every refusal named and nothing written, the manager's role, escalation paths in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.access import SYSTEM
from core.errors import ValidationFailed
from core.ids import parse_global_id, to_global_id
from core.priority import Priority
from domain.demo import load_demo_estate
from domain.service_level import terms
from graphdb.write_path import Store
from tests.conftest import Api, RunningServer

TERMS = """
  id version current validFrom validTo
  response { priority minutes } resolution { priority minutes }
  availability { target period } warningPercents
  calendar { timezone always hours holidayCountry holidaySubdivision holidayDates }
  escalation { level clock afterMinutes atPercent repeatEveryMinutes notifyAssignee
               notify { id type name } reassignTo { id type name } }
"""

SET = (
    "mutation($input: SetAgreementTermsInput!) { setAgreementTerms(input: $input) { "
    "userErrors { code field message } newVersion agreementTerms { " + TERMS + " } } }"
)

READ = (
    "query($agreement: ID!, $version: Int) { agreementTerms(agreement: $agreement, "
    "version: $version) { " + TERMS + " } }"
)

HISTORY = (
    "query($agreement: ID!) { agreementTermsHistory(agreement: $agreement) { id version current "
    "validTo response { priority minutes } } }"
)


PAYLOAD_FIELD = {"SLA": "sla", "OLA": "ola", "Team": "team", "Person": "person"}


def make(manager: Api, label: str, name: str, *, retired: bool = False) -> str:
    """An agreement or a party, made through its own create mutation (and retired through its
    transition): agreements stay drafts, which may have terms before they are agreed."""
    extra = {"email": name.lower().replace(" ", ".") + "@example.com"} if label == "Person" else {}
    made = manager.ok(
        f"mutation($input: Create{label}Input!) {{ create{label}(input: $input) "
        "{ userErrors { code field message } record: " + PAYLOAD_FIELD[label] + " { id } } }",
        {"input": {"name": name, **extra}},
    )[f"create{label}"]
    assert made["userErrors"] == [], made
    record_id: str = made["record"]["id"]
    if retired:
        retire(manager, label, record_id)
    return record_id


def retire(manager: Api, label: str, record_id: str) -> None:
    done = manager.ok(
        f"mutation($input: Transition{label}Input!) {{ transition{label}(input: $input) "
        "{ userErrors { code field message } } }",
        {"input": {"id": record_id, "state": "RETIRED"}},
    )[f"transition{label}"]
    assert done["userErrors"] == [], done


def stored(global_id: str) -> str:
    parsed = parse_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def count(store: Store, label: str) -> int:
    found: int = store.read(
        lambda tx: tx.run(f"MATCH (n:{label}) RETURN count(n) AS n").single(strict=True)["n"]
    )
    return found


@pytest.fixture
def manager(api: Api, store: Store) -> Api:
    return api.as_role(store, "manager")


def set_terms(api: Api, **given: Any) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok(SET, {"input": given})["setAgreementTerms"]
    return answer


def targets(**minutes: int) -> list[dict[str, Any]]:
    return [{"priority": p, "minutes": m} for p, m in minutes.items()]


OFFICE_CALENDAR = {
    "timezone": "Europe/Berlin",
    "hours": ["mon-fri 08:00-18:00"],
    "holidayCountry": "DE",
    "holidaySubdivision": "BY",
    "holidayDates": ["2026-12-24"],
}


def test_versions_never_change_once_replaced(manager: Api, store: Store) -> None:
    sla = make(manager, "SLA", "Office IT")
    assert manager.ok(READ, {"agreement": sla})["agreementTerms"] is None

    first = set_terms(
        manager,
        agreement=sla,
        response=targets(P1=15, P2=60),
        resolution=targets(P1=240, P2=480, P4=2400),
        availability={"target": 99.5, "period": "MONTH"},
        warningPercents=[75, 90],
        calendar=OFFICE_CALENDAR,
    )
    assert first["userErrors"] == [] and first["newVersion"] is True
    v1 = first["agreementTerms"]
    assert (v1["version"], v1["current"], v1["validTo"]) == (1, True, None)
    assert v1["response"] == targets(P1=15, P2=60)
    assert v1["resolution"] == targets(P1=240, P2=480, P4=2400)
    assert v1["availability"] == {"target": 99.5, "period": "MONTH"}
    assert v1["warningPercents"] == [75, 90]
    assert v1["calendar"] == {
        "timezone": "Europe/Berlin",
        "always": False,
        "hours": [f"{d} 08:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")],
        "holidayCountry": "DE",
        "holidaySubdivision": "BY",
        "holidayDates": ["2026-12-24"],
    }
    assert v1["escalation"] == []

    # An incident governed by version 1, as the incident process will link it.
    v1_id = v1["id"]
    incident = store.write(
        SYSTEM,
        lambda uow: uow.create("Incident", {"title": "printer on fire"})["id"],
    )
    store.write(
        SYSTEM,
        lambda uow: uow.link("Incident", incident, "GOVERNED_BY", "AgreementTerms", stored(v1_id)),
    )

    # Only the response target given: the rest is kept from version 1.
    second = set_terms(manager, agreement=sla, response=targets(P1=10, P2=60))
    assert second["userErrors"] == [] and second["newVersion"] is True
    v2 = second["agreementTerms"]
    assert (v2["version"], v2["current"], v2["validTo"]) == (2, True, None)
    assert v2["response"] == targets(P1=10, P2=60)
    assert v2["resolution"] == v1["resolution"]
    assert v2["calendar"] == v1["calendar"]
    assert v2["warningPercents"] == [75, 90]

    old = manager.ok(READ, {"agreement": sla, "version": 1})["agreementTerms"]
    assert old["current"] is False and old["validTo"] is not None
    assert {k: v for k, v in old.items() if k not in ("current", "validTo")} == {
        k: v for k, v in v1.items() if k not in ("current", "validTo")
    }
    assert manager.ok(READ, {"agreement": sla})["agreementTerms"]["version"] == 2
    history = manager.ok(HISTORY, {"agreement": sla})["agreementTermsHistory"]
    assert [(t["version"], t["current"]) for t in history] == [(2, True), (1, False)]

    # The incident still reads the terms it was governed by: over the API and for its clocks.
    governing = store.read(
        lambda tx: tx.run(
            "MATCH (:Incident {id: $id})-[:GOVERNED_BY]->(t:AgreementTerms) RETURN t.id AS t",
            id=incident,
        ).single(strict=True)["t"]
    )
    node = manager.ok(
        "query($id: ID!) { node(id: $id) { ... on AgreementTerms { version response "
        "{ priority minutes } } } }",
        {"id": to_global_id("AgreementTerms", governing)},
    )["node"]
    assert node == {"version": 1, "response": targets(P1=15, P2=60)}
    clocks = terms.terms_for(store, SYSTEM, governing)
    assert clocks.version == 1
    assert clocks.response == {Priority.P1: timedelta(minutes=15), Priority.P2: timedelta(hours=1)}
    assert clocks.resolution[Priority.P4] == timedelta(minutes=2400)
    assert clocks.calendar.timezone == "Europe/Berlin"
    assert clocks.warning_percents == (75, 90)

    # The same terms again write nothing.
    same = set_terms(manager, agreement=sla, response=targets(P1=10, P2=60))
    assert same["newVersion"] is False and same["agreementTerms"]["version"] == 2
    assert count(store, "AgreementTerms") == 2

    # A part given as null is dropped: no availability target, a 24x7 calendar.
    third = set_terms(manager, agreement=sla, availability=None, calendar=None)["agreementTerms"]
    assert third["version"] == 3 and third["availability"] is None
    assert third["calendar"]["always"] is True and third["calendar"]["timezone"] == "UTC"
    assert third["response"] == v2["response"]

    # The agreement's version is checked: new terms are a new version of it.
    agreement_version = store.read(
        lambda tx: tx.run("MATCH (a:SLA {id: $id}) RETURN a.version AS v", id=stored(sla)).single(
            strict=True
        )["v"]
    )
    stale = set_terms(manager, agreement=sla, version=agreement_version - 1, warningPercents=[80])
    assert [(e["code"], e["field"]) for e in stale["userErrors"]] == [
        ("CONFLICT", ["input", "version"])
    ]
    fresh = set_terms(manager, agreement=sla, version=agreement_version, warningPercents=[80])
    assert fresh["agreementTerms"]["version"] == 4

    # A retired agreement keeps its terms as they were.
    retire(manager, "SLA", sla)
    retired = set_terms(manager, agreement=sla, warningPercents=[50])
    assert [(e["code"], e["field"]) for e in retired["userErrors"]] == [
        ("RETIRED", ["input", "agreement"])
    ]
    assert count(store, "AgreementTerms") == 4


OMIT = object()  # a part the call leaves out


def test_every_refusal_names_the_field_and_writes_nothing(
    manager: Api, api: Api, store: Store
) -> None:
    sla = make(manager, "SLA", "Shop Gold")
    team = make(manager, "Team", "Web Platform")
    person = make(manager, "Person", "Ana Lima")
    gone = make(manager, "Team", "Old Ops", retired=True)
    ci = api.ok('mutation { registerCi(input: {ciClass: "Service", name: "shop"}) { ci { id } } }')[
        "registerCi"
    ]["ci"]["id"]
    base = {
        "agreement": sla,
        "response": targets(P1=15, P2=30),
        "resolution": targets(P1=240, P2=480),
    }
    first = set_terms(
        manager, **base, escalation=[{"clock": "RESPONSE", "atPercent": 75, "notify": [team]}]
    )
    assert first["userErrors"] == []
    written = (count(store, "AgreementTerms"), count(store, "EscalationLevel"))

    def level(**given: Any) -> list[dict[str, Any]]:
        return [{"clock": "RESOLUTION", "notify": [team], **given}]

    for given, expected in [
        ({"response": targets(P1=15, P2=30, P3=-5)}, ("NOT_POSITIVE", "response.2.minutes")),
        ({"resolution": targets(P1=0)}, ("NOT_POSITIVE", "resolution.0.minutes")),
        (
            {"response": targets(P1=15) + targets(P1=20)},
            ("DUPLICATE_PRIORITY", "response.1.priority"),
        ),
        ({"response": targets(P2=600)}, ("RESPONSE_AFTER_RESOLUTION", "response.0.minutes")),
        (
            {"response": OMIT, "resolution": targets(P1=10)},
            ("RESPONSE_AFTER_RESOLUTION", "resolution.0.minutes"),
        ),
        (
            {"availability": {"target": 100.5, "period": "MONTH"}},
            ("OUT_OF_RANGE", "availability.target"),
        ),
        (
            {"availability": {"target": -1, "period": "YEAR"}},
            ("OUT_OF_RANGE", "availability.target"),
        ),
        ({"warningPercents": [0, 50]}, ("OUT_OF_RANGE", "warningPercents")),
        ({"warningPercents": [75, 100]}, ("OUT_OF_RANGE", "warningPercents")),
        ({"warningPercents": [90, 75]}, ("NOT_ASCENDING", "warningPercents")),
        ({"warningPercents": [75, 75]}, ("NOT_ASCENDING", "warningPercents")),
        (
            {"calendar": {"timezone": "Mars/Olympus", "always": True}},
            ("UNKNOWN_TIMEZONE", "calendar.timezone"),
        ),
        (
            {"calendar": {"timezone": "UTC", "hours": ["mon-fri 8-5"]}},
            ("MALFORMED_HOURS", "calendar.hours"),
        ),
        (
            {"calendar": {"timezone": "UTC", "hours": ["mon 08:00-17:00"], "holidayCountry": "XX"}},
            ("UNKNOWN_COUNTRY", "calendar.holidayCountry"),
        ),
        (
            {
                "calendar": {
                    "timezone": "UTC",
                    "hours": ["mon 08:00-17:00"],
                    "holidayCountry": "DE",
                    "holidaySubdivision": "ZZ",
                }
            },
            ("UNKNOWN_SUBDIVISION", "calendar.holidaySubdivision"),
        ),
        ({"escalation": level()}, ("AFTER_OR_AT_PERCENT", "escalation.0")),
        (
            {"escalation": level(afterMinutes=5, atPercent=50)},
            ("AFTER_OR_AT_PERCENT", "escalation.0.atPercent"),
        ),
        ({"escalation": level(atPercent=0)}, ("OUT_OF_RANGE", "escalation.0.atPercent")),
        ({"escalation": level(atPercent=1001)}, ("OUT_OF_RANGE", "escalation.0.atPercent")),
        ({"escalation": level(afterMinutes=-1)}, ("NEGATIVE", "escalation.0.afterMinutes")),
        (
            {"escalation": level(atPercent=90) + level(atPercent=75)},
            ("NOT_ASCENDING", "escalation.1.atPercent"),
        ),
        # 10 % of the 15 minutes at P1 is before the first level's 30 minutes.
        (
            {
                "escalation": [
                    {"clock": "RESPONSE", "afterMinutes": 30, "notify": [team]},
                    {"clock": "RESPONSE", "atPercent": 10, "notify": [team]},
                ]
            },
            ("NOT_ASCENDING", "escalation.1.atPercent"),
        ),
        (
            {"escalation": level(atPercent=50, repeatEveryMinutes=0)},
            ("NOT_POSITIVE", "escalation.0.repeatEveryMinutes"),
        ),
        ({"escalation": level(atPercent=50, notify=[gone])}, ("NOT_ACTIVE", "escalation.0.notify")),
        ({"escalation": level(atPercent=50, notify=[ci])}, ("WRONG_TYPE", "escalation.0.notify")),
        (
            {"escalation": level(atPercent=50, notify=[to_global_id("Team", "nobody")])},
            ("NOT_FOUND", "escalation.0.notify"),
        ),
        (
            {"escalation": level(atPercent=150, notify=[], reassignTo=person)},
            ("WRONG_TYPE", "escalation.0.reassignTo"),
        ),
        (
            {"escalation": level(atPercent=150, notify=[], reassignTo=gone)},
            ("NOT_ACTIVE", "escalation.0.reassignTo"),
        ),
        ({"escalation": level(atPercent=150, notify=[])}, ("NO_ACTION", "escalation.0")),
        ({"agreement": ci}, ("WRONG_TYPE", "agreement")),
        ({"agreement": to_global_id("OLA", "nothing")}, ("NOT_FOUND", "agreement")),
    ]:
        refused = set_terms(
            manager, **{k: v for k, v in {**base, **given}.items() if v is not OMIT}
        )
        assert refused["agreementTerms"] is None and refused["newVersion"] is False, given
        assert [(e["code"], ".".join(e["field"][1:])) for e in refused["userErrors"]] == [
            expected
        ], given
    assert (count(store, "AgreementTerms"), count(store, "EscalationLevel")) == written
    current = manager.ok(READ, {"agreement": sla})["agreementTerms"]
    assert (current["version"], current["validTo"]) == (1, None)

    # An unknown priority is GraphQL's to refuse; called directly, the domain refuses it too.
    unknown = manager.post(SET, {"input": {**base, "response": targets(P9=5)}}).json()
    assert "P9" in unknown["errors"][0]["message"]
    with pytest.raises(ValidationFailed) as refused_priority:
        terms.set_terms(
            store,
            SYSTEM,
            sla,
            terms.TermsGiven(response=[terms.PriorityTarget("P9", 5)]),
        )
    assert refused_priority.value.field == "response[0].priority"
    assert count(store, "AgreementTerms") == written[0]


def test_only_service_level_managers_set_terms(manager: Api, api: Api, store: Store) -> None:
    sla = make(manager, "SLA", "Shop Gold")
    for role in ("agent", "viewer"):
        denied = api.as_role(store, role).post(
            SET, {"input": {"agreement": sla, "response": targets(P1=15)}}
        )
        assert denied.status_code == 403
        assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert count(store, "AgreementTerms") == 0
    assert set_terms(manager, agreement=sla, response=targets(P1=15))["userErrors"] == []
    # Reading them needs no more than the read permission.
    read = api.as_role(store, "viewer").ok(READ, {"agreement": sla})["agreementTerms"]
    assert read["response"] == targets(P1=15)


def test_escalation_levels_are_stored_and_read_back_in_order(manager: Api, store: Store) -> None:
    ola = make(manager, "OLA", "Infrastructure for the shop")
    desk = make(manager, "Team", "Service Desk")
    duty = make(manager, "Team", "Duty Managers")
    chen = make(manager, "Person", "Chen Wei")
    path = [
        {"clock": "RESPONSE", "atPercent": 75, "notifyAssignee": True},
        {"clock": "RESPONSE", "atPercent": 100, "notify": [desk, chen]},
        {"clock": "RESOLUTION", "afterMinutes": 30, "notify": [desk]},
        {
            "clock": "RESOLUTION",
            "atPercent": 150,
            "reassignTo": duty,
            "notify": [chen],
            "repeatEveryMinutes": 60,
        },
    ]
    answer = set_terms(
        manager,
        agreement=ola,
        response=targets(P1=10, P3=60),
        resolution=targets(P1=120, P3=480),
        escalation=path,
    )
    assert answer["userErrors"] == []
    levels = answer["agreementTerms"]["escalation"]
    desk_node = {"id": desk, "type": "Team", "name": "Service Desk"}
    chen_node = {"id": chen, "type": "Person", "name": "Chen Wei"}
    assert levels == [
        {
            "level": 1,
            "clock": "RESPONSE",
            "afterMinutes": None,
            "atPercent": 75,
            "repeatEveryMinutes": None,
            "notifyAssignee": True,
            "notify": [],
            "reassignTo": None,
        },
        {
            "level": 2,
            "clock": "RESPONSE",
            "afterMinutes": None,
            "atPercent": 100,
            "repeatEveryMinutes": None,
            "notifyAssignee": False,
            "notify": [chen_node, desk_node],
            "reassignTo": None,
        },
        {
            "level": 3,
            "clock": "RESOLUTION",
            "afterMinutes": 30,
            "atPercent": None,
            "repeatEveryMinutes": None,
            "notifyAssignee": False,
            "notify": [desk_node],
            "reassignTo": None,
        },
        {
            "level": 4,
            "clock": "RESOLUTION",
            "afterMinutes": None,
            "atPercent": 150,
            "repeatEveryMinutes": 60,
            "notifyAssignee": False,
            "notify": [chen_node],
            "reassignTo": {"id": duty, "type": "Team", "name": "Duty Managers"},
        },
    ]
    read = manager.ok(READ, {"agreement": ola})["agreementTerms"]
    assert read["escalation"] == levels
    # The path is kept into the next version when it is not given, and runs as data.
    v2 = set_terms(manager, agreement=ola, warningPercents=[50])["agreementTerms"]
    assert v2["version"] == 2 and v2["escalation"] == levels
    clocks = terms.terms_for(store, SYSTEM, stored(v2["id"]))
    steps = clocks.escalation
    assert [s.level for s in steps] == [1, 2, 3, 4]
    assert steps[3].fires_after(clocks.resolution[Priority.P1]) == timedelta(minutes=180)
    assert steps[2].fires_after(clocks.resolution[Priority.P3]) == timedelta(minutes=30)
    assert steps[3].repeat_every == timedelta(hours=1)
    assert steps[3].reassign_to is not None and steps[3].reassign_to.id == stored(duty)
    # Levels firing out of order at one priority only are refused, naming it.
    refused = set_terms(
        manager,
        agreement=ola,
        escalation=[
            {"clock": "RESOLUTION", "afterMinutes": 200, "notify": [desk]},
            {"clock": "RESOLUTION", "atPercent": 150, "notify": [desk]},
        ],
    )
    assert refused["userErrors"][0]["field"] == ["input", "escalation", "1", "atPercent"]
    assert "P1" in refused["userErrors"][0]["message"]
    assert count(store, "EscalationLevel") == 8


def test_the_demo_agreements_get_their_terms(manager: Api, store: Store) -> None:
    assert load_demo_estate(store) is True
    listed = manager.ok(
        "{ slas(first: 10) { edges { node { name terms { " + TERMS + " } "
        "termsHistory { version } } } } }"
    )["slas"]["edges"]
    by_name = {e["node"]["name"]: e["node"] for e in listed}
    shop = by_name["Online Shop Gold"]["terms"]
    assert shop["calendar"]["always"] is True
    assert (shop["response"][0], shop["resolution"][0]) == (
        {"priority": "P1", "minutes": 15},
        {"priority": "P1", "minutes": 240},
    )
    assert by_name["Online Shop Gold"]["termsHistory"] == [{"version": 1}]
    office = by_name["Product Search Silver"]["terms"]
    assert office["calendar"]["timezone"] == "Europe/Berlin"
    assert office["calendar"]["holidayCountry"] == "DE"
    assert office["warningPercents"] == [75, 90]
    escalation = [
        (e["atPercent"], e["notifyAssignee"], [n["name"] for n in e["notify"]], e["reassignTo"])
        for e in office["escalation"]
    ]
    assert escalation[:2] == [(75, True, [], None), (100, False, ["Service Desk"], None)]
    assert escalation[2][3]["name"] == "Duty Managers"
    olas = manager.ok("{ olas { edges { node { name terms { version warningPercents } } } } }")
    assert {e["node"]["terms"]["version"] for e in olas["olas"]["edges"]} == {1}

    # The office clock runs in Berlin's business hours: a P1 raised ten minutes before the
    # office closes on a Friday is due for its 30-minute response 20 minutes into Monday.
    clocks = terms.terms_for(store, SYSTEM, stored(office["id"]))
    friday = datetime(2026, 11, 27, 16, 50, tzinfo=UTC)  # 17:50 in Berlin
    due = clocks.calendar.add_business_time(friday, clocks.response[Priority.P1])
    assert due == datetime(2026, 11, 30, 7, 20, tzinfo=UTC)  # Monday 08:20 in Berlin


def test_terms_of_a_page_of_agreements_cost_the_same_for_2_and_6(
    manager: Api, store: Store, api_server: RunningServer
) -> None:
    team = make(manager, "Team", "Service Desk")
    for i in range(6):
        sla = make(manager, "SLA", f"agreement {i}")
        for minutes in (60, 30):
            set_terms(
                manager,
                agreement=sla,
                resolution=targets(P1=minutes),
                escalation=[{"clock": "RESOLUTION", "atPercent": 50, "notify": [team]}],
            )
    graph = api_server.app.state.store.graph
    query = (
        "query($n: Int!) { slas(first: $n) { edges { node { terms { version escalation "
        "{ level notify { name } } } termsHistory { version escalation { level } } } } } }"
    )

    def cost(n: int) -> int:
        answer, reads = manager.ok_counting_reads(graph, query, {"n": n})
        page = answer["slas"]["edges"]
        assert [e["node"]["terms"]["version"] for e in page] == [2] * n
        assert all(len(e["node"]["termsHistory"]) == 2 for e in page)
        return reads

    costs = [cost(n) for n in (2, 6)]
    assert costs[0] == costs[1], f"{costs[0]} reads for 2 agreements, {costs[1]} for 6"
