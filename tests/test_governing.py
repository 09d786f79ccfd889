"""Which agreement applies, through the API: the SLA, OLA and team behind a CI at a priority."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.access import SYSTEM
from core.ids import record_id, to_global_id
from graphdb.write_path import Store, UnitOfWork
from tests.conftest import Api
from tests.test_import import run_import

GOVERNING = """query($ci: ID, $service: ID, $priority: Priority!) {
  governingAgreement(ci: $ci, service: $service, priority: $priority) {
    priority asked { name } service { name ciClass }
    sla { id number name state customers { name } }
    terms { version priority responseMinutes resolutionMinutes }
    ola { name state } olaTerms { version resolutionMinutes }
    team { number name services { name } }
    path { start { label ciClass name } type end { label ciClass name } forward }
    explanation rule decidedBy noneBecause
    candidates {
      sla { name } state service { name } depth governs rule reason
      terms { version resolutionMinutes responseMinutes }
    }
    services { service { name } depth }
  }
}"""

Targets = dict[str, tuple[int | None, int | None]]  # priority -> (response, resolution) minutes


@pytest.fixture
def shop(api: Api) -> dict[str, str]:
    """A shop whose app runs on a redundant pair of VMs and needs one database on a single VM;
    a reporting Service reads the database directly."""
    items = [
        ("shop", "Service"),
        ("reports", "Service"),
        ("app", "Application"),
        ("db", "Database"),
        ("vm1", "VirtualMachine"),
        ("vm2", "VirtualMachine"),
        ("vm3", "VirtualMachine"),
        ("runbook", "Document"),
    ]
    rels = [
        ("shop", "DEPENDS_ON", "app", {}),
        ("app", "RUNS_ON", "vm1", {"redundancyGroup": "web", "minUp": 1}),
        ("app", "RUNS_ON", "vm2", {"redundancyGroup": "web", "minUp": 1}),
        ("app", "DEPENDS_ON", "db", {}),
        ("db", "RUNS_ON", "vm3", {}),
        ("app", "DOCUMENTED_BY", "runbook", {}),
    ]
    result = run_import(
        api,
        "test",
        [{"key": k, "ciClass": c, "name": k} for k, c in items],
        [{"sourceKey": s, "type": t, "targetKey": d, "attributes": a} for s, t, d, a in rels],
    )
    assert result["rejected"] == 0 and all(r["error"] is None for r in result["relationships"])
    return {i["key"]: i["ciId"] for i in result["items"]}


class Agreements:
    """Agreements written as the graph holds them: SLA/OLA -[:HAS_TERMS]-> AgreementTerms."""

    def __init__(self, uow: UnitOfWork, cis: dict[str, str]) -> None:
        self.uow = uow
        self.cis = cis

    def _ci(self, key: str) -> str:
        return record_id(self.cis[key], "CI")

    def terms(self, label: str, agreement: str, targets: Targets, version: int = 1) -> None:
        props: dict[str, Any] = {"current": True, "validFrom": self.uow.at}
        for priority, (response, resolution) in targets.items():
            props[f"response{priority}"] = response
            props[f"resolution{priority}"] = resolution
        terms = self.uow.create("AgreementTerms", props)["id"]
        # A terms node's `version` is its place in the agreement's history, which the write
        # path's create does not take from its input.
        self.uow.tx.run(
            "MATCH (t:AgreementTerms {id: $id}) SET t.version = $version", id=terms, version=version
        ).consume()
        self.uow.link(label, agreement, "HAS_TERMS", "AgreementTerms", terms)

    def sla(
        self, name: str, services: list[str], targets: Targets | None, *, state: str = "active"
    ) -> str:
        sla: str = self.uow.create("SLA", {"name": name, "state": state})["id"]
        for service in services:
            self.uow.link("SLA", sla, "COVERS", "CI", self._ci(service))
        if targets is not None:
            self.terms("SLA", sla, targets)
        return sla

    def team(self, name: str, supports: list[str], *, state: str = "active") -> str:
        number = self.uow.next_number("TEAM")
        team: str = self.uow.create("Team", {"name": name, "number": number, "state": state})["id"]
        for service in supports:
            self.uow.link("Team", team, "SUPPORTS_SERVICE", "CI", self._ci(service))
        return team

    def ola(
        self,
        name: str,
        sla: str,
        team: str | None,
        targets: Targets | None = None,
        *,
        state: str = "active",
    ) -> str:
        ola: str = self.uow.create("OLA", {"name": name, "state": state})["id"]
        self.uow.link("OLA", ola, "SUPPORTS", "SLA", sla)
        if team is not None:
            self.uow.link("OLA", ola, "PROVIDED_BY", "Team", team)
        if targets is not None:
            self.terms("OLA", ola, targets)
        return ola


def agree(store: Store, cis: dict[str, str], build: Callable[[Agreements], object]) -> None:
    store.write(SYSTEM, lambda uow: build(Agreements(uow, cis)))


def governing(
    api: Api, priority: str, *, ci: str | None = None, service: str | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok(
        GOVERNING, {"ci": ci, "service": service, "priority": priority}
    )["governingAgreement"]
    return answer


def steps(answer: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    return [(s["start"]["name"], s["type"], s["end"]["name"], s["forward"]) for s in answer["path"]]


def losers(answer: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        c["sla"]["name"]: (c["rule"], c["reason"]) for c in answer["candidates"] if not c["governs"]
    }


def test_a_database_is_governed_by_the_sla_of_the_service_its_failure_takes_down(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    def build(a: Agreements) -> None:
        gold = a.sla("Shop Gold", ["shop"], None)
        # An old version of the terms stays, not current: only the current one counts.
        old = a.uow.create("AgreementTerms", {"version": 1, "current": False, "resolutionP2": 30})
        a.uow.link("SLA", gold, "HAS_TERMS", "AgreementTerms", old["id"])
        a.terms("SLA", gold, {"P2": (30, 240)}, version=2)
        dbas = a.team("DBAs", ["shop"])
        a.ola("Shop databases", gold, dbas, {"P2": (15, 120)})

    agree(store, shop, build)
    answer = governing(api, "P2", ci=shop["db"])
    assert answer["asked"] == {"name": "db"}
    assert answer["sla"]["name"] == "Shop Gold" and answer["sla"]["number"].startswith("SLA")
    assert answer["sla"]["id"] == to_global_id("SLA", record_id(answer["sla"]["id"], "SLA"))
    assert answer["terms"] == {
        "version": 2,
        "priority": "P2",
        "responseMinutes": 30,
        "resolutionMinutes": 240,
    }
    assert answer["service"] == {"name": "shop", "ciClass": "Service"}
    assert answer["sla"]["state"] == "ACTIVE" and answer["sla"]["customers"] == []
    assert answer["ola"] == {"name": "Shop databases", "state": "ACTIVE"}
    assert answer["olaTerms"] == {"version": 1, "resolutionMinutes": 120}
    assert answer["team"] == {
        "number": "TEAM0000001",
        "name": "DBAs",
        "services": [{"name": "shop"}],
    }
    assert steps(answer) == [
        ("db", "DEPENDS_ON", "app", False),
        ("app", "DEPENDS_ON", "shop", False),
        ("shop", "COVERS", "Shop Gold", False),
        ("Shop Gold", "SUPPORTS", "Shop databases", False),
        ("Shop databases", "PROVIDED_BY", "DBAs", True),
    ]
    assert answer["path"][0]["start"] == {"label": "CI", "ciClass": "Database", "name": "db"}
    assert answer["decidedBy"] == "ONLY_CANDIDATE" and answer["noneBecause"] is None
    assert answer["services"] == [{"service": {"name": "shop"}, "depth": 2}]
    explanation = answer["explanation"]
    assert "A failure of db takes down the Service shop: db ← DEPENDS_ON ← app" in explanation
    assert "Shop Gold covers shop and governs at P2" in explanation
    assert "provided by TEAM0000001 DBAs, which supports shop" in explanation
    assert "the strictest promise wins" in answer["rule"]

    # Asked about the Service itself, the path starts there.
    direct = governing(api, "P2", service=shop["shop"])
    assert direct["sla"]["name"] == "Shop Gold"
    assert direct["services"] == [{"service": {"name": "shop"}, "depth": 0}]
    assert steps(direct)[0] == ("shop", "COVERS", "Shop Gold", False)
    # So does a CI that is a Service.
    itself = governing(api, "P2", ci=shop["shop"])
    assert itself["sla"]["name"] == "Shop Gold"
    assert itself["services"] == [{"service": {"name": "shop"}, "depth": 0}]
    assert itself["explanation"].startswith("shop is a Service. SLA0000001 Shop Gold covers shop")


def test_a_vm_of_a_redundant_pair_governs_nothing_through_the_service_it_does_not_take_down(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    agree(store, shop, lambda a: a.sla("Shop Gold", ["shop"], {"P1": (15, 60)}))
    spared = governing(api, "P1", ci=shop["vm1"])
    assert spared["sla"] is None and spared["team"] is None and spared["candidates"] == []
    assert spared["noneBecause"] == "NO_SERVICE"
    assert spared["explanation"] == (
        "No agreement governs vm1: its failure takes down no Service (redundancy keeps app up)."
    )
    # The database's VM is no member of a group: its failure reaches the shop.
    single = governing(api, "P1", ci=shop["vm3"])
    assert single["sla"]["name"] == "Shop Gold"
    assert [s[0] for s in steps(single)][:3] == ["vm3", "db", "app"]


def test_of_two_slas_on_one_service_the_stricter_wins_and_the_other_says_why(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    def build(a: Agreements) -> None:
        a.sla("Shop Silver", ["shop"], {"P2": (30, 480)})
        a.sla("Shop Gold", ["shop"], {"P2": (60, 240)})
        a.sla("Shop Gold Plus", ["shop"], {"P2": (15, 240)})

    agree(store, shop, build)
    answer = governing(api, "P2", ci=shop["app"])
    assert answer["sla"]["name"] == "Shop Gold Plus"
    assert answer["decidedBy"] == "STRICTEST_RESPONSE"
    lost = losers(answer)
    assert lost["Shop Silver"][0] == "STRICTEST_RESOLUTION"
    assert "resolution target at P2 is 480 min" in lost["Shop Silver"][1]
    assert "Shop Gold Plus's is 240 min" in lost["Shop Silver"][1]
    assert lost["Shop Gold"][0] == "STRICTEST_RESPONSE"
    assert "response target at P2 is 60 min" in lost["Shop Gold"][1]
    assert "the strictest of 3 active SLAs" in answer["explanation"]


def test_with_equal_targets_the_service_nearest_the_ci_wins(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    # The reports Service reads the database directly: one relationship from it.
    run_import(
        api,
        "test",
        [{"key": "reports", "ciClass": "Service", "name": "reports"}],
        [{"sourceKey": "reports", "type": "DEPENDS_ON", "targetId": shop["db"]}],
    )

    def build(a: Agreements) -> None:
        a.sla("Shop Gold", ["shop"], {"P3": (60, 480)})
        a.sla("Reporting", ["reports"], {"P3": (60, 480)})

    agree(store, shop, build)
    answer = governing(api, "P3", ci=shop["db"])
    assert answer["sla"]["name"] == "Reporting" and answer["service"]["name"] == "reports"
    assert answer["decidedBy"] == "NEAREST_SERVICE"
    assert [(s["service"]["name"], s["depth"]) for s in answer["services"]] == [
        ("reports", 1),
        ("shop", 2),
    ]
    rule, reason = losers(answer)["Shop Gold"]
    assert rule == "NEAREST_SERVICE"
    assert "its Service shop is 2 relationships away" in reason


def test_a_retired_or_draft_sla_never_governs(api: Api, store: Store, shop: dict[str, str]) -> None:
    def build(a: Agreements) -> None:
        a.sla("Shop Platinum", ["shop"], {"P1": (5, 30)}, state="retired")
        a.sla("Shop Diamond", ["shop"], {"P1": (1, 10)}, state="draft")

    agree(store, shop, build)
    nothing = governing(api, "P1", ci=shop["db"])
    assert nothing["sla"] is None and nothing["noneBecause"] == "NO_ACTIVE_SLA"
    assert nothing["explanation"] == "No agreement governs db: no active SLA covers shop."
    assert {c["sla"]["name"]: c["rule"] for c in nothing["candidates"]} == {
        "Shop Platinum": "NOT_ACTIVE",
        "Shop Diamond": "NOT_ACTIVE",
    }

    agree(store, shop, lambda a: a.sla("Shop Gold", ["shop"], {"P1": (30, 240)}))
    answer = governing(api, "P1", ci=shop["db"])
    assert answer["sla"]["name"] == "Shop Gold"
    assert answer["decidedBy"] == "ONLY_CANDIDATE"
    assert losers(answer)["Shop Platinum"] == (
        "NOT_ACTIVE",
        "it is retired: only active SLAs govern",
    )


def test_an_sla_without_a_target_at_the_priority_gives_way_to_the_next(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    def build(a: Agreements) -> None:
        a.sla("Shop Gold", ["shop"], {"P1": (15, 60), "P3": (None, None)})
        a.sla("Shop Basic", ["shop"], {"P3": (240, 2400)})
        a.sla("Shop Unsigned", ["shop"], None)

    agree(store, shop, build)
    answer = governing(api, "P3", ci=shop["db"])
    assert answer["sla"]["name"] == "Shop Basic"
    assert answer["terms"]["resolutionMinutes"] == 2400
    lost = losers(answer)
    assert lost["Shop Gold"] == ("NO_TARGET", "its current terms (version 1) set no target at P3")
    assert lost["Shop Unsigned"] == ("NO_TERMS", "it has no current terms")
    assert governing(api, "P1", ci=shop["db"])["sla"]["name"] == "Shop Gold"

    none = governing(api, "P5", ci=shop["db"])
    assert none["sla"] is None and none["noneBecause"] == "NO_TARGET"
    assert none["explanation"] == (
        "No agreement governs db at P5: no active SLA covering shop sets a target at P5."
    )


def test_without_an_sla_the_answer_says_why(api: Api, shop: dict[str, str]) -> None:
    answer = governing(api, "P2", ci=shop["db"])
    assert answer["sla"] is None and answer["noneBecause"] == "NO_SLA"
    assert answer["explanation"] == "No agreement governs db: no SLA covers shop."
    assert answer["services"] == [{"service": {"name": "shop"}, "depth": 2}]
    runbook = governing(api, "P2", ci=shop["runbook"])
    assert runbook["noneBecause"] == "NO_SERVICE"
    assert (
        runbook["explanation"] == "No agreement governs runbook: its failure takes down no Service."
    )


def test_the_ola_whose_team_supports_the_service_is_preferred_and_a_team_stands_in_for_none(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    def build(a: Agreements) -> None:
        gold = a.sla("Shop Gold", ["shop"], {"P2": (30, 240)})
        web = a.team("Web team", ["shop"])
        network = a.team("Network team", [])
        a.ola("Network", gold, network, {"P2": (5, 30)})
        a.ola("Web slow", gold, web, {"P2": (60, 200)})
        a.ola("Web fast", gold, web, {"P2": (30, 100)})
        a.ola("Web retired", gold, web, {"P2": (1, 10)}, state="retired")

    agree(store, shop, build)
    answer = governing(api, "P2", ci=shop["db"])
    assert answer["ola"]["name"] == "Web fast" and answer["team"]["name"] == "Web team"

    # Without an OLA, the active team supporting the Service with the lowest number.
    def lone(a: Agreements) -> None:
        a.team("Old reports team", ["reports"], state="retired")
        a.team("Reports team", ["reports"])
        a.team("Reports team B", ["reports"])
        a.sla("Reporting", ["reports"], {"P2": (10, 60)})

    agree(store, shop, lone)
    direct = governing(api, "P2", service=shop["reports"])
    assert direct["sla"]["name"] == "Reporting" and direct["ola"] is None
    assert direct["team"]["name"] == "Reports team"
    assert steps(direct) == [
        ("reports", "COVERS", "Reporting", False),
        ("reports", "SUPPORTS_SERVICE", "Reports team", False),
    ]
    assert "No active OLA underpins" in direct["explanation"]


def test_bad_input_is_a_typed_error_naming_the_argument(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    query = (
        "query($ci: ID, $service: ID) { governingAgreement(ci: $ci, service: $service, "
        "priority: P1) { explanation } }"
    )

    def refused(variables: dict[str, Any]) -> dict[str, Any]:
        body = api.post(query, variables).json()
        assert body["data"] is None, body
        ext: dict[str, Any] = body["errors"][0]["extensions"]
        return ext

    neither = refused({})
    assert (neither["field"], neither["reason"]) == ("ci", "ci_or_service_required")
    both = refused({"ci": shop["db"], "service": shop["shop"]})
    assert (both["field"], both["reason"]) == ("service", "ci_and_service_both_given")
    sla = store.write(SYSTEM, lambda uow: uow.create("SLA", {"name": "x"}))["id"]
    wrong = refused({"ci": to_global_id("SLA", sla)})
    assert (wrong["field"], wrong["reason"]) == ("ci", "wrong_type")
    unknown = refused({"ci": to_global_id("CI", "no-such-ci")})
    assert (unknown["code"], unknown["field"]) == ("NOT_FOUND", "ci")
    not_service = refused({"service": shop["db"]})
    assert (not_service["field"], not_service["reason"]) == ("service", "not_a_service")
    unknown_service = refused({"service": to_global_id("CI", "no-such-ci")})
    assert (unknown_service["code"], unknown_service["field"]) == ("NOT_FOUND", "service")
    bad_priority = api.post('{ governingAgreement(ci: "x", priority: P9) { explanation } }').json()
    assert bad_priority["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


MANAGE = {
    "team": """mutation($input: CreateTeamInput!) {
      createTeam(input: $input) { userErrors { message } team { id } } }""",
    "sla": """mutation($input: CreateSLAInput!) {
      createSLA(input: $input) { userErrors { message } sla { id } } }""",
    "ola": """mutation($input: CreateOLAInput!) {
      createOLA(input: $input) { userErrors { message } ola { id } } }""",
    "terms": """mutation($input: SetAgreementTermsInput!) {
      setAgreementTerms(input: $input) { userErrors { message } agreementTerms { version } } }""",
    "SLA": """mutation($input: TransitionSLAInput!) {
      transitionSLA(input: $input) { userErrors { message } sla { state } } }""",
    "OLA": """mutation($input: TransitionOLAInput!) {
      transitionOLA(input: $input) { userErrors { message } ola { state } } }""",
}


def test_agreements_made_through_the_api_govern_from_their_latest_terms_until_retired(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    manager = api.as_role(store, "manager")

    def run(what: str, given: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = next(iter(manager.ok(MANAGE[what], {"input": given}).values()))
        assert payload["userErrors"] == [], payload
        return payload

    def terms(agreement: str, response: int, resolution: int) -> int:
        set_ = run(
            "terms",
            {
                "agreement": agreement,
                "response": [{"priority": "P2", "minutes": response}],
                "resolution": [{"priority": "P2", "minutes": resolution}],
            },
        )
        version: int = set_["agreementTerms"]["version"]
        return version

    team = run("team", {"name": "DBAs", "services": [shop["shop"]]})["team"]["id"]
    sla = run("sla", {"name": "Shop Gold", "services": [shop["shop"]]})["sla"]["id"]
    assert terms(sla, 30, 240) == 1
    # A draft SLA governs nothing yet.
    assert governing(api, "P2", ci=shop["db"])["noneBecause"] == "NO_ACTIVE_SLA"
    run("SLA", {"id": sla, "state": "ACTIVE"})
    ola = run("ola", {"name": "Shop databases", "slas": [sla], "team": team})["ola"]["id"]
    run("OLA", {"id": ola, "state": "ACTIVE"})
    assert terms(ola, 15, 120) == 1

    answer = governing(api, "P2", ci=shop["db"])
    assert answer["sla"]["name"] == "Shop Gold" and answer["terms"]["version"] == 1
    assert answer["ola"]["name"] == "Shop databases" and answer["team"]["name"] == "DBAs"
    assert answer["olaTerms"] == {"version": 1, "resolutionMinutes": 120}

    # New terms are a new version; the answer follows the current one.
    assert terms(sla, 20, 180) == 2
    later = governing(api, "P2", ci=shop["db"])
    assert later["terms"] == {
        "version": 2,
        "priority": "P2",
        "responseMinutes": 20,
        "resolutionMinutes": 180,
    }
    assert "terms version 2: resolution 180 min, response 20 min" in later["explanation"]

    run("SLA", {"id": sla, "state": "RETIRED"})
    retired = governing(api, "P2", ci=shop["db"])
    assert retired["sla"] is None and retired["noneBecause"] == "NO_ACTIVE_SLA"
    assert retired["candidates"][0]["rule"] == "NOT_ACTIVE"
