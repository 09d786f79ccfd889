"""A record type served in GraphQL from its declaration alone: the kernel's test ticket gets its
list (filters, full text, order, cursors both ways, totals), `node(id:)`, the read check and a
transition mutation, over HTTP against the real Neo4j, from the thin schema module below."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import strawberry

from core.access import SYSTEM
from core.ids import record_id, to_global_id
from core.records import RecordType, check_properties, declare
from domain.tokens import issue_token
from graphdb.migrations import migrate
from graphdb.write_path import Store
from itsm.app import create_app
from itsm.config import Settings
from resolvers.access import reads_need_permission
from resolvers.nodes import NodeQuery
from resolvers.records import (
    connection_field,
    create_field,
    record_field,
    transition_field,
    update_field,
)
from schema.common import Node
from schema.records import described, state_enum, values_enum
from schema.root import build_schema
from tests.conftest import Api, RunningServer
from tests.kernel_ticket import TICKET, Urgency
from tests.test_contract import undescribed
from tests.test_import import run_import

# -- the thin schema module a process would write ------------------------------------------------

UrgencyLevel = values_enum(Urgency)
TicketState = state_enum(TICKET)


@strawberry.type(name="KernelTicket", description=TICKET.description)
class KernelTicketNode(Node):
    number: str = described(TICKET, "number")
    title: str = described(TICKET, "title")
    body: str | None = described(TICKET, "body")
    urgency: UrgencyLevel = described(TICKET, "urgency")  # type: ignore[valid-type]
    rank: int | None = described(TICKET, "rank")
    resolution: str | None = described(TICKET, "resolution")
    state: TicketState = described(TICKET, "state")  # type: ignore[valid-type]
    version: int = described(TICKET, "version")


@reads_need_permission
@strawberry.type(description="What the tests' ticket schema reads.")
class TicketQuery(NodeQuery):
    kernel_ticket = record_field(TICKET, KernelTicketNode)
    kernel_tickets = connection_field(
        TICKET, KernelTicketNode, description="Kernel tickets, filtered and sorted."
    )


@strawberry.type(description="What the tests' ticket schema changes.")
class TicketMutation:
    transition_kernel_ticket = transition_field(TICKET, KernelTicketNode)
    create_kernel_ticket = create_field(TICKET, KernelTicketNode)
    update_kernel_ticket = update_field(TICKET, KernelTicketNode)


def ticket_schema() -> strawberry.Schema:
    return build_schema(
        max_depth=12, max_aliases=30, max_tokens=20000, query=TicketQuery, mutation=TicketMutation
    )


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ticket_server(settings: Settings, session_store: Store) -> Iterator[RunningServer]:
    migrate(session_store.graph)  # the indexes of the type declared by the tests
    with RunningServer(create_app(settings, schema=ticket_schema())) as server:
        yield server


@pytest.fixture
def tickets_api(ticket_server: RunningServer, store: Store) -> Api:
    return Api(ticket_server.url, issue_token(store, SYSTEM, "agent", "test agent").secret)


WORDS = ["printer jam", "vpn down", "printer toner low", "disk full", "mail slow", "vpn flaps"]
RANKS = [3, 1, 2, 3, None, 1, 2, 3, 1, 3, 2, 1]


def make_tickets(store: Store) -> list[dict[str, Any]]:
    made = []
    for i, rank in enumerate(RANKS):
        values = {
            "title": WORDS[i % len(WORDS)],
            "body": f"ticket {i}",
            "urgency": "high" if i % 3 == 0 else "low",
            "rank": rank,
        }
        props = check_properties(TICKET, values, creating=True)
        made.append(store.write(SYSTEM, lambda uow, p=props: uow.create("KernelTicket", p)))
    # Ties in the creation time must page without repeats or gaps: make some certain.
    store.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (n:KernelTicket) WHERE n.rank = 3 SET n.createdAt = $at",
            at=uow.at - timedelta(days=1),
        ).consume(),
    )
    return made


LIST = """query($filter: KernelTicketFilter, $order: KernelTicketOrder, $first: Int, $after: String,
               $last: Int, $before: String) {
  kernelTickets(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last,
                before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id number title urgency rank state } }
  } }"""


def listed(api: Api, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(LIST, variables)["kernelTickets"]
    return found


def gid(ticket: dict[str, Any]) -> str:
    return to_global_id("KernelTicket", ticket["id"])


def walk(api: Api, size: int, backward: bool, **variables: Any) -> list[str]:
    """Every ticket, a page at a time, following the cursors forwards or backwards."""
    seen: list[str] = []
    cursor = None
    while True:
        if backward:
            page = listed(api, last=size, before=cursor, **variables)
        else:
            page = listed(api, first=size, after=cursor, **variables)
        ids = [e["node"]["id"] for e in page["edges"]]
        seen = ids + seen if backward else seen + ids
        info = page["pageInfo"]
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        if not more:
            assert len(ids) <= size
            return seen
        assert len(ids) == size
        cursor = info["startCursor"] if backward else info["endCursor"]


# -- the tests ------------------------------------------------------------------------------------


def test_generated_types_are_described_as_declared() -> None:
    schema = ticket_schema()
    assert undescribed(schema) == []
    sdl = schema.as_str()
    assert "urgency: [Urgency!]" in sdl and "rank: [Int!]" in sdl and "search: String" in sdl
    urgency = schema._schema.type_map["Urgency"]
    assert {n: v.description for n, v in urgency.values.items()} == {  # type: ignore[attr-defined]
        "LOW": "When there is time.",
        "HIGH": "Before anything else.",
    }
    order = schema._schema.type_map["KernelTicketOrderField"]
    assert set(order.values) == {"NUMBER", "CREATED_AT", "UPDATED_AT", "RANK"}  # type: ignore[attr-defined]
    # What comes only with a step is in the transition's changes, not in create or update.
    fields = {
        name: set(schema._schema.type_map[name].fields)  # type: ignore[attr-defined]
        for name in ("CreateKernelTicketInput", "UpdateKernelTicketInput", "KernelTicketChanges")
    }
    assert "resolution" in fields["KernelTicketChanges"]
    assert "resolution" not in fields["CreateKernelTicketInput"] | fields["UpdateKernelTicketInput"]
    assert {"title", "urgency", "cis", "service"} <= fields["CreateKernelTicketInput"]


NOTE = RecordType("KernelNote", "KN", "Tests", "A record with nothing to filter or search on.")
declare(NOTE)


@strawberry.type(name="KernelNote", description=NOTE.description)
class KernelNoteNode(Node):
    number: str = described(NOTE, "number")


def test_a_type_with_nothing_to_filter_has_no_filter_argument() -> None:
    @strawberry.type(description="Notes only.")
    class NoteQuery:
        kernel_notes = connection_field(NOTE, KernelNoteNode, description="Notes.")

    schema = build_schema(
        max_depth=12, max_aliases=30, max_tokens=20000, query=NoteQuery, mutation=None
    )
    assert undescribed(schema) == []
    field = schema._schema.query_type.fields["kernelNotes"]  # type: ignore[union-attr]
    assert set(field.args) == {"orderBy", "first", "after", "last", "before"}


def test_filters_by_enum_value_list_and_words(tickets_api: Api, store: Store) -> None:
    made = make_tickets(store)
    high = listed(tickets_api, filter={"urgency": "HIGH"}, first=50)
    expected_high = {gid(t) for t in made if t["urgency"] == "high"}
    assert {e["node"]["id"] for e in high["edges"]} == expected_high
    assert high["totalCount"] == len(expected_high) == 4
    assert {e["node"]["urgency"] for e in high["edges"]} == {"HIGH"}

    either = listed(tickets_api, filter={"urgency": ["LOW", "HIGH"]})
    assert either["totalCount"] == len(made)
    ranks = listed(tickets_api, filter={"rank": [1, 2], "urgency": "LOW"}, first=2)
    expected = [t for t in made if t.get("rank") in (1, 2) and t["urgency"] == "low"]
    assert ranks["totalCount"] == len(expected) and len(ranks["edges"]) == 2
    assert ranks["pageInfo"]["hasNextPage"] is True

    printers = listed(tickets_api, filter={"search": "print"})
    expected_printers = {gid(t) for t in made if "printer" in t["title"]}
    assert {e["node"]["id"] for e in printers["edges"]} == expected_printers
    assert printers["totalCount"] == len(expected_printers) == 4
    both = listed(tickets_api, filter={"search": "printer toner", "urgency": ["HIGH"]})
    assert [e["node"]["title"] for e in both["edges"]] == []  # ticket 2 and 8 are low
    low_toner = listed(tickets_api, filter={"search": "TONER", "urgency": ["LOW"]})
    assert {e["node"]["id"] for e in low_toner["edges"]} == {gid(made[2]), gid(made[8])}


def test_bad_filters_are_refused_by_name(tickets_api: Api, store: Store) -> None:
    make_tickets(store)
    unknown = tickets_api.post("{ kernelTickets(filter: {urgency: [LOW, URGENT]}) { totalCount } }")
    body = unknown.json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
    assert "URGENT" in body["errors"][0]["message"] and body.get("data") is None
    # Sent as a variable, the value is refused before anything runs, naming the argument.
    variable = tickets_api.post(LIST, {"filter": {"urgency": "urgent"}}).json()
    ext = variable["errors"][0]["extensions"]
    assert (ext["code"], ext["field"]) == ("BAD_USER_INPUT", "filter"), variable

    for given, reason in (({"search": "  -- "}, "empty"), ({"urgency": []}, "empty")):
        refused = tickets_api.post(LIST, {"filter": given}).json()
        ext = refused["errors"][0]["extensions"]
        assert (ext["code"], ext["reason"]) == ("BAD_USER_INPUT", reason), refused
        assert ext["field"] == f"filter.{next(iter(given))}"
    bad_cursor = tickets_api.post(LIST, {"after": "bm90IG91cnM"}).json()
    assert bad_cursor["errors"][0]["extensions"]["reason"] == "bad_cursor"


def test_order_and_cursors_both_ways(tickets_api: Api, store: Store) -> None:
    made = make_tickets(store)
    ranked = [t for t in made if t.get("rank") is not None]  # a sort key must exist to be listed
    by_rank = [gid(t) for t in sorted(ranked, key=lambda t: (t["rank"], t["id"]))]
    by_number = [gid(t) for t in sorted(made, key=lambda t: t["number"])]
    up = {"field": "RANK", "direction": "ASC"}
    down = {"field": "RANK", "direction": "DESC"}
    number = {"field": "NUMBER", "direction": "ASC"}
    for size in (1, 4, 5):
        assert walk(tickets_api, size, False, order=up) == by_rank
        assert walk(tickets_api, size, True, order=up) == by_rank
        assert walk(tickets_api, size, False, order=down) == by_rank[::-1]
        assert walk(tickets_api, size, True, order=down) == by_rank[::-1]
        assert walk(tickets_api, size, False, order=number) == by_number
        forwards = walk(tickets_api, size, False)  # the default: by creation time
        assert sorted(forwards) == sorted(by_number) and len(set(forwards)) == len(made)
        assert walk(tickets_api, size, True) == forwards
    ranks = [e["node"]["rank"] for e in listed(tickets_api, order=down)["edges"]]
    assert ranks == sorted((r for r in RANKS if r is not None), reverse=True)

    # A window between two cursors, and the far end of the list taken with `last`.
    page = listed(tickets_api, order=up, first=3)
    end = listed(tickets_api, order=up, last=2)
    assert [e["node"]["id"] for e in end["edges"]] == by_rank[-2:]
    assert end["pageInfo"]["hasPreviousPage"] and not end["pageInfo"]["hasNextPage"]
    window = listed(
        tickets_api, order=up, after=page["edges"][0]["cursor"], before=end["edges"][0]["cursor"]
    )
    assert [e["node"]["id"] for e in window["edges"]] == by_rank[1:-2]
    assert window["totalCount"] == len(ranked)
    # Cursors are the sort key and the id, not offsets.
    key = json.loads(base64.urlsafe_b64decode(page["edges"][0]["cursor"]))
    assert key == [1, min(t["id"] for t in made if t.get("rank") == 1)]


NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on KernelTicket { number title urgency state version } } }"""


