"""Nested list fields must not cost one round trip per parent.

Walks the schema from the `cis` list: every field of a CI that leads to a list (directly or
through a connection) is queried for 5 and for 60 CIs, and both must cost the same number of
Neo4j transactions.
"""

from __future__ import annotations

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)

from core.access import SYSTEM
from core.ids import record_id
from domain.events import policy as event_policy
from graphdb.write_path import Store
from schema.root import build_schema
from tests.conftest import Api, RunningServer
from tests.test_alerts import event, process
from tests.test_import import run_import


def _optional_args(field: GraphQLField) -> bool:
    return all(
        not is_non_null_type(a.type) or a.default_value is not None for a in field.args.values()
    )


def selection(type_: GraphQLObjectType, depth: int) -> str:
    parts = []
    for name, field in type_.fields.items():
        if not _optional_args(field):
            continue
        named = get_named_type(field.type)
        if is_leaf_type(named):
            parts.append(name)
        elif depth > 0 and is_object_type(named):
            inner = selection(named, depth - 1)
            if inner:
                parts.append(f"{name} {{ {inner} }}")
    return " ".join(parts)


def leads_to_list(field: GraphQLField, depth: int = 3) -> bool:
    nullable = get_nullable_type(field.type)
    if is_list_type(nullable):
        return True
    named = get_named_type(field.type)
    if depth and is_object_type(named):
        return any(leads_to_list(f, depth - 1) for f in named.fields.values())
    return False


def list_fields_of_ci() -> list[tuple[str, str]]:
    schema = build_schema(max_depth=20, max_aliases=10, max_tokens=100_000)._schema
    ci_type = schema.type_map["CI"]
    assert isinstance(ci_type, GraphQLObjectType)
    out = []
    for name, field in ci_type.fields.items():
        named = get_named_type(field.type)
        if _optional_args(field) and leads_to_list(field) and is_object_type(named):
            out.append((name, selection(named, 3)))
    return out


def test_the_walk_finds_the_nested_list_fields() -> None:
    names = {name for name, _ in list_fields_of_ci()}
    assert {"relationships", "history"} <= names


def test_nested_list_fields_cost_the_same_for_5_and_60_cis(
    api: Api, store: Store, api_server: RunningServer
) -> None:
    items = [{"key": f"a{i}", "ciClass": "Application", "name": f"app-{i:03d}"} for i in range(60)]
    items += [{"key": f"d{i}", "ciClass": "Database", "name": f"db-{i:03d}"} for i in range(60)]
    rels = [{"sourceKey": f"a{i}", "type": "DEPENDS_ON", "targetKey": f"d{i}"} for i in range(60)]
    rels += [
        {"sourceKey": f"a{i}", "type": "DEPENDS_ON", "targetKey": f"d{(i + 1) % 60}"}
        for i in range(60)
    ]
    run_import(api, "test", items, rels)
    graph = api_server.app.state.store.graph

    for name, sub in list_fields_of_ci():
        query = (
            'query($n: Int!) { cis(first: $n, filter: {ciClass: "Application"}) '
            f"{{ edges {{ node {{ id {name} {{ {sub} }} }} }} }} }}"
        )
        costs = []
        for n in (5, 60):
            data, reads = api.ok_counting_reads(graph, query, {"n": n})
            costs.append(reads)
            assert len(data["cis"]["edges"]) == n
        assert costs[0] == costs[1], f"{name} costs {costs[0]} for 5 CIs but {costs[1]} for 60"


INCIDENT_PAGE = """query($service: ID!, $n: Int!) { incidentsByService(service: $service, first: $n) {
  edges { node { id number
    affected { services { service { name } depth } slas { name } customers { name } }
    interactions { number outcome caller { name } ci { name } }
    team { name }
  } } } }"""


