"""Outages and availability, through the API and as threshold evaluation records them inside
its unit of work, on the real Neo4j."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.access import SYSTEM
from core.errors import NotFound, ValidationFailed
from core.events import OutageKind
from core.ids import record_id, to_global_id
from domain import impact
from domain.availability import outages
from domain.service_level.calendar import calendar_from_input
from graphdb.write_path import Store, UnitOfWork
from tests.conftest import Api
from tests.test_import import run_import


def t(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def import_cis(
    api: Api, items: list[tuple[str, str]], rels: list[tuple[str, str, str, dict[str, Any]]]
) -> dict[str, str]:
    """CIs by key, as stored ids."""
    result = run_import(
        api,
        "test",
        [{"key": k, "ciClass": c, "name": k} for k, c in items],
        [{"sourceKey": s, "type": ty, "targetKey": d, "attributes": a} for s, ty, d, a in rels],
    )
    assert result["rejected"] == 0 and all(r["error"] is None for r in result["relationships"])
    return {i["key"]: record_id(i["ciId"], "CI") for i in result["items"]}


@pytest.fixture
def web(api: Api) -> dict[str, str]:
    return import_cis(api, [("web", "VirtualMachine")], [])


def _alert(uow: UnitOfWork, ci: str) -> str:
    alert: str = uow.create(
        "Alert", {"dedupKey": f"threshold:x:{ci}", "state": "triggered", "summary": "web down"}
    )["id"]
    uow.link("Alert", alert, "ABOUT", "CI", ci)
    return alert


def test_an_alert_records_one_outage_and_ends_it_in_the_callers_unit_of_work(
    store: Store, web: dict[str, str]
) -> None:
    ci = web["web"]
    alert = store.write(SYSTEM, lambda uow: _alert(uow, ci))

    def fire(uow: UnitOfWork) -> dict[str, Any]:
        return outages.open_outage_in(uow, ci, OutageKind.DOWN, t(2, 10), alert_id=alert)

    opened = store.write(SYSTEM, fire)
    assert opened["source"] == "alert" and opened["kind"] == "down"
    assert opened["number"].startswith("OUT") and "end" not in opened
    # The same samples evaluated again find the outage they recorded.
    assert store.write(SYSTEM, fire)["id"] == opened["id"]
    going = store.write(SYSTEM, lambda uow: outages.open_outage_of_alert(uow, alert))
    assert going is not None and going["id"] == opened["id"]
    linked = store.read(
        lambda tx: tx.run(
            "MATCH (c:CI)<-[:ABOUT]-(o:Outage)-[:RECORDED_FROM]->(a:Alert) "
            "RETURN c.id AS ci, a.id AS alert, count(o) AS n"
        ).data()
    )
    assert linked == [{"ci": ci, "alert": alert, "n": 1}]

    with pytest.raises(ValidationFailed) as refused:
        store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 9)))
    assert refused.value.field == "end" and refused.value.reason == "before_start"

    ended = store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 11)))
    assert outages.native(ended["end"]) == t(2, 11)
    # Ending it again at the same time changes nothing; at another time is refused.
    again = store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 11)))
    assert again["version"] == ended["version"]
    with pytest.raises(ValidationFailed) as moved:
        store.write(SYSTEM, lambda uow: outages.end_outage_in(uow, opened["id"], t(2, 12)))
    assert moved.value.reason == "already_ended"
    assert store.write(SYSTEM, lambda uow: outages.open_outage_of_alert(uow, alert)) is None

    # A later firing of the same alert is a new outage; a degraded one may overlap it.
    def later(uow: UnitOfWork) -> tuple[dict[str, Any], dict[str, Any]]:
        down = outages.open_outage_in(uow, ci, OutageKind.DOWN, t(3, 10), alert_id=alert)
        degraded = outages.open_outage_in(uow, ci, OutageKind.DEGRADED, t(3, 9), notes="slow")
        return down, degraded

    down, degraded = store.write(SYSTEM, later)
    assert down["id"] != opened["id"] and degraded["source"] == "manual"
    count = store.read(
        lambda tx: tx.run(
            "MATCH (:CI {id: $ci})<-[:ABOUT]-(o:Outage) RETURN count(o) AS n", ci=ci
        ).single(strict=True)["n"]
    )
    assert count == 3


def test_an_outage_on_a_ci_that_does_not_exist_writes_nothing(store: Store) -> None:
    with pytest.raises(NotFound) as missing:
        store.write(
            SYSTEM, lambda uow: outages.open_outage_in(uow, "nope", OutageKind.DOWN, t(2, 10))
        )
    assert missing.value.field == "ci"
    assert store.read(lambda tx: tx.run("MATCH (o:Outage) RETURN count(o) AS n").single()["n"]) == 0


# -- by hand, through the API -------------------------------------------------------------------

OUTAGE_FIELDS = "id number start end kind source notes ongoing version alertId ci { name }"
CREATE = (
    "mutation($i: CreateOutageInput!) { createOutage(input: $i) { "
    "userErrors { code field message } outage { " + OUTAGE_FIELDS + " } } }"
)
UPDATE = (
    "mutation($i: UpdateOutageInput!) { updateOutage(input: $i) { "
    "userErrors { code field message } outage { " + OUTAGE_FIELDS + " } } }"
)
END = (
    "mutation($i: EndOutageInput!) { endOutage(input: $i) { "
    "userErrors { code field message } outage { " + OUTAGE_FIELDS + " } } }"
)
LIST = (
    "query($f: OutageFilter, $o: OutageOrder) { outages(filter: $f, orderBy: $o) { "
    "totalCount edges { node { number kind source ci { name } } } } }"
)


def iso(at: datetime) -> str:
    return at.isoformat()


def refusal(answer: dict[str, Any]) -> tuple[str, list[str]]:
    (error,) = answer["userErrors"]
    return error["code"], error["field"]


def test_outages_by_hand_are_checked_recorded_listed_and_ended(api: Api, store: Store) -> None:
    cis = import_cis(api, [("web", "VirtualMachine"), ("db", "Database")], [])
    web, db = (to_global_id("CI", cis[k]) for k in ("web", "db"))
    soon = datetime.now(UTC) + timedelta(hours=1)

    def create(**given: Any) -> dict[str, Any]:
        answer: dict[str, Any] = api.ok(CREATE, {"i": given})["createOutage"]
        return answer

    base = {"ci": web, "kind": "DOWN", "start": iso(t(2, 10))}
    assert refusal(create(**{**base, "end": iso(t(2, 9))})) == ("BEFORE_START", ["input", "end"])
    assert refusal(create(**{**base, "start": iso(soon)})) == ("IN_FUTURE", ["input", "start"])
    assert refusal(create(**{**base, "end": iso(soon)})) == ("IN_FUTURE", ["input", "end"])
    assert refusal(create(**{**base, "ci": to_global_id("CI", "nope")})) == (
        "NOT_FOUND",
        ["input", "ci"],
    )
    assert refusal(create(**{**base, "ci": to_global_id("Team", "x")})) == (
        "WRONG_TYPE",
        ["input", "ci"],
    )
    viewer = api.as_role(store, "viewer").post(CREATE, {"i": base}).json()
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert store.read(lambda tx: tx.run("MATCH (o:Outage) RETURN count(o) AS n").single()["n"]) == 0

    going = create(**base, notes="web does not answer")["outage"]
    assert going["source"] == "MANUAL" and going["ongoing"] is True and going["alertId"] is None
    assert going["ci"] == {"name": "web"}
    over = api.as_role(store, "manager").ok(
        CREATE, {"i": {"ci": db, "kind": "DEGRADED", "start": iso(t(1, 8)), "end": iso(t(1, 9))}}
    )["createOutage"]["outage"]
    assert over["ongoing"] is False and over["kind"] == "DEGRADED"

    # Changing it keeps its end after its start; ending it is one step, once.
    moved = api.ok(UPDATE, {"i": {"id": going["id"], "start": iso(t(3, 10)), "end": iso(t(3, 9))}})
    assert refusal(moved["updateOutage"]) == ("BEFORE_START", ["input", "end"])
    stale = api.ok(END, {"i": {"id": going["id"], "version": 7, "end": iso(t(2, 12))}})
    assert refusal(stale["endOutage"]) == ("CONFLICT", ["input", "version"])
    early = api.ok(END, {"i": {"id": going["id"], "end": iso(t(2, 9))}})
    assert refusal(early["endOutage"]) == ("BEFORE_START", ["input", "end"])
    later = api.ok(END, {"i": {"id": going["id"], "end": iso(soon)}})
    assert refusal(later["endOutage"]) == ("IN_FUTURE", ["input", "end"])
    ended = api.ok(END, {"i": {"id": going["id"], "version": 1, "end": iso(t(2, 12))}})
    assert ended["endOutage"]["outage"]["end"] == "2026-03-02T12:00:00+00:00"
    again = api.ok(END, {"i": {"id": going["id"], "end": iso(t(2, 13))}})
    assert refusal(again["endOutage"]) == ("ALREADY_ENDED", ["input", "id"])
    noted = api.ok(UPDATE, {"i": {"id": going["id"], "notes": "restarted"}})["updateOutage"]
    assert noted["userErrors"] == [] and noted["outage"]["notes"] == "restarted"

    # The list: by CI, kind and source, ordered by start either way; and on the CI.
    def numbers(f: dict[str, Any] | None = None, o: dict[str, Any] | None = None) -> list[str]:
        found = api.ok(LIST, {"f": f, "o": o})["outages"]
        assert found["totalCount"] == len(found["edges"])
        return [e["node"]["number"] for e in found["edges"]]

    assert numbers() == [over["number"], going["number"]]
    assert numbers(o={"direction": "DESC"}) == [going["number"], over["number"]]
    assert numbers({"cis": [web]}) == [going["number"]]
    assert numbers({"kind": ["DEGRADED"]}) == [over["number"]]
    assert numbers({"source": ["ALERT"]}) == []
    assert numbers({"ongoing": False, "from": iso(t(2, 11))}) == [going["number"]]
    assert numbers({"to": iso(t(2, 0))}) == [over["number"]]
    on_ci = api.ok(
        "query($id: ID!) { node(id: $id) { ... on CI { outages { number } } } }", {"id": web}
    )
    assert on_ci["node"]["outages"] == [{"number": going["number"]}]
    one = api.ok(
        "query($n: String) { outage(number: $n) { kind ci { name } } }", {"n": over["number"]}
    )
    assert one["outage"] == {"kind": "DEGRADED", "ci": {"name": "db"}}


# -- availability ------------------------------------------------------------------------------

AVAILABILITY = """query($ci: ID, $service: ID, $from: DateTime!, $to: DateTime!, $agreement: ID) {
  availability(ci: $ci, service: $service, from: $from, to: $to, agreement: $agreement) {
    ci { name } byPropagation period agreement { name }
    agreedSeconds downtimeSeconds degradedSeconds availability
    periods { start end agreedSeconds downtimeSeconds degradedSeconds availability target
              breached termsVersion outages { number ci { name } kind } }
  }
}"""

HOUR = 3600
MARCH = 31 * 24 * HOUR


def availability(api: Api, **given: Any) -> dict[str, Any]:
    variables = {k: iso(v) if isinstance(v, datetime) else v for k, v in given.items()}
    answer: dict[str, Any] = api.ok(AVAILABILITY, variables)["availability"]
    return answer


def record(store: Store, ci: str, start: datetime, end: datetime | None, kind: str = "down") -> str:
    def work(uow: UnitOfWork) -> str:
        opened = outages.open_outage_in(uow, ci, OutageKind(kind), start)
        if end is not None:
            outages.end_outage_in(uow, opened["id"], end)
        number: str = opened["number"]
        return number

    return store.write(SYSTEM, work)


def sla(
    store: Store,
    name: str,
    *,
    target: float,
    period: str = "month",
    services: tuple[str, ...] = (),
    customer: str | None = None,
    business_hours: bool = False,
) -> str:
    """An active SLA with one version of terms, in force since the start of 2026."""
    calendar = calendar_from_input(
        timezone="UTC",
        hours=["mon-fri 09:00-17:00"] if business_hours else None,
        holiday_country=None,
        holiday_subdivision=None,
        holiday_dates=["2026-03-16"] if business_hours else None,
        always=not business_hours,
    )

    def work(uow: UnitOfWork) -> str:
        made: str = uow.create("SLA", {"name": name, "state": "active"})["id"]
        terms = uow.create(
            "AgreementTerms",
            {
                "current": True,
                "validFrom": datetime(2026, 1, 1, tzinfo=UTC),
                "availabilityTarget": target,
                "availabilityPeriod": period,
                **calendar.to_stored(),
            },
        )["id"]
        uow.link("SLA", made, "HAS_TERMS", "AgreementTerms", terms)
        for service in services:
            uow.link("SLA", made, "COVERS", "CI", service)
        if customer is not None:
            uow.link("SLA", made, "AGREED_WITH", "Customer", customer)
        return made

    return store.write(SYSTEM, work)


def test_a_ci_over_a_month_on_a_24x7_calendar_and_on_business_hours_with_a_holiday(
    api: Api, store: Store, web: dict[str, str]
) -> None:
    ci = web["web"]
    two_hours = record(store, ci, t(10, 10), t(10, 12))
    record(store, ci, t(11, 1), t(11, 5))  # at night
    record(store, ci, t(11, 16), t(11, 18))  # one hour of it in business hours
    record(store, ci, t(16, 10), t(16, 12))  # on the agreement's holiday
    record(store, ci, t(20, 9), t(20, 10), kind="degraded")
    gid = to_global_id("CI", ci)

    plain = availability(api, ci=gid, **{"from": t(1), "to": t(1, month=4)})
    assert plain["period"] == "MONTH" and plain["agreement"] is None
    (march,) = plain["periods"]
    down = (2 + 4 + 2 + 2) * HOUR
    assert march["agreedSeconds"] == MARCH and march["downtimeSeconds"] == down
    assert march["degradedSeconds"] == HOUR
    assert march["availability"] == pytest.approx(100 * (1 - down / MARCH))
    assert march["target"] is None and march["breached"] is False
    assert march["outages"][0]["number"] == two_hours
    assert {o["kind"] for o in march["outages"]} == {"DOWN", "DEGRADED"}

    office = sla(store, "Office hours", target=99.5, business_hours=True)
    hours = availability(
        api, ci=gid, agreement=to_global_id("SLA", office), **{"from": t(1), "to": t(1, month=4)}
    )
    (march,) = hours["periods"]
    # March 2026: 22 weekdays, less Monday the 16th, of eight hours each.
    agreed = 21 * 8 * HOUR
    assert march["agreedSeconds"] == agreed
    assert march["downtimeSeconds"] == (2 + 1) * HOUR
    assert march["degradedSeconds"] == HOUR
    assert march["availability"] == pytest.approx(100 * (1 - 3 * HOUR / agreed))
    assert march["target"] == 99.5 and march["breached"] is True
    assert hours["agreement"] == {"name": "Office hours"}


def test_an_outage_across_two_months_is_split_and_one_going_on_counts_until_the_end(
    api: Api, store: Store, web: dict[str, str]
) -> None:
    ci = web["web"]
    gid = to_global_id("CI", ci)
    record(store, ci, t(31, 22), t(1, 3, month=4))
    measured = availability(api, ci=gid, **{"from": t(15), "to": t(10, month=4)})
    march, april = measured["periods"]
    assert (march["start"], march["end"]) == (
        "2026-03-15T00:00:00+00:00",
        "2026-04-01T00:00:00+00:00",
    )
    assert march["agreedSeconds"] == 17 * 24 * HOUR and march["downtimeSeconds"] == 2 * HOUR
    assert april["agreedSeconds"] == 9 * 24 * HOUR and april["downtimeSeconds"] == 3 * HOUR
    assert measured["downtimeSeconds"] == 5 * HOUR

    quarterly = sla(store, "Quarterly", target=99.0, period="quarter")
    by_quarter = availability(
        api,
        ci=gid,
        agreement=to_global_id("SLA", quarterly),
        **{"from": t(1, month=1), "to": t(1, month=7)},
    )
    q1, q2 = by_quarter["periods"]
    assert by_quarter["period"] == "QUARTER"
    assert (q1["downtimeSeconds"], q2["downtimeSeconds"]) == (2 * HOUR, 3 * HOUR)
    assert q1["agreedSeconds"] == (31 + 28 + 31) * 24 * HOUR

    # Going on: counted until the end of the range, or until now.
    record(store, ci, t(30), None)
    again = availability(api, ci=gid, **{"from": t(1), "to": t(1, month=4)})
    assert again["periods"][0]["downtimeSeconds"] == 2 * 24 * HOUR
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    other = import_cis(api, [("api", "VirtualMachine")], [])["api"]
    record(store, other, started, None)
    now = availability(
        api,
        ci=to_global_id("CI", other),
        **{"from": started - timedelta(hours=1), "to": started + timedelta(days=2)},
    )
    assert now["agreedSeconds"] == pytest.approx(2 * HOUR, abs=60)
    assert now["downtimeSeconds"] == pytest.approx(HOUR, abs=60)


SHOP_ITEMS = [
    ("shop", "Service"),
    ("reports", "Service"),
    ("app", "Application"),
    ("db", "Database"),
    ("vm1", "VirtualMachine"),
    ("vm2", "VirtualMachine"),
    ("vm3", "VirtualMachine"),
]
SHOP_RELS = [
    ("shop", "DEPENDS_ON", "app", {}),
    ("app", "RUNS_ON", "vm1", {"redundancyGroup": "web", "minUp": 1}),
    ("app", "RUNS_ON", "vm2", {"redundancyGroup": "web", "minUp": 1}),
    ("app", "DEPENDS_ON", "db", {}),
    ("db", "RUNS_ON", "vm3", {}),
    ("reports", "DEPENDS_ON", "db", {}),
]


@pytest.fixture
def shop(api: Api, store: Store) -> dict[str, str]:
    """The shop runs on a redundant pair of VMs and needs a database on a single VM; reports
    read the database. March: vm1 down 10-14 and vm2 12-16 on the 3rd (both down 12-14), the
    database's VM down 8-9 on the 20th."""
    cis = import_cis(api, SHOP_ITEMS, SHOP_RELS)
    record(store, cis["vm1"], t(3, 10), t(3, 14))
    record(store, cis["vm2"], t(3, 12), t(3, 16))
    record(store, cis["vm3"], t(20, 8), t(20, 9))
    return cis


