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