def test_node_serves_tickets_in_one_round_trip_per_type(
    tickets_api: Api, store: Store, ticket_server: RunningServer
) -> None:
    made = make_tickets(store)
    first = made[0]
    found = tickets_api.ok(NODE, {"id": gid(first)})["node"]
    assert found == {
        "__typename": "KernelTicket",
        "id": gid(first),
        "number": first["number"],
        "title": first["title"],
        "urgency": "HIGH",
        "state": "NEW",
        "version": 1,
    }
    assert tickets_api.ok(NODE, {"id": to_global_id("KernelTicket", "gone")})["node"] is None
    one = "query($id: ID, $number: String) { kernelTicket(id: $id, number: $number) { id } }"
    for asked in ({"id": gid(first)}, {"id": first["id"]}, {"number": first["number"].lower()}):
        assert tickets_api.ok(one, asked)["kernelTicket"] == {"id": gid(first)}, asked
    assert tickets_api.ok(one, {"number": "KT9999999"})["kernelTicket"] is None
    for asked in ({}, {"id": gid(first), "number": first["number"]}):
        ext = tickets_api.post(one, asked).json()["errors"][0]["extensions"]
        assert (ext["code"], ext["reason"]) == ("BAD_USER_INPUT", "id_or_number"), asked
    wrong = tickets_api.post(one, {"id": to_global_id("CI", first["id"])}).json()
    assert wrong["errors"][0]["extensions"]["reason"] == "wrong_type"
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on KernelTicket { title } } }"
    graph = ticket_server.app.state.store.graph
    costs = []
    for n in (2, 12):
        asked = [gid(t) for t in reversed(made[:n])]
        answer, reads = tickets_api.ok_counting_reads(graph, query, {"ids": asked})
        nodes = answer["nodes"]
        costs.append(reads)
        assert [x["id"] for x in nodes] == asked
    assert costs[0] == costs[1], f"{costs[0]} read transactions for 2 ids but {costs[1]} for 12"


