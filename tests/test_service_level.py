"""Service Level Management's records over the GraphQL API against the real Neo4j: parties,
catalogue entries and agreements created, linked, changed and retired; every refusal names the
field and writes nothing; the Service Catalog with its filters and pages."""

from __future__ import annotations

from typing import Any

import pytest

from core.ids import to_global_id
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_import import run_import

PERSON = "id number name email pushUrl phone state version teams { name }"
TEAM = "id number name state version services { name } members { name } olas { name }"
SLA_FIELDS = "id number name state version services { name } customers { name } olas { name }"
OLA_FIELDS = "id number name state version slas { name } team { name }"
ENTRY = "id number name offeringVersion status version service { name }"
CUSTOMER = "id number name email state version slas { name }"

FIELDS = {
    "Customer": CUSTOMER,
    "Team": TEAM,
    "Person": PERSON,
    "CatalogEntry": ENTRY,
    "SLA": SLA_FIELDS,
    "OLA": OLA_FIELDS,
}


def _lower_first(label: str) -> str:
    return label if label.isupper() else label[0].lower() + label[1:]


def _payload_key(label: str) -> str:
    return {"SLA": "sla", "OLA": "ola"}.get(label, _lower_first(label))


def write(api: Api, verb: str, label: str, given: dict[str, Any]) -> dict[str, Any]:
    """create/update/transition<Label>: the payload, {userErrors, <record>}."""
    key = _payload_key(label)
    query = (
        f"mutation($input: {verb.capitalize()}{label}Input!) {{ {verb}{label}(input: $input) "
        f"{{ userErrors {{ code field message }} {key} {{ {FIELDS[label]} }} }} }}"
    )
    payload: dict[str, Any] = api.ok(query, {"input": given})[f"{verb}{label}"]
    return payload


def made(api: Api, label: str, **given: Any) -> dict[str, Any]:
    """A record created, which must not be refused."""
    payload = write(api, "create", label, given)
    assert payload["userErrors"] == [], payload
    record: dict[str, Any] = payload[_payload_key(label)]
    return record


def refused(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    assert all(v is None for k, v in payload.items() if k != "userErrors"), payload
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def step(api: Api, label: str, record: dict[str, Any], state: str) -> dict[str, Any]:
    return write(api, "transition", label, {"id": record["id"], "state": state})


def count(store: Store, label: str) -> int:
    return int(
        store.read(lambda tx: tx.run(f"MATCH (n:{label}) RETURN count(n) AS c").single()["c"])
    )


def services(api: Api, *names: str) -> dict[str, str]:
    """Service CIs by name, imported through the API: their CI global ids."""
    items = [{"key": n, "ciClass": "Service", "name": n} for n in names]
    found = run_import(api, "test", items)["items"]
    return {n: i["ciId"] for n, i in zip(names, found, strict=True)}


@pytest.fixture
def manager(api: Api, store: Store) -> Api:
    return api.as_role(store, "manager")


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows]


# -- parties -------------------------------------------------------------------------------------


