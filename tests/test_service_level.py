"""Service Level Management's records over the GraphQL API against the real Neo4j: parties,
catalogue entries and agreements created, linked, changed and retired; every refusal names the
field and writes nothing; the Service Catalog with its filters and pages."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_named_type, is_object_type

from core.access import SYSTEM
from core.ids import record_id, to_global_id
from core.service_level import CATALOG_ENTRY
from core.service_level import CUSTOMER as CUSTOMER_TYPE
from core.service_level import OLA as OLA_TYPE
from core.service_level import PERSON as PERSON_TYPE
from core.service_level import SLA as SLA_TYPE
from core.service_level import TEAM as TEAM_TYPE
from domain import records
from domain.demo import load_demo_estate
from domain.service_level.agreements import OLA_RULES, SLA_RULES
from domain.service_level.catalogue import CATALOGUE_RULES
from domain.service_level.parties import CUSTOMER_RULES, PERSON_RULES, TEAM_RULES
from graphdb.write_path import Store
from schema.root import build_schema
from tests.conftest import Api, RunningServer
from tests.test_import import run_import
from tests.test_n_plus_one import selection

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


# -- the catalogue and the agreements ------------------------------------------------------------


def test_a_service_has_one_catalogue_entry_that_is_not_retired(
    api: Api, manager: Api, store: Store
) -> None:
    svc = services(api, "Online Shop", "Payments")
    shop = made(
        manager,
        "CatalogEntry",
        name="Online Shop",
        offeringVersion="2026.11",
        offering="Browse and buy",
        audience="Retail customers",
        service=svc["Online Shop"],
    )
    assert (shop["status"], shop["offeringVersion"], shop["version"]) == ("PIPELINE", "2026.11", 1)
    assert shop["service"]["name"] == "Online Shop"
    second = write(
        manager, "create", "CatalogEntry", {"name": "Shop 2", "service": svc["Online Shop"]}
    )
    assert refused(second) == [("DUPLICATE", ["input", "service"])]
    assert shop["number"] in second["userErrors"][0]["message"]
    missing = manager.post(
        'mutation { createCatalogEntry(input: {name: "x"}) { catalogEntry { id } } }'
    ).json()
    assert "service" in missing["errors"][0]["message"]  # required: non-null in GraphQL
    assert count(store, "CatalogEntry") == 1

    live = step(manager, "CatalogEntry", shop, "LIVE")["catalogEntry"]
    assert live["status"] == "LIVE"
    pay = made(manager, "CatalogEntry", name="Payments", service=svc["Payments"])
    moved = write(
        manager, "update", "CatalogEntry", {"id": pay["id"], "service": svc["Online Shop"]}
    )
    assert refused(moved) == [("DUPLICATE", ["input", "service"])]
    # Retiring frees the Service for a new entry; the retired one stays readable.
    assert step(manager, "CatalogEntry", live, "RETIRED")["catalogEntry"]["status"] == "RETIRED"
    again = step(manager, "CatalogEntry", live, "LIVE")
    assert refused(again) == [("INVALID_TRANSITION", ["input", "state"])]
    successor = made(manager, "CatalogEntry", name="Online Shop 2027", service=svc["Online Shop"])
    assert successor["service"]["name"] == "Online Shop"
    listed = api.ok("{ catalogEntries { totalCount edges { node { name status } } } }")
    assert [
        (e["node"]["name"], e["node"]["status"]) for e in listed["catalogEntries"]["edges"]
    ] == [
        ("Online Shop", "RETIRED"),
        ("Online Shop 2027", "PIPELINE"),
        ("Payments", "PIPELINE"),
    ]


def test_two_entries_written_at_once_for_one_service_cannot_both_pass(
    api: Api, manager: Api, store: Store
) -> None:
    svc = services(api, *(f"service-{i}" for i in range(4)))
    for service in svc.values():
        barrier = threading.Barrier(2)

        def create(name: str, service: str = service, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait()
            return write(manager, "create", "CatalogEntry", {"name": name, "service": service})

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(create, ["first", "second"]))
        codes = sorted(e["code"] for a in answers for e in a["userErrors"])
        assert codes == ["DUPLICATE"], answers
    assert count(store, "CatalogEntry") == len(svc)


def test_agreements_link_services_customers_slas_and_teams(
    api: Api, manager: Api, store: Store
) -> None:
    svc = services(api, "Online Shop", "Payments")
    retail = made(manager, "Customer", name="Retail Division", email="retail@example.com")
    office = made(manager, "Customer", name="Head Office")
    infra = made(manager, "Team", name="Infrastructure")
    gold = made(
        manager,
        "SLA",
        name="Online Shop Gold",
        services=[svc["Online Shop"], svc["Payments"]],
        customers=[retail["id"]],
    )
    assert (gold["number"][:3], gold["state"]) == ("SLA", "DRAFT")
    assert names(gold["services"]) == ["Online Shop", "Payments"]
    ola = made(manager, "OLA", name="Infrastructure for shop", slas=[gold["id"]], team=infra["id"])
    assert (names(ola["slas"]), ola["team"]["name"]) == (["Online Shop Gold"], "Infrastructure")
    changed = write(
        manager,
        "update",
        "SLA",
        {
            "id": gold["id"],
            "services": [svc["Online Shop"]],
            "customers": [retail["id"], office["id"]],
        },
    )["sla"]
    assert names(changed["services"]) == ["Online Shop"]
    assert names(changed["customers"]) == ["Head Office", "Retail Division"]
    assert names(changed["olas"]) == ["Infrastructure for shop"]
    team = api.ok("query($id: ID!) { team(id: $id) { olas { name } } }", {"id": infra["id"]})
    assert names(team["team"]["olas"]) == ["Infrastructure for shop"]
    cleared = write(manager, "update", "OLA", {"id": ola["id"], "team": None, "slas": []})["ola"]
    # `slas: []` clears the set; a null `team` is "not given" and leaves it as it is.
    assert (cleared["slas"], cleared["team"]) == ([], {"name": "Infrastructure"})

    # A customer with an active SLA is not retired; once the SLA is retired, it may be.
    assert step(manager, "SLA", gold, "ACTIVE")["sla"]["state"] == "ACTIVE"
    kept = step(manager, "Customer", retail, "RETIRED")
    assert refused(kept) == [("HAS_ACTIVE_SLAS", ["input", "state"])]
    assert gold["number"] in kept["userErrors"][0]["message"]
    customer = api.ok(
        "query($id: ID!) { customer(id: $id) { state slas { name state } } }", {"id": retail["id"]}
    )["customer"]
    assert customer == {
        "state": "ACTIVE",
        "slas": [{"name": "Online Shop Gold", "state": "ACTIVE"}],
    }
    assert step(manager, "SLA", gold, "RETIRED")["sla"]["state"] == "RETIRED"
    assert step(manager, "Customer", retail, "RETIRED")["customer"]["state"] == "RETIRED"
    # Nothing new is agreed with a retired customer.
    late = write(manager, "create", "SLA", {"name": "Late", "customers": [retail["id"]]})
    assert refused(late) == [("RETIRED", ["input", "customers"])]
    # The retire step is the manager's too.
    denied = api.post(
        "mutation($input: TransitionOLAInput!) { transitionOLA(input: $input) { ola { id } } }",
        {"input": {"id": ola["id"], "state": "RETIRED"}},
    )
    assert denied.status_code == 403
    assert count(store, "SLA") == 1


CATALOG = """query($filter: ServiceCatalogFilter, $first: Int, $after: String, $last: Int,
                   $before: String) {
  serviceCatalog(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node {
      entry { name status }
      service { name }
      agreements { sla { name state } customers { name } }
      customers { name }
    } }
  } }"""


def catalog(api: Api, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(CATALOG, variables)["serviceCatalog"]
    return found


def entry_names(page: dict[str, Any]) -> list[str]:
    return [e["node"]["entry"]["name"] for e in page["edges"]]


def test_the_service_catalog_lists_entries_with_active_slas_and_customers(
    api: Api, manager: Api
) -> None:
    svc = services(api, "Online Shop", "Payments", "Product Search", "Mail")
    retail = made(manager, "Customer", name="Retail Division")
    office = made(manager, "Customer", name="Head Office")
    entries = {name: made(manager, "CatalogEntry", name=name, service=svc[name]) for name in svc}
    for name in ("Online Shop", "Payments", "Mail"):
        step(manager, "CatalogEntry", entries[name], "LIVE")
    gold = made(
        manager,
        "SLA",
        name="Shop Gold",
        services=[svc["Online Shop"], svc["Payments"]],
        customers=[retail["id"]],
    )
    step(manager, "SLA", gold, "ACTIVE")
    mail = made(
        manager, "SLA", name="Mail Silver", services=[svc["Mail"]], customers=[office["id"]]
    )
    step(manager, "SLA", mail, "ACTIVE")
    both = made(
        manager,
        "SLA",
        name="Shop for staff",
        services=[svc["Online Shop"]],
        customers=[office["id"], retail["id"]],
    )
    step(manager, "SLA", both, "ACTIVE")
    # A draft SLA governs nothing and is not in the catalogue.
    made(
        manager,
        "SLA",
        name="Search draft",
        services=[svc["Product Search"]],
        customers=[office["id"]],
    )

    whole = catalog(api)
    assert whole["totalCount"] == 4
    assert entry_names(whole) == ["Mail", "Online Shop", "Payments", "Product Search"]
    shop = whole["edges"][1]["node"]
    assert shop["service"] == {"name": "Online Shop"}
    assert shop["agreements"] == [
        {
            "sla": {"name": "Shop Gold", "state": "ACTIVE"},
            "customers": [{"name": "Retail Division"}],
        },
        {
            "sla": {"name": "Shop for staff", "state": "ACTIVE"},
            "customers": [{"name": "Head Office"}, {"name": "Retail Division"}],
        },
    ]
    assert names(shop["customers"]) == ["Head Office", "Retail Division"]
    assert whole["edges"][3]["node"]["agreements"] == []

    live = catalog(api, filter={"status": ["LIVE"]})
    assert (live["totalCount"], entry_names(live)) == (3, ["Mail", "Online Shop", "Payments"])
    for_office = catalog(api, filter={"customer": office["id"]})
    assert entry_names(for_office) == ["Mail", "Online Shop"]
    pipeline_for_retail = catalog(api, filter={"customer": retail["id"], "status": "PIPELINE"})
    assert pipeline_for_retail["edges"] == [] and pipeline_for_retail["totalCount"] == 0

    # Pages follow the cursors both ways and meet the whole list.
    first = catalog(api, first=3)
    assert entry_names(first) == ["Mail", "Online Shop", "Payments"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = catalog(api, first=3, after=first["pageInfo"]["endCursor"])
    assert entry_names(rest) == ["Product Search"] and rest["pageInfo"]["hasNextPage"] is False
    back = catalog(api, last=2, before=rest["edges"][0]["cursor"])
    assert entry_names(back) == ["Online Shop", "Payments"]
    assert back["pageInfo"]["hasPreviousPage"] is True

    not_customer = api.post(CATALOG, {"filter": {"customer": gold["id"]}}).json()
    error = not_customer["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "filter.customer",
    )


# -- one round trip per field, however many records -----------------------------------------------


def _estate(api: Api, store: Store, size: int) -> None:
    """`size` of each record type, each linked to its neighbours, written through the rules."""
    svc = services(api, *(f"service-{i:03d}" for i in range(size)))
    for i, service in enumerate(svc.values()):
        stored = record_id(service, "CI")
        customer = CUSTOMER_RULES.create(store, SYSTEM, CUSTOMER_TYPE, {"name": f"cus-{i:03d}"})
        team = TEAM_RULES.create(
            store, SYSTEM, TEAM_TYPE, {"name": f"team-{i:03d}"}, {"services": [stored]}
        )
        PERSON_RULES.create(
            store,
            SYSTEM,
            PERSON_TYPE,
            {"name": f"per-{i:03d}", "email": f"p{i}@example.com"},
            {"teams": [team["id"]]},
        )
        CATALOGUE_RULES.create(
            store, SYSTEM, CATALOG_ENTRY, {"name": f"entry-{i:03d}"}, {"service": [stored]}
        )
        sla = SLA_RULES.create(
            store,
            SYSTEM,
            SLA_TYPE,
            {"name": f"sla-{i:03d}"},
            {"services": [stored], "customers": [customer["id"]]},
        )
        records.transition(store, SYSTEM, SLA_TYPE, sla["id"], "active", version=None, changes={})
        OLA_RULES.create(
            store,
            SYSTEM,
            OLA_TYPE,
            {"name": f"ola-{i:03d}"},
            {"slas": [sla["id"]], "team": [team["id"]]},
        )


def _lists() -> list[tuple[str, str, str]]:
    """(list field, node field, its selection) for every field of a listed node that reads
    other records."""
    schema = build_schema(max_depth=20, max_aliases=10, max_tokens=100_000)._schema
    query = schema.query_type
    assert query is not None
    out = []
    for listing in ("customers", "teams", "people", "catalogEntries", "slas", "olas"):
        connection = get_named_type(query.fields[listing].type)
        edge = get_named_type(connection.fields["edges"].type)  # type: ignore[union-attr]
        node = get_named_type(edge.fields["node"].type)  # type: ignore[union-attr]
        assert isinstance(node, GraphQLObjectType)
        for name, field in node.fields.items():
            named = get_named_type(field.type)
            if is_object_type(named):
                out.append((listing, name, selection(named, 1)))  # type: ignore[arg-type]
    return out


def test_the_walk_finds_the_link_fields() -> None:
    found = {(listing, name) for listing, name, _ in _lists()}
    assert {
        ("teams", "services"),
        ("teams", "members"),
        ("people", "teams"),
        ("slas", "customers"),
        ("slas", "olas"),
        ("olas", "team"),
        ("catalogEntries", "service"),
        ("customers", "slas"),
    } <= found


def test_link_fields_and_the_catalogue_cost_the_same_for_5_and_60_records(
    api: Api, store: Store, api_server: RunningServer
) -> None:
    _estate(api, store, 60)
    graph = api_server.app.state.store.graph

    def cost(query: str, n: int, key: str) -> int:
        data, reads = api.ok_counting_reads(graph, query, {"n": n})
        assert len(data[key]["edges"]) == n
        return reads

    checks = [
        (
            listing,
            f"query($n: Int!) {{ {listing}(first: $n) {{ edges {{ node {{ id {name} {{ {sub} }} }} }} }} }}",
        )
        for listing, name, sub in _lists()
    ]
    checks.append(
        (
            "serviceCatalog",
            CATALOG.replace("$first: Int", "$n: Int").replace("first: $first", "first: $n"),
        )
    )
    for key, query in checks:
        costs = [cost(query, n, key) for n in (5, 60)]
        assert costs[0] == costs[1], f"{query}: {costs[0]} reads for 5 but {costs[1]} for 60"
    # The catalogue is one query per page (two with its total).
    assert cost(checks[-1][1], 60, "serviceCatalog") == 2


# -- the demo estate ---------------------------------------------------------------------------


def test_the_demo_estate_lists_its_catalogue_with_slas_and_customers(
    api: Api, store: Store
) -> None:
    assert load_demo_estate(store) is True
    assert load_demo_estate(store) is False
    assert count(store, "SLA") == 2 and count(store, "Person") == 8
    page = catalog(api)
    shown = {
        e["node"]["entry"]["name"]: (
            e["node"]["entry"]["status"],
            e["node"]["service"]["name"],
            [a["sla"]["name"] for a in e["node"]["agreements"]],
            names(e["node"]["customers"]),
        )
        for e in page["edges"]
    }
    assert shown == {
        "Online Shop": ("LIVE", "Online Shop", ["Online Shop Gold"], ["Retail Division"]),
        "Payments": ("LIVE", "Payments", ["Online Shop Gold"], ["Retail Division"]),
        "Product Search": (
            "PIPELINE",
            "Product Search",
            ["Product Search Silver"],
            ["Head Office", "Retail Division"],
        ),
    }
    web = api.ok(
        '{ teams(filter: {search: "web operations"}) { edges { node { '
        "email services { name } members { name email pushUrl teams { name } } "
        "olas { name state slas { name } } } } } }"
    )["teams"]["edges"][0]["node"]
    assert web["email"] == "web-ops@example.com"
    assert names(web["services"]) == ["Online Shop", "Product Search"]
    assert web["members"][0] == {
        "name": "Ana Lima",
        "email": "ana.lima@example.com",
        "pushUrl": "https://push.example.com/ana.lima",
        "teams": [{"name": "Web Operations"}],
    }
    assert web["olas"] == [
        {
            "name": "Web Operations for the shop",
            "state": "ACTIVE",
            "slas": [{"name": "Online Shop Gold"}, {"name": "Product Search Silver"}],
        }
    ]
    gold = api.ok(
        '{ slas(filter: {search: "gold"}) { edges { node { state olas { team { name } } } } } }'
    )
    node = gold["slas"]["edges"][0]["node"]
    assert node["state"] == "ACTIVE"
    assert sorted(o["team"]["name"] for o in node["olas"]) == [
        "Database Team",
        "Infrastructure",
        "Payments Engineering",
        "Web Operations",
    ]


def test_a_service_shows_its_catalogue_entry(api: Api, manager: Api) -> None:
    svc = services(api, "Online Shop")
    old = made(manager, "CatalogEntry", name="Shop 2026", service=svc["Online Shop"])
    step(manager, "CatalogEntry", old, "RETIRED")
    new = made(manager, "CatalogEntry", name="Shop 2027", service=svc["Online Shop"])
    app = run_import(api, "test", [{"key": "a", "ciClass": "Application", "name": "shop-app"}])
    query = "query($id: ID!) { ci(id: $id) { name catalogEntry { id name status } } }"
    shown = api.ok(query, {"id": svc["Online Shop"]})["ci"]["catalogEntry"]
    assert shown == {"id": new["id"], "name": "Shop 2027", "status": "PIPELINE"}
    assert api.ok(query, {"id": app["items"][0]["ciId"]})["ci"]["catalogEntry"] is None


def test_an_agreement_naming_a_retired_party_does_not_come_into_force(
    api: Api, manager: Api, store: Store
) -> None:
    svc = services(api, "Mail")
    office = made(manager, "Customer", name="Head Office")
    draft = made(
        manager, "SLA", name="Mail Silver", services=[svc["Mail"]], customers=[office["id"]]
    )
    # A draft governs nothing, so its customer may be retired ...
    assert step(manager, "Customer", office, "RETIRED")["customer"]["state"] == "RETIRED"
    # ... and then the draft cannot be activated until it names a customer in use.
    blocked = step(manager, "SLA", draft, "ACTIVE")
    assert refused(blocked) == [("NAMES_RETIRED", ["input", "state"])]
    assert "Head Office" in blocked["userErrors"][0]["message"]
    retail = made(manager, "Customer", name="Retail Division")
    write(manager, "update", "SLA", {"id": draft["id"], "customers": [retail["id"]]})
    assert step(manager, "SLA", draft, "ACTIVE")["sla"]["state"] == "ACTIVE"
    team = made(manager, "Team", name="Mail Team")
    ola = made(manager, "OLA", name="Mail Team for mail", slas=[draft["id"]], team=team["id"])
    step(manager, "Team", team, "RETIRED")
    assert refused(step(manager, "OLA", ola, "ACTIVE")) == [("NAMES_RETIRED", ["input", "state"])]