def test_node_of_a_type_the_schema_does_not_serve_is_null(api: Api, store: Store) -> None:
    """The API's own schema has no KernelTicket: such an id is no record there."""
    [ticket] = make_tickets(store)[:1]
    assert api.ok("query($id: ID!) { node(id: $id) { id } }", {"id": gid(ticket)})["node"] is None


def test_reads_need_the_read_permission(tickets_api: Api, store: Store) -> None:
    ticket = make_tickets(store)[0]
    queries = (
        "{ kernelTickets { totalCount } }",
        f'{{ node(id: "{gid(ticket)}") {{ id }} }}',
        f'{{ kernelTicket(number: "{ticket["number"]}") {{ id }} }}',
    )
    for query in queries:
        refused = httpx.post(f"{tickets_api.url}/graphql", json={"query": query})
        assert refused.status_code == 401, query
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "errors" not in tickets_api.post(query).json()


TRANSITION = """mutation($input: TransitionKernelTicketInput!) {
  transitionKernelTicket(input: $input) {
    kernelTicket { id state version resolution }
    userErrors { code field message } } }"""


def step(api: Api, ticket: dict[str, Any], state: str, **more: Any) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok(
        TRANSITION, {"input": {"id": gid(ticket), "state": state, **more}}
    )["transitionKernelTicket"]
    return answer