def test_teams_and_people_are_linked_by_ids_replaced_on_update_and_retired(
    api: Api, manager: Api, store: Store
) -> None:
    svc = services(api, "Online Shop", "Payments", "Search")
    web = made(manager, "Team", name="Web Operations", services=[svc["Online Shop"]])
    desk = made(manager, "Team", name="Service Desk", email="desk@example.com")
    assert web["number"].startswith("TEAM") and web["state"] == "ACTIVE"
    assert names(web["services"]) == ["Online Shop"]

    ana = made(
        manager,
        "Person",
        name="Ana Lima",
        email=" Ana.Lima@Example.com ",
        pushUrl="https://push.example.com/ana",
        teams=[web["id"], desk["id"]],
    )
    assert ana["number"].startswith("PER")
    assert (ana["email"], names(ana["teams"])) == (
        "Ana.Lima@example.com",  # the domain as e-mail treats it, lower case
        ["Service Desk", "Web Operations"],
    )
    # A given link set replaces the old one; what is not given stays.
    moved = write(manager, "update", "Person", {"id": ana["id"], "teams": [desk["id"]]})
    assert moved["userErrors"] == []
    assert names(moved["person"]["teams"]) == ["Service Desk"]
    assert moved["person"]["pushUrl"] == "https://push.example.com/ana"
    team = write(
        manager,
        "update",
        "Team",
        {
            "id": web["id"],
            "version": web["version"],
            "services": [svc["Online Shop"], svc["Payments"]],
        },
    )["team"]
    assert names(team["services"]) == ["Online Shop", "Payments"]
    desk_now = api.ok(f"query($id: ID!) {{ team(id: $id) {{ {TEAM} }} }}", {"id": desk["id"]})
    assert names(desk_now["team"]["members"]) == ["Ana Lima"]

    # Retired: kept and readable, but it gains no new members or services.
    retired = step(manager, "Team", web, "RETIRED")
    assert retired["userErrors"] == [] and retired["team"]["state"] == "RETIRED"
    assert names(retired["team"]["services"]) == ["Online Shop", "Payments"]
    again = write(manager, "update", "Person", {"id": ana["id"], "teams": [web["id"], desk["id"]]})
    assert refused(again) == [("RETIRED", ["input", "teams"])]
    more = write(
        manager, "update", "Team", {"id": web["id"], "services": [svc["Payments"], svc["Search"]]}
    )
    assert refused(more) == [("RETIRED", ["input", "services"])]
    # Letting go is fine: a retired team may shed what it supported.
    shed = write(manager, "update", "Team", {"id": web["id"], "services": [svc["Payments"]]})
    assert names(shed["team"]["services"]) == ["Payments"]
    late = write(
        manager, "create", "Person", {"name": "Ben", "email": "b@example.com", "teams": [web["id"]]}
    )
    assert refused(late) == [("RETIRED", ["input", "teams"])]
    assert count(store, "Person") == 1
    listed = api.ok("{ teams(filter: {state: ACTIVE}) { totalCount edges { node { name } } } }")
    assert [e["node"]["name"] for e in listed["teams"]["edges"]] == ["Service Desk"]
    person = api.ok(f'{{ person(number: "{ana["number"]}") {{ name teams {{ name }} }} }}')
    assert names(person["person"]["teams"]) == ["Service Desk"]


@pytest.mark.parametrize(
    ("label", "given", "expected"),
    [
        ("Person", {"name": "x", "email": "not-an-address"}, ("NOT_AN_EMAIL", "email")),
        ("Person", {"name": "x", "email": "a@b"}, ("NOT_AN_EMAIL", "email")),
        (
            "Person",
            {"name": "x", "email": "x@example.com", "pushUrl": "http://push.example.com/x"},
            ("NOT_HTTPS", "pushUrl"),
        ),
        (
            "Person",
            {"name": "x", "email": "x@example.com", "pushUrl": "push.example.com/x"},
            ("NOT_A_URL", "pushUrl"),
        ),
        ("Person", {"name": " ", "email": "x@example.com"}, ("REQUIRED", "name")),
        ("Team", {"name": "x", "email": "team at example"}, ("NOT_AN_EMAIL", "email")),
        ("Customer", {"name": "x", "email": "@example.com"}, ("NOT_AN_EMAIL", "email")),
        (
            "SLA",
            {"name": "x", "customers": [to_global_id("Customer", "gone")]},
            ("NOT_FOUND", "customers"),
        ),
        (
            "OLA",
            {"name": "x", "team": to_global_id("Customer", "c")},
            ("WRONG_TYPE", "team"),
        ),
    ],
)
def test_refusals_name_the_field_and_write_nothing(
    manager: Api, store: Store, label: str, given: dict[str, Any], expected: tuple[str, str]
) -> None:
    code, field = expected
    assert refused(write(manager, "create", label, given)) == [(code, ["input", field])]
    assert count(store, label) == 0


def test_a_local_receiver_may_take_plain_http(manager: Api) -> None:
    person = made(
        manager, "Person", name="Test", email="t@example.com", pushUrl="http://127.0.0.1:8123/hook"
    )
    assert person["pushUrl"] == "http://127.0.0.1:8123/hook"


def test_service_levels_are_the_managers_business(api: Api, store: Store) -> None:
    for label, given in [
        ("Customer", {"name": "Retail"}),
        ("Team", {"name": "Web Operations"}),
        ("SLA", {"name": "Gold"}),
    ]:
        key = _payload_key(label)
        answer = api.post(
            f"mutation($input: Create{label}Input!) {{ create{label}(input: $input) "
            f"{{ {key} {{ id }} }} }}",
            {"input": given},
        )
        assert answer.status_code == 403, label
        assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert count(store, label) == 0
    # Reading is everyone's.
    viewer = api.as_role(store, "viewer")
    assert viewer.ok("{ slas { totalCount } customers { totalCount } }") == {
        "slas": {"totalCount": 0},
        "customers": {"totalCount": 0},
    }
