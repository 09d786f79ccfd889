"""The demo estate: loaded once, linked, and useful for impact analysis at once."""

from __future__ import annotations

from domain.demo import load_demo_estate
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_impact import impact, names


def test_demo_loads_once_and_answers_an_impact_question(api: Api, store: Store) -> None:
    assert load_demo_estate(store) is True
    assert load_demo_estate(store) is False
    found = api.ok('{ cis(filter: {search: "orders-db"}) { edges { node { id name } } } }')
    orders = next(e["node"] for e in found["cis"]["edges"] if e["node"]["name"] == "orders-db")
    result = impact(api, orders["id"])
    assert {"checkout-api", "Online Shop", "orders-db-replica"} <= set(names(result))
    assert [s["name"] for s in result["slas"]] == ["Online Shop Gold"]
    assert [c["name"] for c in result["customers"]] == ["Retail Division"]
    radius = api.ok("query($id: ID!) { ci(id: $id) { blastRadius } }", {"id": orders["id"]})
    assert radius["ci"]["blastRadius"] == len(names(result))
    web = api.ok('{ cis(filter: {search: "web-01"}) { edges { node { id name } } } }')
    web01 = next(e["node"] for e in web["cis"]["edges"] if e["node"]["name"] == "web-01")
    spared = impact(api, web01["id"])["spared"]
    assert [s["ci"]["name"] for s in spared] == ["storefront-web"]


def test_the_demo_floor_shows_end_user_devices_in_an_impact(api: Api, store: Store) -> None:
    load_demo_estate(store)
    found = api.ok('{ cis(filter: {search: "access switch"}) { edges { node { id name } } } }')
    switch = found["cis"]["edges"][0]["node"]
    result = impact(api, switch["id"])
    assert names(result) == {"WS-0042": 1, "PRN-2F-01": 1, "MON-0042": 2}
    monitor = next(a for a in result["affected"] if a["ci"]["name"] == "MON-0042")
    assert monitor["reason"] == "is attached to WS-0042, which failed"


DONE_WHEN = """query($db: ID!, $shop: ID!) {
  serviceCatalog {
    edges { node { entry { name } service { name } agreements { sla { name } } customers { name } } }
  }
  governingAgreement(ci: $db, priority: P1) {
    sla { name } team { name } explanation
  }
  searchKnowledge(query: "failover replica", filter: {service: $shop}) {
    edges { node { article { title kind state } highlights { fragment } } }
  }
}"""


def test_a_viewer_reads_the_demo_catalogue_its_agreements_and_its_knowledge(
    api: Api, store: Store
) -> None:
    """What a fresh install shows a reader at once: the catalogue with its agreements, which
    agreement governs a CI and why, and the published articles about what a service runs on."""
    load_demo_estate(store)
    viewer = api.as_role(store, "viewer")
    cis = viewer.ok("{ cis(first: 100) { edges { node { id name } } } }")["cis"]["edges"]
    by_name = {e["node"]["name"]: e["node"]["id"] for e in cis}
    seen = viewer.ok(DONE_WHEN, {"db": by_name["orders-db"], "shop": by_name["Online Shop"]})

    shop = next(
        e["node"]
        for e in seen["serviceCatalog"]["edges"]
        if e["node"]["service"]["name"] == "Online Shop"
    )
    assert shop["entry"]["name"]
    assert [a["sla"]["name"] for a in shop["agreements"]] == ["Online Shop Gold"]
    assert [c["name"] for c in shop["customers"]] == ["Retail Division"]

    governs = seen["governingAgreement"]
    assert governs["sla"]["name"] == "Online Shop Gold"
    assert governs["team"] is not None
    assert "orders-db" in governs["explanation"] and "Online Shop" in governs["explanation"]

    # The failover document is about orders-db, which the shop depends on: found through it.
    [hit] = [e["node"] for e in seen["searchKnowledge"]["edges"]]
    assert hit["article"]["title"] == "Failing over orders-db to its replica"
    assert (hit["article"]["kind"], hit["article"]["state"]) == ("PROCESS_DOCUMENT", "PUBLISHED")
    assert any("<mark>" in h["fragment"] for h in hit["highlights"])
    assert load_demo_estate(store) is False  # the articles are not written twice


def test_the_demo_has_open_incidents_governed_prioritised_and_routed(
    api: Api, store: Store
) -> None:
    load_demo_estate(store)
    found = api.ok(
        "{ incidents(first: 10, orderBy: {field: NUMBER}) { totalCount edges { node { "
        "number title priority state ci { name } team { name } governedBy { sla { name } } } } } }"
    )["incidents"]
    assert found["totalCount"] == 3
    lag = next(e["node"] for e in found["edges"] if e["node"]["ci"]["name"] == "orders-db")
    assert lag["priority"] == "P2" and lag["state"] == "ASSIGNED"
    assert lag["governedBy"]["sla"]["name"] == "Online Shop Gold"
    assert lag["team"] is not None
    assert load_demo_estate(store) is False  # not opened twice


def test_the_demo_has_a_problem_its_known_error_a_change_and_a_release_to_try(
    api: Api, store: Store
) -> None:
    load_demo_estate(store)
    found = api.ok(
        "{ problems(first: 5) { edges { node { number state cisAtFault { name } "
        "incidents { title } knownErrors { workaround } changes { number state riskTerms { term } "
        "} } } } releases(first: 5) { edges { node { state releaseVersion changes { title } "
        "catalogEntries { name offeringVersion } } } } }"
    )
    [problem] = [e["node"] for e in found["problems"]["edges"]]
    assert problem["cisAtFault"] == [{"name": "orders-db"}]
    assert problem["incidents"] == [{"title": "Checkout slow: orders-db replication lag"}]
    assert "reads-from-primary" in problem["knownErrors"][0]["workaround"]
    [change] = problem["changes"]
    assert change["state"] == "DRAFT" and {t["term"] for t in change["riskTerms"]} >= {
        "blast_radius",
        "change_type",
    }
    [release] = [e["node"] for e in found["releases"]["edges"]]
    assert release["state"] == "PLANNED" and release["releaseVersion"] == "2026.12"
    assert release["catalogEntries"] == [{"name": "Online Shop", "offeringVersion": "2026.11"}]
    assert load_demo_estate(store) is False