def stored_state(store: Store, ticket: dict[str, Any]) -> tuple[str, int]:
    row = store.read(
        lambda tx: tx.run(
            "MATCH (n:KernelTicket {id: $id}) RETURN n.state AS s, n.version AS v", id=ticket["id"]
        ).single(strict=True)
    )
    return row["s"], row["v"]


def test_transition_mutation(tickets_api: Api, store: Store) -> None:
    ticket = make_tickets(store)[0]
    invalid = step(tickets_api, ticket, "RESOLVED")
    assert invalid["kernelTicket"] is None
    [error] = invalid["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_TRANSITION", ["input", "state"])
    assert "'new'" in error["message"] and "open" in error["message"]

    opened = step(tickets_api, ticket, "OPEN", version=1)
    assert opened == {
        "kernelTicket": {"id": gid(ticket), "state": "OPEN", "version": 2, "resolution": None},
        "userErrors": [],
    }
    stale = step(tickets_api, ticket, "ON_HOLD", version=1)
    assert [(e["code"], e["field"]) for e in stale["userErrors"]] == [
        ("CONFLICT", ["input", "version"])
    ]
    unresolved = step(tickets_api, ticket, "RESOLVED", changes={"resolution": "  "})
    assert [(e["code"], e["field"]) for e in unresolved["userErrors"]] == [
        ("REQUIRED", ["input", "changes", "resolution"])
    ]
    too_long = step(tickets_api, ticket, "RESOLVED", changes={"body": "x" * 501, "resolution": "y"})
    assert [(e["code"], e["field"]) for e in too_long["userErrors"]] == [
        ("TOO_LONG", ["input", "changes", "body"])
    ]
    assert stored_state(store, ticket) == ("open", 2)  # nothing of the refusals was written

    resolved = step(tickets_api, ticket, "RESOLVED", version=2, changes={"resolution": "new toner"})
    assert resolved["kernelTicket"]["state"] == "RESOLVED"
    assert resolved["kernelTicket"]["resolution"] == "new toner"
    final = step(tickets_api, ticket, "OPEN")["userErrors"][0]["message"]
    assert "from 'resolved'" in final and final.endswith("may go to: closed")

    # Closing is a manager's: the role is a permission, a top-level FORBIDDEN.
    denied = tickets_api.post(TRANSITION, {"input": {"id": gid(ticket), "state": "CLOSED"}})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    manager = tickets_api.as_role(store, "manager")
    assert step(manager, ticket, "CLOSED")["kernelTicket"]["state"] == "CLOSED"
    assert stored_state(store, ticket) == ("closed", 4)

    wrong = step(tickets_api, {"id": "x"}, "OPEN")
    assert wrong["userErrors"][0]["code"] == "NOT_FOUND"
    ci_id = to_global_id("CI", ticket["id"])
    other = tickets_api.ok(TRANSITION, {"input": {"id": ci_id, "state": "OPEN"}})
    [error] = other["transitionKernelTicket"]["userErrors"]
    assert (error["code"], error["field"]) == ("WRONG_TYPE", ["input", "id"])


