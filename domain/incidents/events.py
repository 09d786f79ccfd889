"""The feed of incident changes: what live subscribers hear, and which of them hear it.

Every unit of work that opens or changes an incident ends with `incident_changed`; it reads, in
that transaction, the few facts a subscriber filters on (number, version, state, priority, team,
the Services it impacts) and stages them as one announcement per incident, sent after commit
(`graphdb.feed`). A subscriber names the teams, Services and priorities it cares about
(`FeedFilter`); the incident itself is then read with the subscriber's own identity, so what it
may not read it does not see.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from core.access import Actor, Permission
from core.errors import NotFound
from core.incidents import INCIDENT
from core.priority import Priority
from domain import records
from graphdb import records as record_cypher
from graphdb.cypher import incident_feed
from graphdb.write_path import Store, UnitOfWork

TOPIC = "incidents"


class Change(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"


def incident_changed(uow: UnitOfWork, incident: Mapping[str, Any], kind: Change) -> None:
    """Called at the end of every unit of work that opened or changed an incident (one call per
    incident per unit of work is enough; more are harmless). Subscribers in every API process
    hear of it once the transaction commits."""
    incident_id = str(incident["id"])
    facts = incident_feed.announcement_facts(uow.tx, incident_id)
    if facts is None:
        return
    earlier = uow.announced(TOPIC, incident_id)
    # Opened and then changed in one transaction: subscribers never saw it, so it is new to them.
    if earlier is not None and earlier["kind"] == Change.CREATED.value:
        kind = Change.CREATED
    uow.announce(TOPIC, {**facts, "kind": kind.value, "at": uow.at.isoformat()}, key=incident_id)


@dataclass(frozen=True)
class FeedFilter:
    """Which incidents a subscriber hears of: each given list means "any of these", and an
    incident must match every list given. Stored ids."""

    teams: frozenset[str] | None = None
    services: frozenset[str] | None = None
    priorities: frozenset[Priority] | None = None

    def matches(self, announcement: Mapping[str, Any]) -> bool:
        if self.teams is not None and announcement.get("team") not in self.teams:
            return False
        if self.services is not None and not self.services.intersection(
            announcement.get("services") or ()
        ):
            return False
        return self.priorities is None or announcement.get("priority") in self.priorities


def feed_filter(
    store: Store,
    actor: Actor,
    *,
    teams: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
    priorities: Sequence[Priority] | None = None,
) -> FeedFilter:
    """A subscriber's filter, checked: every team and Service named must exist (stored ids;
    an unknown one is NOT_FOUND naming `filter.teams` or `filter.services`)."""
    actor.require(Permission.READ)
    _require_existing(store, "Team", "teams", teams or ())
    _require_existing(store, "Service", "services", services or ())
    # An empty list is no condition, as a filter left out is.
    return FeedFilter(
        teams=frozenset(teams) if teams else None,
        services=frozenset(services) if services else None,
        priorities=frozenset(priorities) if priorities else None,
    )


def _require_existing(store: Store, label: str, field: str, ids: Sequence[str]) -> None:
    if not ids:
        return
    wanted = list(dict.fromkeys(ids))
    found = set(store.read(partial(incident_feed.existing, label=label, ids=wanted)))
    for missing in (i for i in wanted if i not in found):
        raise NotFound(label, missing, field=f"filter.{field}")


def read_scope(actor: Actor) -> record_cypher.Scope:
    """How this subscriber may read incidents (checked: it needs the READ permission); readers
    with equal scopes read an incident alike, so one read serves them all."""
    actor.require(Permission.READ)
    return records.scope_for(actor, INCIDENT)


def incident_as_seen(
    store: Store, scope: record_cypher.Scope, incident_id: str
) -> dict[str, Any] | None:
    """The incident as readers with this scope see it now; None when they may not."""
    found = store.read(lambda tx: record_cypher.by_ids(tx, INCIDENT, [incident_id], scope))
    return found.get(incident_id)


class Ordering:
    """One subscriber's guard that it never hears of an incident's version after a later one:
    two processes committing versions 3 and 4 may announce them the other way round, and the
    later one is then the only one told.

    It remembers the last `remember` incidents it heard of; an announcement out of order by more
    incidents than that is not expected between two commits a few milliseconds apart."""

    def __init__(self, remember: int = 10_000) -> None:
        self.remember = remember
        self._heard: OrderedDict[str, int] = OrderedDict()

    def is_news(self, announcement: Mapping[str, Any]) -> bool:
        incident_id, version = str(announcement["id"]), int(announcement["version"])
        if self._heard.get(incident_id, 0) >= version:
            return False
        self._heard[incident_id] = version
        self._heard.move_to_end(incident_id)
        if len(self._heard) > self.remember:
            self._heard.popitem(last=False)
        return True