def test_a_page_of_incidents_with_scope_interactions_and_team_costs_the_same_for_5_and_20(
    api: Api, store: Store, api_server: RunningServer
) -> None:
    items = [{"key": "shop", "ciClass": "Service", "name": "shop"}]
    items += [{"key": f"a{i}", "ciClass": "Application", "name": f"app-{i:03d}"} for i in range(20)]
    rels = [{"sourceKey": "shop", "type": "DEPENDS_ON", "targetKey": f"a{i}"} for i in range(20)]
    cis = {i["key"]: i["ciId"] for i in run_import(api, "test", items, rels)["items"]}
    for i in range(20):
        answer = api.ok(
            "mutation($input: LogInteractionInput!) { logInteraction(input: $input) "
            "{ userErrors { message } incident { id } } }",
            {
                "input": {
                    "channel": "API",
                    "text": f"app-{i:03d} down",
                    "ci": cis[f"a{i}"],
                    "open": "INCIDENT",
                }
            },
        )["logInteraction"]
        assert answer["userErrors"] == [] and answer["incident"]
    graph = api_server.app.state.store.graph

    costs = []
    for n in (5, 20):
        answer, reads = api.ok_counting_reads(
            graph, INCIDENT_PAGE, {"service": cis["shop"], "n": n}
        )
        edges = answer["incidentsByService"]["edges"]
        costs.append(reads)
        assert len(edges) == n
        assert all(
            e["node"]["affected"]["services"] == [{"service": {"name": "shop"}, "depth": 1}]
            for e in edges
        )
        assert all(len(e["node"]["interactions"]) == 1 for e in edges)
    assert costs[0] == costs[1], f"5 incidents cost {costs[0]} reads, 20 cost {costs[1]}"


ALERT_PAGE = """query($n: Int!) { alerts(first: $n, orderBy: {field: NUMBER}) { edges { node {
  number ci { name alerts { number } inMaintenance } rootCause { number } symptoms { number }
  incident { number alerts { number } } events(first: 3) { action } notifications { channel }
  threshold { name }
} } } }"""


def test_a_page_of_alerts_with_their_graph_costs_the_same_for_5_and_20(
    api: Api, api_server: RunningServer, store: Store
) -> None:
    event_policy.set_policy(
        store,
        SYSTEM,
        {"correlationWindowSeconds": 0, "severityActions": ["error=incident"]},
        None,
        version=None,
    )
    items = [{"key": "db", "ciClass": "Database", "name": "db"}]
    items += [{"key": f"a{i}", "ciClass": "Application", "name": f"app-{i:03d}"} for i in range(20)]
    rels = [{"sourceKey": f"a{i}", "type": "DEPENDS_ON", "targetKey": "db"} for i in range(20)]
    cis = {
        i["key"]: record_id(i["ciId"], "CI") for i in run_import(api, "test", items, rels)["items"]
    }
    process(store, [event("db", ci=cis["db"])])
    process(store, [event(f"a{i}", ci=cis[f"a{i}"]) for i in range(20)])
    graph = api_server.app.state.store.graph
    costs = []
    for n in (5, 20):
        answer, reads = api.ok_counting_reads(graph, ALERT_PAGE, {"n": n})
        edges = answer["alerts"]["edges"]
        costs.append(reads)
        assert len(edges) == n
    assert costs[0] == costs[1], f"5 alerts cost {costs[0]} reads, 20 cost {costs[1]}"


THRESHOLD_PAGE = """query($n: Int!) { thresholds(first: $n) { edges { node { id name
  sla { name } ola { name } cis { name } service { name } notifyTeams { name }
  notifyPeople { name } status { ci { name } state since lastValue lastSampleAt }
} } } }"""


def test_a_page_of_thresholds_with_their_links_and_status_costs_the_same_for_5_and_20(
    api: Api, store: Store, api_server: RunningServer
) -> None:
    from core.access import SYSTEM
    from core.events import THRESHOLD
    from domain.availability.thresholds import THRESHOLD_RULES

    items = [{"key": f"d{i}", "ciClass": "Database", "name": f"db-{i:03d}"} for i in range(20)]
    cis = [i["ciId"] for i in run_import(api, "test", items)["items"]]
    sla = store.write(SYSTEM, lambda uow: uow.create("SLA", {"name": "Gold", "state": "active"}))
    for i, ci in enumerate(cis):
        THRESHOLD_RULES.create(
            store,
            SYSTEM,
            THRESHOLD,
            {"name": f"cpu {i:03d}", "metric": "cpu", "operator": "gt", "value": 90.0},
            {"sla": [sla["id"]], "cis": [ci]},
        )
    graph = api_server.app.state.store.graph

    costs = []
    for n in (5, 20):
        answer, reads = api.ok_counting_reads(graph, THRESHOLD_PAGE, {"n": n})
        edges = answer["thresholds"]["edges"]
        costs.append(reads)
        assert len(edges) == n
        assert all(len(e["node"]["status"]) == 1 for e in edges)
    assert costs[0] == costs[1], f"5 thresholds cost {costs[0]} reads, 20 cost {costs[1]}"