CREATE = """mutation($input: CreateKernelTicketInput!) {
  createKernelTicket(input: $input) {
    kernelTicket { id number title urgency state version }
    userErrors { code field message } } }"""
UPDATE = """mutation($input: UpdateKernelTicketInput!) {
  updateKernelTicket(input: $input) {
    kernelTicket { id title urgency version }
    userErrors { code field message } } }"""


def concerned(store: Store, ticket_id: str) -> list[str]:
    return store.read(
        lambda tx: [
            r["name"]
            for r in tx.run(
                "MATCH (:KernelTicket {id: $id})-->(c:CI) RETURN c.name AS name ORDER BY name",
                id=ticket_id,
            )
        ]
    )


def tickets_stored(store: Store) -> int:
    return store.read(
        lambda tx: tx.run("MATCH (n:KernelTicket) RETURN count(n) AS n").single(strict=True)["n"]
    )


def test_create_and_update_mutations_from_the_declaration(
    api: Api, tickets_api: Api, store: Store
) -> None:
    made = run_import(
        api,
        "test",
        [
            {"key": "db", "ciClass": "Database", "name": "orders-db"},
            {"key": "app", "ciClass": "Application", "name": "shop-app"},
            {"key": "svc", "ciClass": "Service", "name": "online shop"},
        ],
    )["items"]
    db, app, svc = (i["ciId"] for i in made)

    def create(**given: Any) -> dict[str, Any]:
        answer: dict[str, Any] = tickets_api.ok(CREATE, {"input": given})["createKernelTicket"]
        return answer

    # Refusals name the field and write nothing, the links of a refused create included.
    for given, expected in [
        ({"title": "  ", "cis": [db]}, ("REQUIRED", ["input", "title"])),
        ({"title": "x" * 201}, ("TOO_LONG", ["input", "title"])),
        ({"title": "t", "cis": [db, to_global_id("CI", "gone")]}, ("NOT_FOUND", ["input", "cis"])),
        (
            {"title": "t", "cis": [to_global_id("KernelTicket", "x")]},
            ("WRONG_TYPE", ["input", "cis"]),
        ),
        ({"title": "t", "service": db}, ("WRONG_TYPE", ["input", "service"])),
    ]:
        refused = create(**given)
        assert refused["kernelTicket"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [expected], given
    assert tickets_stored(store) == 0
    missing = tickets_api.post(CREATE, {"input": {"urgency": "HIGH"}}).json()
    assert "title" in missing["errors"][0]["message"]  # a required field is non-null in GraphQL

    created = create(title=" vpn down ", urgency="HIGH", cis=[db, app], service=svc)
    ticket = created["kernelTicket"]
    assert created["userErrors"] == []
    assert (ticket["title"], ticket["urgency"], ticket["state"], ticket["version"]) == (
        "vpn down",
        "HIGH",
        "NEW",
        1,
    )
    assert ticket["number"].startswith("KT")
    stored_id = ticket["id"]
    rid = record_id(stored_id, "KernelTicket")
    assert concerned(store, rid) == ["online shop", "orders-db", "shop-app"]

    def update(**given: Any) -> dict[str, Any]:
        answer: dict[str, Any] = tickets_api.ok(UPDATE, {"input": {"id": stored_id, **given}})[
            "updateKernelTicket"
        ]
        return answer

    # Only what is given changes; a given link set replaces the old one.
    changed = update(version=1, urgency="LOW", cis=[app])
    assert changed["kernelTicket"] == {
        "id": stored_id,
        "title": "vpn down",
        "urgency": "LOW",
        "version": 2,
    }
    assert concerned(store, rid) == ["online shop", "shop-app"]
    stale = update(version=1, title="other")
    assert [(e["code"], e["field"]) for e in stale["userErrors"]] == [
        ("CONFLICT", ["input", "version"])
    ]
    half = update(title="new title", cis=[app, to_global_id("CI", "gone")])
    assert half["userErrors"][0]["field"] == ["input", "cis"]
    relinked = update(cis=[])  # links alone make a new version too
    assert relinked["kernelTicket"]["version"] == 3
    assert relinked["kernelTicket"]["title"] == "vpn down"  # the refused update wrote nothing
    assert concerned(store, rid) == ["online shop"]
    # The state is no input field: it changes by transition only.
    bad = tickets_api.post(UPDATE, {"input": {"id": stored_id, "state": "CLOSED"}}).json()
    assert "state" in bad["errors"][0]["message"]
    actions = store.read(
        lambda tx: [
            r["action"]
            for r in tx.run(
                "MATCH (a:AuditEntry {recordId: $id}) RETURN a.action AS action "
                "ORDER BY a.at, a.action",
                id=rid,
            )
        ]
    )
    assert sorted(actions) == sorted(
        ["create", "relate", "relate", "relate", "update", "unrelate", "unrelate"]
    )
