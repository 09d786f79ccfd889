"""Incident queues: the caller's own, a team's, those on a Service or a CI, those below a
Service, and those falling due soonest. Open incidents only unless the states say otherwise;
every queue is a cursor-paged list, seeking in an index as the kernel's lists do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.access import Actor, Permission
from core.errors import DomainError, ValidationFailed
from core.incidents import INCIDENT, OPEN_STATES
from core.records import check_value
from domain.records import RecordSearch, scope_for
from domain.service_desk.matching import upstream
from graphdb import records as record_cypher
from graphdb.cypher import service_desk as cypher
from graphdb.write_path import Store, now

Rows = tuple[list[tuple[dict[str, Any], Any]], int | None]

MAX_WITHIN_MINUTES = 60 * 24 * 366


class NoPerson(DomainError):
    """The caller's token names no person, so it has no queue of its own."""

    code = "NO_PERSON"


def states_of(states: Sequence[str] | None) -> list[str]:
    """The states a queue lists: open ones unless asked otherwise (checked, `filter.states`)."""
    if states is None:
        return list(OPEN_STATES)
    if not states:
        raise ValidationFailed("states", "empty", "give at least one state, or leave it out")
    prop = INCIDENT.by_name["state"]
    return [check_value(prop, s, "states") for s in states]


def _page(
    store: Store, actor: Actor, queue: cypher.Queue, states: list[str], search: RecordSearch
) -> Rows:
    actor.require(Permission.READ)
    if search.order not in INCIDENT.sortable_properties:
        raise ValidationFailed(
            "orderBy.field",
            "not_sortable",
            f"incidents cannot be sorted by {search.order!r}; by: "
            + ", ".join(INCIDENT.sortable_properties),
        )
    query = record_cypher.PageQuery(
        order=search.order,
        descending=search.descending,
        filters={"state": states},
        after=search.after,
        before=search.before,
        backward=search.backward,
        limit=search.limit,
        count=search.count,
        scope=scope_for(actor, INCIDENT),
        conditions=queue.conditions,
        params=queue.params,
    )
    return store.read(lambda tx: record_cypher.page(tx, INCIDENT, query))


def mine(store: Store, actor: Actor, states: list[str], search: RecordSearch) -> Rows:
    """The incidents the person behind the caller's token works."""
    actor.require(Permission.READ)
    if actor.person_id is None:
        raise NoPerson(
            f"the API token {actor.name!r} ({actor.id}) is not linked to a person: issue one "
            "with `itsm token create --person PER…` to have a queue of your own",
            token=actor.id,
        )
    return _page(store, actor, cypher.worked_by(actor.person_id), states, search)


def of_team(
    store: Store, actor: Actor, team_id: str, states: list[str], search: RecordSearch
) -> Rows:
    return _page(store, actor, cypher.assigned_to(team_id), states, search)


def on_service(
    store: Store, actor: Actor, service_id: str, states: list[str], search: RecordSearch
) -> Rows:
    """Incidents whose CI's failure reaches the Service (their `IMPACTS`)."""
    return _page(store, actor, cypher.impacting(service_id), states, search)


def on_ci(store: Store, actor: Actor, ci_id: str, states: list[str], search: RecordSearch) -> Rows:
    return _page(store, actor, cypher.affecting([ci_id]), states, search)


def below(
    store: Store, actor: Actor, service_id: str, states: list[str], search: RecordSearch
) -> Rows:
    """Incidents on the Service or on anything it depends on: every CI whose failure would reach
    it, as the impact rules walk upstream."""
    return _page(
        store, actor, cypher.affecting(needed_by(store, actor, service_id)), states, search
    )


def needed_by(store: Store, actor: Actor, ci_id: str, *, field: str = "service") -> list[str]:
    """The CI and every CI it needs, as the impact rules find them upstream."""
    needs = upstream(store, actor, ci_id, field=field, explain=False)
    return [ci_id, *(r.ci_id for r in needs.result.reached)]


@dataclass(frozen=True)
class DueSearch:
    within_minutes: int
    team_id: str | None = None
    after: tuple[int, str] | None = None
    before: tuple[int, str] | None = None
    backward: bool = False
    limit: int = 50
    count: bool = True


def falling_due(store: Store, actor: Actor, states: list[str], search: DueSearch) -> Rows:
    """Incidents whose response or resolution falls due within the minutes (or is already
    overdue), the earliest first."""
    actor.require(Permission.READ)
    if not 0 <= search.within_minutes <= MAX_WITHIN_MINUTES:
        raise ValidationFailed(
            "within",
            "out_of_range",
            f"within is a number of minutes from 0 to {MAX_WITHIN_MINUTES}",
        )
    query = cypher.DueQuery(
        until=now() + timedelta(minutes=search.within_minutes),
        states=states,
        team_id=search.team_id,
        after=search.after,
        before=search.before,
        backward=search.backward,
        limit=search.limit,
        count=search.count,
    )
    return store.read(lambda tx: cypher.falling_due(tx, query))