def test_a_service_is_down_when_what_is_down_takes_it_down(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    measured = availability(
        api, service=to_global_id("CI", shop["shop"]), **{"from": t(1), "to": t(1, month=4)}
    )
    assert measured["byPropagation"] is True
    (march,) = measured["periods"]
    # Both VMs of the pair down 12-14 and the chain vm3 → db → app → shop 8-9: three hours.
    # One VM of the pair down alone (10-12, 14-16) degrades the shop, it does not take it down.
    assert march["downtimeSeconds"] == 3 * HOUR
    assert march["degradedSeconds"] == 4 * HOUR
    assert march["availability"] == pytest.approx(100 * (1 - 3 * HOUR / MARCH))
    assert sorted(o["ci"]["name"] for o in march["outages"]) == ["vm1", "vm2", "vm3"]
    alone = availability(
        api, service=to_global_id("CI", shop["shop"]), **{"from": t(3, 10), "to": t(3, 12)}
    )
    assert alone["availability"] == 100.0 and alone["degradedSeconds"] == 2 * HOUR
    together = availability(
        api, service=to_global_id("CI", shop["shop"]), **{"from": t(3, 12), "to": t(3, 14)}
    )
    assert together["availability"] == 0.0 and together["downtimeSeconds"] == 2 * HOUR

    reports = availability(
        api, service=to_global_id("CI", shop["reports"]), **{"from": t(1), "to": t(1, month=4)}
    )
    assert reports["periods"][0]["downtimeSeconds"] == HOUR
    assert [o["ci"]["name"] for o in reports["periods"][0]["outages"]] == ["vm3"]
    not_service = api.post(
        AVAILABILITY,
        {"service": to_global_id("CI", shop["app"]), "from": iso(t(1)), "to": iso(t(2))},
    ).json()
    assert not_service["errors"][0]["extensions"]["reason"] == "not_a_service"
    both = api.post(
        AVAILABILITY,
        {
            "ci": to_global_id("CI", shop["app"]),
            "service": to_global_id("CI", shop["shop"]),
            "from": iso(t(1)),
            "to": iso(t(2)),
        },
    ).json()
    assert both["errors"][0]["extensions"]["field"] == "ci"
    backwards = api.post(
        AVAILABILITY, {"ci": to_global_id("CI", shop["app"]), "from": iso(t(2)), "to": iso(t(1))}
    ).json()
    assert backwards["errors"][0]["extensions"]["reason"] == "before_from"


def test_one_failure_takes_a_service_down_exactly_when_impact_analysis_says_so(
    api: Api, store: Store
) -> None:
    cis = import_cis(api, SHOP_ITEMS, SHOP_RELS)

    def judged(tx: Any) -> None:
        needs, _ = impact.needs_of(tx, [cis["shop"]])
        for key, ci in cis.items():
            result, _ = impact.failure_reach(tx, ci, max_depth=impact.MAX_DEPTH, explain=False)
            reached = {r.ci_id for r in result.reached} | {ci}
            assert impact.down_with(cis["shop"], {ci}, needs) == (cis["shop"] in reached), key
        assert impact.down_with(cis["shop"], {cis["vm1"], cis["vm2"]}, needs)

    store.read(judged)


REPORT = """query($from: DateTime!, $to: DateTime!, $slas: [ID!], $customers: [ID!]) {
  availabilityReport(from: $from, to: $to, slas: $slas, customers: $customers) {
    slas { ...compliance }
    customers { customer { name } breached slas { sla { name } } }
  }
}
fragment compliance on SLACompliance {
  sla { name } target actual breached
  services {
    ci { name } availability
    breaches { start availability target outages { ci { name } } }
    periods { start breached downtimeSeconds }
  }
}"""


def test_the_compliance_report_per_sla_and_per_customer(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    def customer(name: str) -> str:
        made: str = store.write(
            SYSTEM,
            lambda uow: uow.create(
                "Customer", {"name": name, "state": "active", "number": uow.next_number("CUS")}
            )["id"],
        )
        return made

    acme, beta = customer("ACME"), customer("Beta")
    gold = sla(store, "Gold", target=99.9, services=(shop["shop"],), customer=acme)
    sla(store, "Basic", target=99.0, services=(shop["reports"],), customer=beta)
    days = 31 + 30
    answer = api.ok(
        REPORT,
        {
            "from": iso(t(1)),
            "to": iso(t(1, month=5)),
            "slas": [to_global_id("SLA", gold)],
            "customers": [to_global_id("Customer", acme), to_global_id("Customer", beta)],
        },
    )["availabilityReport"]
    (gold_row,) = answer["slas"]
    assert gold_row["sla"] == {"name": "Gold"} and gold_row["target"] == 99.9
    assert gold_row["actual"] == pytest.approx(100 * (1 - 3 * HOUR / (days * 24 * HOUR)))
    assert gold_row["breached"] is True
    (shop_row,) = gold_row["services"]
    march, april = shop_row["periods"]
    assert (march["breached"], april["breached"]) == (True, False)
    assert april["downtimeSeconds"] == 0
    (breach,) = shop_row["breaches"]
    assert breach["start"] == "2026-03-01T00:00:00+00:00"
    assert breach["availability"] == pytest.approx(100 * (1 - 3 * HOUR / MARCH))
    assert breach["availability"] < breach["target"] == 99.9
    assert sorted(o["ci"]["name"] for o in breach["outages"]) == ["vm1", "vm2", "vm3"]

    by_customer = {c["customer"]["name"]: c for c in answer["customers"]}
    assert by_customer["ACME"]["breached"] is True
    assert by_customer["ACME"]["slas"] == [{"sla": {"name": "Gold"}}]
    # One hour down in March is 99.87 %: above Basic's 99 %.
    assert by_customer["Beta"]["breached"] is False
    assert by_customer["Beta"]["slas"] == [{"sla": {"name": "Basic"}}]

    everything = api.ok(REPORT, {"from": iso(t(1)), "to": iso(t(1, month=5))})
    rows = {s["sla"]["name"]: s for s in everything["availabilityReport"]["slas"]}
    assert set(rows) == {"Gold", "Basic"}
    assert rows["Basic"]["actual"] == pytest.approx(100 * (1 - HOUR / (days * 24 * HOUR)))
    assert rows["Basic"]["services"][0]["breaches"] == []
    missing = api.post(REPORT, {"from": iso(t(1)), "to": iso(t(2)), "slas": ["nope"]}).json()
    assert missing["errors"][0]["extensions"]["field"] == "slas[0]"


class CountingStore:
    """The store, counting the queries a read sends."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queries = 0

    def read(self, work: Any) -> Any:
        outer = self

        class Counted:
            def __init__(self, tx: Any) -> None:
                self.tx = tx

            def run(self, *args: Any, **kwargs: Any) -> Any:
                outer.queries += 1
                return self.tx.run(*args, **kwargs)

        return self.store.read(lambda tx: work(Counted(tx)))


def test_the_report_reads_in_a_fixed_number_of_queries(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    from domain.availability import report

    def queries(slas: list[str]) -> int:
        counting = CountingStore(store)
        answer = report.compliance(
            counting,  # type: ignore[arg-type]
            SYSTEM,
            start=t(1),
            end=t(1, month=5),
            sla_ids=slas,
        )
        assert [s.sla.id for s in answer.slas] == slas
        return counting.queries

    gold = sla(store, "Gold", target=99.9, services=(shop["shop"],))
    one = queries([gold])
    for day in range(1, 28):
        record(store, shop["vm3"], t(day, 1), t(day, 2))
        record(store, shop["db"], t(day, 3), t(day, 4), kind="degraded")
    basic = sla(store, "Basic", target=99.0, services=(shop["reports"], shop["shop"]))
    assert queries([gold, basic]) == one
