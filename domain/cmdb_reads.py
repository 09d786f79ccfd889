"""What the API and its loaders read from the CMDB: CIs, their relationships and history, search,
paths and neighbourhoods. Each read is one transaction; inputs are checked here, by the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import LimitExceeded, NotFound
from domain import cmdb, impact
from domain.configuration import ALL_CI_RELATIONSHIP_TYPES
from graphdb.cypher import audit as audit_cypher
from graphdb.cypher import ci as ci_cypher
from graphdb.write_path import Store

MAX_PATH_DEPTH = 12
MAX_SUBGRAPH_DEPTH = 4
MAX_SUBGRAPH_NODES = 2000
ORDER_FIELDS = tuple(ci_cypher.ORDER_FIELDS)


def cis_by_ids(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The CIs with these ids that exist, by id."""
    return store.read(lambda tx: ci_cypher.by_ids(tx, ids))


def relationships_of(store: Store, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Every CI-to-CI relationship of these CIs, both directions, by CI id."""
    rows = store.read(lambda tx: ci_cypher.relationships(tx, ids, ALL_CI_RELATIONSHIP_TYPES))
    grouped: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in rows:
        grouped[row["ci"]].append(row)
    return grouped


def history_of(store: Store, ids: Sequence[str], limit: int) -> dict[str, list[dict[str, Any]]]:
    """The newest `limit` audit entries of each record, newest first."""
    return store.read(lambda tx: audit_cypher.for_records(tx, ids, limit))


def audit_entries_by_ids(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    return store.read(lambda tx: audit_cypher.by_ids(tx, ids))


@dataclass(frozen=True)
class CISearch:
    """A page of a CI search: filters (all must hold), sort order, and the cursor bounds."""

    ci_class: str | None = None
    lifecycle: str | None = None
    criticality: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    text: str | None = None
    order_field: str = "name"
    descending: bool = False
    after: tuple[Any, str] | None = None
    before: tuple[Any, str] | None = None
    backward: bool = False  # take the page from the end of the bounded list
    limit: int = 50
    count: bool = True  # count the CIs matching the filters (only when the total is shown)


def search_cis(
    store: Store, query: CISearch
) -> tuple[list[tuple[dict[str, Any], Any]], int | None]:
    """CIs in order, each with its sort position (what a cursor carries), and the total matching
    the filters (None when not asked for). Backwards, the rows still come in the requested
    order."""
    if query.ci_class is not None:
        cmdb.ci_class(query.ci_class, field_name="filter.ciClass")
    if query.lifecycle is not None:
        cmdb.lifecycle(query.lifecycle, field_name="filter.lifecycle")
    if query.criticality is not None:
        cmdb.criticality(query.criticality, field_name="filter.criticality")
    text = cmdb.full_text_search(query.text) if query.text is not None else None
    filters = {
        "ci_class": query.ci_class,
        "lifecycle": query.lifecycle,
        "criticality": query.criticality,
        "attributes": dict(query.attributes),
    }
    return store.read(
        cmdb.full_text_errors(
            lambda tx: ci_cypher.search(
                tx,
                filters=filters,
                text=text,
                order_field=query.order_field,
                descending=query.descending,
                after=query.after,
                before=query.before,
                backward=query.backward,
                limit=query.limit,
                count=query.count,
            )
        )
    )


def checked_relationship_types(names: Sequence[str] | None, field_name: str) -> list[str]:
    """The named relationship types, checked; every type when none are named."""
    chosen = names or list(cmdb.RELATIONSHIP_TYPES)
    return [cmdb.relationship_type(n, field_name=field_name).name for n in chosen]


def shortest_path(
    store: Store,
    from_id: str,
    to_id: str,
    *,
    max_depth: int,
    relationship_types: Sequence[str] | None,
    direction: impact.PathDirection = impact.PathDirection.ANY,
) -> list[impact.Step] | None:
    """A shortest chain of relationships between two CIs, in any direction or only the way a
    failure travels (or a CI needs another); None when there is none within `max_depth`."""
    if max_depth < 1 or max_depth > MAX_PATH_DEPTH:
        raise LimitExceeded(
            "maxDepth", MAX_PATH_DEPTH, f"maxDepth must be between 1 and {MAX_PATH_DEPTH}"
        )
    types = checked_relationship_types(relationship_types, "relationshipTypes")
    ends = cis_by_ids(store, [from_id, to_id])
    for name, value in (("fromId", from_id), ("toId", to_id)):
        if value not in ends:
            raise NotFound("CI", value, field=name)
    if from_id == to_id:
        return []
    return store.read(
        lambda tx: impact.path_between(
            tx, from_id, to_id, types, max_depth=max_depth, direction=direction
        )
    )


def neighbourhood(
    store: Store,
    ci_id: str,
    *,
    depth: int,
    relationship_types: Sequence[str] | None,
    max_nodes: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """The CIs within `depth` hops of one CI (it first), the relationships among them, and how
    many CIs within the depth `max_nodes` left out."""
    if depth < 1 or depth > MAX_SUBGRAPH_DEPTH:
        raise LimitExceeded(
            "depth", MAX_SUBGRAPH_DEPTH, f"depth must be between 1 and {MAX_SUBGRAPH_DEPTH}"
        )
    if max_nodes < 1 or max_nodes > MAX_SUBGRAPH_NODES:
        raise LimitExceeded(
            "maxNodes",
            MAX_SUBGRAPH_NODES,
            f"maxNodes must be between 1 and {MAX_SUBGRAPH_NODES}",
        )
    types = checked_relationship_types(relationship_types, "relationshipTypes")
    nodes, edges, omitted = store.read(
        lambda tx: ci_cypher.neighbourhood(tx, ci_id, types, depth, max_nodes - 1)
    )
    if not nodes:
        raise NotFound("CI", ci_id, field="ciId")
    return nodes, edges, omitted
