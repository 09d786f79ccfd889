"""The Service Desk through the API: contacts matched through the graph and decided, service
requests, incident queues, and what an incident affects."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from core.access import SYSTEM
from core.ids import record_id
from domain.tokens import issue_token
from graphdb.write_path import Store
from itsm.config import Settings
from tests.conftest import Api
from tests.test_governing import Agreements, agree
from tests.test_import import run_import
from tests.test_knowledge import create as create_article
from tests.test_knowledge import publish

INCIDENT_FIELDS = "id number title state priority"

LOG = """mutation($input: LogInteractionInput!) { logInteraction(input: $input) {
  userErrors { code field message }
  interaction { id number channel outcome text callerName ci { name } incident { number }
                request { number } }
  matches {
    incidents { incident { id number title } reason score hops }
    articles { article { id number title } reason highlight }
  }
  incident { id number title interactions { number outcome } }
  request { id number title state }
} }"""

LINK = """mutation($input: LinkInteractionInput!) { linkInteraction(input: $input) {
  userErrors { code field message } interaction { number outcome } incident { number } } }"""

OPEN_INCIDENT = """mutation($input: OpenIncidentFromInteractionInput!) {
  openIncidentFromInteraction(input: $input) {
    userErrors { code field message }
    interaction { number outcome incident { number } }
    incident { id number title description channel caller { name } ci { name }
               interactions { number } }
  } }"""

OPEN_REQUEST = """mutation($input: OpenRequestFromInteractionInput!) {
  openRequestFromInteraction(input: $input) {
    userErrors { code field message }
    interaction { number outcome request { number } }
    request { id number title state ci { name } interactions { number } }
  } }"""

DEFLECT = """mutation($input: DeflectInteractionInput!) { deflectInteraction(input: $input) {
  userErrors { code field message } interaction { number outcome solvedBy { number } } } }"""

STATS = """query($from: DateTime, $to: DateTime) { serviceDeskStats(from: $from, to: $to) {
  total deflected deflectionRate byOutcome { outcome count } byChannel { channel count } } }"""

INTERACTIONS_OF = """query($id: ID!) { node(id: $id) { ... on Incident {
  number interactions { number channel outcome } } } }"""


@pytest.fixture
def shop(api: Api) -> dict[str, str]:
    """checkout (a Service) needs shop-app, which needs orders-db, which runs on db-vm; the
    mail Service stands apart."""
    items = [
        ("checkout", "Service"),
        ("shop-app", "Application"),
        ("orders-db", "Database"),
        ("db-vm", "VirtualMachine"),
        ("mail", "Service"),
        ("mail-app", "Application"),
    ]
    rels = [
        ("checkout", "DEPENDS_ON", "shop-app"),
        ("shop-app", "DEPENDS_ON", "orders-db"),
        ("orders-db", "RUNS_ON", "db-vm"),
        ("mail", "DEPENDS_ON", "mail-app"),
    ]
    result = run_import(
        api,
        "test",
        [{"key": k, "ciClass": c, "name": k} for k, c in items],
        [{"sourceKey": s, "type": t, "targetKey": d} for s, t, d in rels],
    )
    assert result["rejected"] == 0
    return {i["key"]: i["ciId"] for i in result["items"]}


def log(api: Api, **given: Any) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok(LOG, {"input": {"channel": "PHONE", **given}})["logInteraction"]
    return answer


def logged(api: Api, **given: Any) -> dict[str, Any]:
    answer = log(api, **given)
    assert answer["userErrors"] == [], answer["userErrors"]
    return answer


def open_incident(api: Api, ci: str, title: str, **given: Any) -> dict[str, Any]:
    """An incident opened the way monitoring opens one: a contact on the API channel."""
    answer = logged(api, channel="API", text=title, ci=ci, open="INCIDENT", title=title, **given)
    incident: dict[str, Any] = answer["incident"]
    assert incident is not None and answer["interaction"]["outcome"] == "OPENED_INCIDENT"
    return incident


def person(api: Api, store: Store, name: str) -> str:
    """A known person (people are written by managers), by global id."""
    answer = api.as_role(store, "manager").ok(
        "mutation($input: CreatePersonInput!) { createPerson(input: $input) { person { id } } }",
        {"input": {"name": name, "email": f"{name.lower()}@example.com"}},
    )
    found: str = answer["createPerson"]["person"]["id"]
    return found


def count(store: Store, label: str) -> int:
    found: int = store.read(
        lambda tx: tx.run(f"MATCH (n:{label}) RETURN count(n) AS c").single(strict=True)["c"]
    )
    return found


# -- matching through the graph -----------------------------------------------------------------


def test_a_call_about_an_app_whose_database_has_an_open_incident_proposes_linking_to_it(
    api: Api, shop: dict[str, str]
) -> None:
    database = open_incident(api, shop["orders-db"], "orders-db refuses connections")
    open_incident(api, shop["mail-app"], "mail-app refuses connections")

    answer = logged(
        api, text="The shop app times out when I pay", callerName="Ann", ci=shop["shop-app"]
    )

    assert answer["interaction"]["outcome"] == "OPEN" and answer["incident"] is None
    proposed = answer["matches"]["incidents"]
    # The mail incident matches the words "refuses connections" nowhere near; it is on a CI
    # shop-app does not need, so it is not proposed.
    assert [m["incident"]["number"] for m in proposed] == [database["number"]]
    [best] = proposed
    assert best["hops"] == 1
    assert best["reason"] == (
        f"{database['number']} is open on orders-db, which shop-app needs: "
        "shop-app depends on orders-db"
    )


def test_nearer_incidents_come_first_then_those_whose_words_match(
    api: Api, shop: dict[str, str]
) -> None:
    vm = open_incident(api, shop["db-vm"], "db-vm is down")
    slow = open_incident(api, shop["orders-db"], "orders-db slow queries")
    locks = open_incident(api, shop["orders-db"], "orders-db lock timeouts on payment")

    answer = logged(api, text="payment timeouts in the shop", ci=shop["checkout"])

    proposed = [(m["incident"]["number"], m["hops"]) for m in answer["matches"]["incidents"]]
    assert proposed == [(locks["number"], 2), (slow["number"], 2), (vm["number"], 3)]
    reasons = [m["reason"] for m in answer["matches"]["incidents"]]
    assert reasons[2].endswith(
        "checkout depends on shop-app, shop-app depends on orders-db, orders-db runs on db-vm"
    )


def test_an_automation_caller_applying_the_suggestion_is_linked_to_the_open_incident(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    database = open_incident(api, shop["orders-db"], "orders-db refuses connections")
    bot = api.as_role(store, "automation")
    before = count(store, "Incident")

    answer = logged(
        bot,
        channel="API",
        text="synthetic check: checkout failing",
        ci=shop["checkout"],
        apply="SUGGESTED",
        open="INCIDENT",
    )

    assert answer["interaction"]["outcome"] == "LINKED"
    assert answer["interaction"]["incident"] == {"number": database["number"]}
    assert answer["incident"]["number"] == database["number"]
    assert count(store, "Incident") == before  # "me too": nothing new opened
    shown = api.ok(INTERACTIONS_OF, {"id": database["id"]})["node"]
    assert [(i["channel"], i["outcome"]) for i in shown["interactions"]] == [
        ("API", "OPENED_INCIDENT"),
        ("API", "LINKED"),
    ]


def test_applying_the_suggestion_without_a_match_opens_what_was_asked(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    open_incident(api, shop["mail-app"], "mail-app queue stuck")
    bot = api.as_role(store, "automation")

    answer = logged(
        bot,
        channel="API",
        text="orders-db replication lag",
        ci=shop["orders-db"],
        apply="SUGGESTED",
        open="INCIDENT",
        impact="HIGH",
    )

    assert answer["matches"]["incidents"] == []
    assert answer["interaction"]["outcome"] == "OPENED_INCIDENT"
    assert answer["incident"]["title"] == "orders-db replication lag"
    assert answer["interaction"]["incident"] == {"number": answer["incident"]["number"]}


def test_a_contact_is_linked_by_hand_once_and_only_to_an_open_incident(
    api: Api, shop: dict[str, str]
) -> None:
    database = open_incident(api, shop["orders-db"], "orders-db refuses connections")
    call = logged(api, text="checkout broken", ci=shop["checkout"])["interaction"]

    linked = api.ok(LINK, {"input": {"id": call["id"], "incident": database["id"]}})
    assert linked["linkInteraction"]["userErrors"] == []
    assert linked["linkInteraction"]["interaction"]["outcome"] == "LINKED"

    again = api.ok(LINK, {"input": {"id": call["id"], "incident": database["id"]}})
    [error] = again["linkInteraction"]["userErrors"]
    assert (error["code"], error["field"]) == ("ALREADY_DECIDED", ["input", "id"])
    wrong = api.ok(LINK, {"input": {"id": call["id"], "incident": shop["orders-db"]}})
    [error] = wrong["linkInteraction"]["userErrors"]
    assert (error["code"], error["field"]) == ("WRONG_TYPE", ["input", "incident"])


def test_a_contact_without_a_ci_matches_open_incidents_by_its_words(
    api: Api, shop: dict[str, str]
) -> None:
    vpn = open_incident(api, shop["mail-app"], "VPN gateway drops connections")
    open_incident(api, shop["orders-db"], "orders-db disk full")

    answer = logged(api, channel="CHAT", text="my VPN keeps dropping")

    [match] = answer["matches"]["incidents"]
    assert match["incident"]["number"] == vpn["number"] and match["hops"] is None
    assert match["score"] > 0 and "vpn" in match["reason"]


# -- knowledge: proposing and deflecting ----------------------------------------------------------


def test_a_published_article_is_proposed_and_a_deflection_counts(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    reviewer = api.as_role(store, "agent")
    answer_article = publish(
        api,
        reviewer,
        create_article(
            api,
            title="Card payment declined at checkout",
            body="When a card payment is declined, ask the caller to check the card's 3-D "
            "Secure approval in their banking app, then pay again.",
            cis=[shop["checkout"]],
        ),
    )
    create_article(api, title="Draft: payment declined troubleshooting")  # never published

    call = logged(api, channel="EMAIL", text="My card payment was declined", ci=shop["shop-app"])

    articles = call["matches"]["articles"]
    assert [a["article"]["number"] for a in articles] == [answer_article["number"]]
    assert "<mark>payment</mark>" in articles[0]["highlight"]
    assert "its published text matches" in articles[0]["reason"]
    # shop-app needs nothing the article is about (checkout needs shop-app, not the other way).
    assert "about" not in articles[0]["reason"]

    about = logged(api, text="checkout question", ci=shop["checkout"])["matches"]["articles"]
    assert about[0]["reason"].startswith(f"{answer_article['number']} is about checkout")

    deflected = api.ok(
        DEFLECT, {"input": {"id": call["interaction"]["id"], "article": answer_article["id"]}}
    )["deflectInteraction"]
    assert deflected["userErrors"] == []
    assert deflected["interaction"]["outcome"] == "DEFLECTED"
    assert deflected["interaction"]["solvedBy"] == {"number": answer_article["number"]}

    stats = api.ok(STATS)["serviceDeskStats"]
    assert stats["total"] == 2 and stats["deflected"] == 1 and stats["deflectionRate"] == 0.5
    assert {(o["outcome"], o["count"]) for o in stats["byOutcome"]} == {
        ("DEFLECTED", 1),
        ("OPEN", 1),
    }
    assert {(c["channel"], c["count"]) for c in stats["byChannel"]} == {
        ("EMAIL", 1),
        ("PHONE", 1),
    }
    future = api.ok(STATS, {"from": "2999-01-01T00:00:00Z"})["serviceDeskStats"]
    assert future["total"] == 0 and future["deflectionRate"] is None


def test_only_a_published_article_deflects(api: Api) -> None:
    draft = create_article(api, title="How to reset a password")
    call = logged(api, text="password reset please")["interaction"]

    answer = api.ok(DEFLECT, {"input": {"id": call["id"], "article": draft["id"]}})
    [error] = answer["deflectInteraction"]["userErrors"]
    assert (error["code"], error["field"]) == ("NOT_PUBLISHED", ["input", "article"])
    assert api.ok(STATS)["serviceDeskStats"]["deflected"] == 0


# -- opening records from a contact ----------------------------------------------------------------


def test_an_incident_opened_from_a_contact_carries_it_and_is_one_transaction(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    bo = person(api, store, "Bo")
    call = logged(api, text="Checkout page is blank\nsince 10:00", caller=bo, ci=shop["checkout"])
    contact = call["interaction"]

    too_long = api.ok(OPEN_INCIDENT, {"input": {"id": contact["id"], "title": "x" * 301}})
    [error] = too_long["openIncidentFromInteraction"]["userErrors"]
    assert error["field"] == ["input", "title"]
    assert too_long["openIncidentFromInteraction"]["incident"] is None
    assert count(store, "Incident") == 0
    [still] = api.ok("{ interactions { edges { node { number outcome } } } }")["interactions"][
        "edges"
    ]
    assert still["node"] == {"number": contact["number"], "outcome": "OPEN"}

    opened = api.ok(OPEN_INCIDENT, {"input": {"id": contact["id"], "urgency": "HIGH"}})[
        "openIncidentFromInteraction"
    ]
    assert opened["userErrors"] == []
    incident = opened["incident"]
    assert incident["title"] == "Checkout page is blank"
    assert incident["channel"] == "PHONE" and incident["caller"] == {"name": "Bo"}
    assert incident["ci"] == {"name": "checkout"}
    assert incident["description"] == "Checkout page is blank\nsince 10:00"
    assert incident["interactions"] == [{"number": contact["number"]}]
    assert opened["interaction"] == {
        "number": contact["number"],
        "outcome": "OPENED_INCIDENT",
        "incident": {"number": incident["number"]},
    }


def test_two_agents_deciding_one_contact_at_once_open_one_incident(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    call = logged(api, text="orders-db is down", ci=shop["orders-db"])["interaction"]
    agents = [api, api.as_role(store, "agent")]

    def decide(agent: Api) -> dict[str, Any]:
        answer: dict[str, Any] = agent.ok(OPEN_INCIDENT, {"input": {"id": call["id"]}})[
            "openIncidentFromInteraction"
        ]
        return answer

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(decide, agents))

    refused = [e["code"] for a in answers for e in a["userErrors"]]
    assert refused == ["ALREADY_DECIDED"]
    assert count(store, "Incident") == 1


def test_a_refused_incident_on_logging_writes_no_contact_either(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    answer = log(api, text="db down", ci=shop["orders-db"], open="INCIDENT", title="y" * 301)
    [error] = answer["userErrors"]
    assert error["field"] == ["input", "title"] and answer["interaction"] is None
    # An impact outside the closed set is refused before anything runs.
    bad = api.post(
        LOG, {"input": {"channel": "PHONE", "text": "x", "open": "INCIDENT", "impact": "ENORMOUS"}}
    )
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert count(store, "Interaction") == 0 and count(store, "Incident") == 0


# -- service requests ----------------------------------------------------------------------------

CREATE_REQUEST = """mutation($input: CreateRequestInput!) { createRequest(input: $input) {
  userErrors { code field message } request { id number title state version } } }"""

STEP_REQUEST = """mutation($input: TransitionRequestInput!) { transitionRequest(input: $input) {
  userErrors { code field message } request { id number state notes version } } }"""


def step_request(api: Api, request: dict[str, Any], state: str, **changes: Any) -> dict[str, Any]:
    given: dict[str, Any] = {"id": request["id"], "version": request["version"], "state": state}
    if changes:
        given["changes"] = changes
    answer: dict[str, Any] = api.ok(STEP_REQUEST, {"input": given})["transitionRequest"]
    return answer


def test_requests_are_fulfilled_or_rejected_with_notes(api: Api, shop: dict[str, str]) -> None:
    made = api.ok(CREATE_REQUEST, {"input": {"title": "New laptop for Ann", "ci": shop["mail"]}})
    laptop = made["createRequest"]["request"]
    assert laptop["state"] == "SUBMITTED" and laptop["number"].startswith("REQ")
    started = step_request(api, laptop, "IN_PROGRESS")["request"]
    done = step_request(api, started, "FULFILLED", notes="Handed over")["request"]
    assert done["state"] == "FULFILLED"

    access = api.ok(CREATE_REQUEST, {"input": {"title": "Admin rights"}})["createRequest"][
        "request"
    ]
    refused = step_request(api, access, "REJECTED")
    [error] = refused["userErrors"]
    assert (error["code"], error["field"]) == ("REQUIRED", ["input", "changes", "notes"])
    assert refused["request"] is None
    blank = step_request(api, access, "REJECTED", notes="   ")
    assert blank["userErrors"][0]["code"] == "REQUIRED"
    rejected = step_request(api, access, "REJECTED", notes="Not allowed by policy")["request"]
    assert rejected["state"] == "REJECTED" and rejected["notes"] == "Not allowed by policy"

    listed = api.ok(
        "{ requests(filter: {state: REJECTED}) { totalCount edges { node { number } } } }"
    )
    assert listed["requests"]["totalCount"] == 1
    assert listed["requests"]["edges"][0]["node"]["number"] == access["number"]


def test_a_request_opened_from_a_contact_keeps_its_ci_and_the_link(
    api: Api, shop: dict[str, str]
) -> None:
    call = logged(api, channel="PORTAL", text="Please add me to the mail list", ci=shop["mail"])
    answer = api.ok(OPEN_REQUEST, {"input": {"id": call["interaction"]["id"]}})[
        "openRequestFromInteraction"
    ]
    assert answer["userErrors"] == []
    request = answer["request"]
    assert request["title"] == "Please add me to the mail list" and request["state"] == "SUBMITTED"
    assert request["ci"] == {"name": "mail"}
    assert request["interactions"] == [{"number": call["interaction"]["number"]}]
    assert answer["interaction"]["outcome"] == "OPENED_REQUEST"

    direct = logged(api, text="I need a new headset", open="REQUEST")
    assert direct["request"]["title"] == "I need a new headset"
    assert direct["interaction"]["request"] == {"number": direct["request"]["number"]}


# -- the caller's own queue ------------------------------------------------------------------------

MINE = "{ myIncidents { totalCount edges { node { number } } } }"


def test_a_token_without_a_person_has_no_queue_of_its_own(api: Api) -> None:
    body = api.post(MINE).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NO_PERSON"
    assert "not linked to a person" in error["message"]


def itsm_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The `itsm` command against the tests' Neo4j, as `test_token_cli_creates_lists_and_revokes`
    runs it."""
    return subprocess.run(
        [sys.executable, "-m", "itsm.cli", *args],
        env={**os.environ, "NEO4J_URI": settings.bolt_uri, "BROKER_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_itsm_token_create_for_a_person_gives_that_person_a_queue(
    api: Api, store: Store, settings: Settings
) -> None:
    manager = api.as_role(store, "manager")
    person = manager.ok(
        'mutation { createPerson(input: {name: "Ann", email: "ann@example.com"}) '
        "{ person { id number } } }"
    )["createPerson"]["person"]

    made = itsm_cli(settings, "token", "create", "--role", "agent", "--person", person["number"])
    assert made.returncode == 0, made.stderr
    ann = Api(api.url, made.stdout.strip().splitlines()[-1])
    assert ann.ok(MINE)["myIncidents"] == {"totalCount": 0, "edges": []}
    assert (
        person["id"]
        and record_id(person["id"], "Person") in itsm_cli(settings, "token", "list").stdout
    )

    unknown = itsm_cli(settings, "token", "create", "--role", "agent", "--person", "PER9999999")
    assert unknown.returncode == 1 and "PER9999999" in unknown.stderr


# -- affected scope ----------------------------------------------------------------------------

AFFECTED = """query($id: ID!) { node(id: $id) { ... on Incident { number affected {
  services { service { name ciClass } depth } slas { name } customers { name } } } } }"""


def test_an_incident_lists_the_services_slas_and_customers_its_ci_takes_down(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    def build(a: Agreements) -> None:
        acme = a.uow.create("Customer", {"name": "Acme", "state": "active"})["id"]
        gold = a.sla("Checkout gold", ["checkout"], {"P3": (30, 240)})
        a.uow.link("SLA", gold, "AGREED_WITH", "Customer", acme)
        a.sla("Checkout draft", ["checkout"], {"P3": (10, 60)}, state="draft")
        a.sla("Mail basic", ["mail"], {"P3": (60, 480)})

    agree(store, shop, build)
    database = open_incident(api, shop["orders-db"], "orders-db down")
    vm = open_incident(api, shop["db-vm"], "db-vm down")
    mail = open_incident(api, shop["mail"], "mail down")

    scope = api.ok(AFFECTED, {"id": database["id"]})["node"]["affected"]
    assert scope == {
        "services": [{"service": {"name": "checkout", "ciClass": "Service"}, "depth": 2}],
        "slas": [{"name": "Checkout gold"}],  # a draft SLA promises nothing
        "customers": [{"name": "Acme"}],
    }
    assert api.ok(AFFECTED, {"id": vm["id"]})["node"]["affected"]["services"] == [
        {"service": {"name": "checkout", "ciClass": "Service"}, "depth": 3}
    ]
    on_service = api.ok(AFFECTED, {"id": mail["id"]})["node"]["affected"]
    assert on_service == {
        "services": [{"service": {"name": "mail", "ciClass": "Service"}, "depth": 0}],
        "slas": [{"name": "Mail basic"}],
        "customers": [],
    }


# -- queues ----------------------------------------------------------------------------------------

QUEUE = """query($id: ID!, $first: Int, $after: String, $states: [IncidentState!]) {
  %s(%s: $id, first: $first, after: $after, states: $states) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { number } } } }"""

CREATE_INCIDENT = """mutation($input: CreateIncidentInput!) { createIncident(input: $input) {
  userErrors { code field message } incident { id number version state priority } } }"""

UPDATE_INCIDENT = """mutation($input: UpdateIncidentInput!) { updateIncident(input: $input) {
  userErrors { code field message } incident { id number version } } }"""

STEP_INCIDENT = """mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) {
  userErrors { code field message } incident { id number version state } } }"""


def create_incident(api: Api, **given: Any) -> dict[str, Any]:
    answer = api.ok(CREATE_INCIDENT, {"input": given})["createIncident"]
    assert answer["userErrors"] == [], answer["userErrors"]
    incident: dict[str, Any] = answer["incident"]
    return incident


def resolve(api: Api, incident: dict[str, Any]) -> None:
    given = {
        "id": incident["id"],
        "state": "RESOLVED",
        "changes": {"resolutionCode": "FIXED", "resolutionNotes": "restarted"},
    }
    answer = api.ok(STEP_INCIDENT, {"input": given})["transitionIncident"]
    assert answer["userErrors"] == [], answer["userErrors"]


def queue(api: Api, field: str, argument: str, of: str, **variables: Any) -> list[str]:
    """Every incident of a queue, page by page (two to a page), in order."""
    numbers: list[str] = []
    after = None
    while True:
        page = api.ok(
            QUEUE % (field, argument), {"id": of, "first": 2, "after": after, **variables}
        )[field]
        numbers += [e["node"]["number"] for e in page["edges"]]
        assert page["totalCount"] >= len(numbers)
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(numbers)
            return numbers
        after = page["pageInfo"]["endCursor"]


def test_queues_list_their_open_incidents_oldest_first_page_by_page(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    teams: dict[str, str] = {}

    def build(a: Agreements) -> None:
        teams["dba"] = a.team("DBA", [])
        teams["mail"] = a.team("Mail", [])

    agree(store, shop, build)
    dba, mail_team = (record_id(teams[t], "Team") for t in ("dba", "mail"))
    first, second, third = (
        create_incident(api, title=f"orders-db {what}", ci=shop["orders-db"], team=dba)
        for what in ("slow", "locks", "disk full")
    )
    on_vm = create_incident(api, title="db-vm down", ci=shop["db-vm"], team=dba)
    mail = create_incident(api, title="mail stuck", ci=shop["mail-app"], team=mail_team)
    resolve(api, second)

    open_dba = [first["number"], third["number"], on_vm["number"]]
    assert queue(api, "teamIncidents", "team", dba) == open_dba
    assert queue(api, "teamIncidents", "team", dba, states=["RESOLVED"]) == [second["number"]]
    assert queue(api, "teamIncidents", "team", mail_team) == [mail["number"]]
    assert queue(api, "incidentsOnCi", "ci", shop["orders-db"]) == open_dba[:2]
    # The checkout Service is impacted by everything under it, the mail Service by mail-app.
    assert queue(api, "incidentsByService", "service", shop["checkout"]) == open_dba
    assert queue(api, "incidentsByService", "service", shop["mail"]) == [mail["number"]]
    below = queue(api, "openIncidentsBelow", "service", shop["shop-app"])
    assert below == open_dba
    assert queue(api, "openIncidentsBelow", "service", shop["orders-db"]) == open_dba

    on_ci = api.ok(
        "query($id: ID!) { ci(id: $id) { openIncidents { number } } }", {"id": shop["orders-db"]}
    )["ci"]["openIncidents"]
    assert [i["number"] for i in on_ci] == open_dba[:2]

    newest_first = api.ok(
        "query($id: ID!) { teamIncidents(team: $id, orderBy: {field: CREATED_AT, "
        "direction: DESC}) { edges { node { number } } } }",
        {"id": dba},
    )["teamIncidents"]["edges"]
    assert [e["node"]["number"] for e in newest_first] == open_dba[::-1]


def test_my_incidents_are_those_the_tokens_person_works(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    manager = api.as_role(store, "manager")
    person = manager.ok(
        'mutation { createPerson(input: {name: "Ann", email: "ann@example.com"}) '
        "{ person { id number } } }"
    )["createPerson"]["person"]
    ann = Api(
        api.url, issue_token(store, SYSTEM, "agent", "Ann's token", person=person["number"]).secret
    )
    hers = create_incident(api, title="orders-db slow", ci=shop["orders-db"])
    create_incident(api, title="mail stuck", ci=shop["mail-app"])
    answer = api.ok(UPDATE_INCIDENT, {"input": {"id": hers["id"], "assignee": person["id"]}})[
        "updateIncident"
    ]
    assert answer["userErrors"] == [], answer["userErrors"]

    mine = ann.ok(MINE)["myIncidents"]
    assert mine == {"totalCount": 1, "edges": [{"node": {"number": hers["number"]}}]}


def test_the_kernels_list_filters_incidents_by_priority(api: Api, shop: dict[str, str]) -> None:
    urgent = create_incident(
        api, title="all down", ci=shop["orders-db"], impact="HIGH", urgency="HIGH"
    )
    create_incident(api, title="a typo", ci=shop["mail-app"], impact="LOW", urgency="LOW")
    found = api.ok(
        "query($p: [Priority!]) { incidents(filter: {priority: $p}) { edges { node { number } } } }",
        {"p": [urgent["priority"]]},
    )["incidents"]["edges"]
    assert [e["node"]["number"] for e in found] == [urgent["number"]]


BREACHING = """query($within: Int!, $team: ID, $first: Int, $after: String) {
  incidentsBreachingSoon(within: $within, team: $team, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { number responseDueAt resolutionDueAt } } } }"""


def test_incidents_breaching_soon_come_earliest_due_first(
    api: Api, store: Store, shop: dict[str, str]
) -> None:
    teams: dict[str, str] = {}

    def build(a: Agreements) -> None:
        a.sla("Checkout", ["checkout"], {p: (30, 240) for p in ("P1", "P2", "P3", "P4", "P5")})
        a.sla("Mail", ["mail"], {p: (600, 2400) for p in ("P1", "P2", "P3", "P4", "P5")})
        teams["dba"] = a.team("DBA", [])

    agree(store, shop, build)
    dba = record_id(teams["dba"], "Team")
    early = create_incident(api, title="orders-db slow", ci=shop["orders-db"], team=dba)
    later = create_incident(api, title="db-vm slow", ci=shop["db-vm"], team=dba)
    far = create_incident(api, title="mail slow", ci=shop["mail-app"])

    page = api.ok(BREACHING, {"within": 60, "first": 1})["incidentsBreachingSoon"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    assert [e["node"]["number"] for e in page["edges"]] == [early["number"]]
    rest = api.ok(BREACHING, {"within": 60, "after": page["pageInfo"]["endCursor"]})[
        "incidentsBreachingSoon"
    ]
    assert [e["node"]["number"] for e in rest["edges"]] == [later["number"]]
    everything = api.ok(BREACHING, {"within": 24 * 60})["incidentsBreachingSoon"]
    assert [e["node"]["number"] for e in everything["edges"]] == [
        early["number"],
        later["number"],
        far["number"],
    ]
    assert (
        api.ok(BREACHING, {"within": 24 * 60, "team": dba})["incidentsBreachingSoon"]["totalCount"]
        == 2
    )
