"""The one list of actors, and declaring them on a broker.

Every message name a unit of work may publish (`graphdb.outbox.MESSAGE_NAMES`) has an actor here
under the same name; `tests/test_workers.py` fails when one is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq

from domain import availability, configuration, events, notifications
from domain.changes import lifecycle as change_lifecycle
from domain.notifications import delivery
from graphdb import timers
from workers import actors


@dataclass(frozen=True)
class ActorSpec:
    name: str
    fn: Callable[..., None]
    options: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"


LONG = {"max_retries": 3, "min_backoff": 1000, "max_backoff": 60_000, "time_limit": 3_600_000}

ACTORS: tuple[ActorSpec, ...] = (
    ActorSpec(
        configuration.BLAST_RADIUS_ACTOR,
        actors.refresh_blast_radius,
        {"max_retries": 5, "min_backoff": 500, "max_backoff": 30_000},
    ),
    ActorSpec(configuration.BLAST_RADIUS_MANY, actors.refresh_blast_radius_many, LONG),
    ActorSpec(configuration.BLAST_RADIUS_UPSTREAM, actors.refresh_blast_radius_upstream, LONG),
    ActorSpec(change_lifecycle.RECOUNT_CONFLICTS, actors.recount_change_conflicts, LONG),
    # A handler that keeps failing is retried for about a day; the sweep keeps trying after that.
    ActorSpec(
        timers.FIRE_TIMER,
        actors.fire_timer,
        {"max_retries": 20, "min_backoff": 1000, "max_backoff": 3_600_000},
    ),
    # One delivery per message; a failed try is retried after 1-2 s, 2-4 s … up to 5 min.
    ActorSpec(
        notifications.SEND_NOTIFICATION,
        actors.send_notification,
        {
            "max_retries": delivery.MAX_ATTEMPTS - 1,
            "min_backoff": 1000,
            "max_backoff": 300_000,
            "time_limit": 120_000,
        },
    ),
    # An accepted batch must not be lost: retried for about a day while Neo4j is away.
    ActorSpec(
        events.INGEST_EVENTS,
        actors.ingest_events,
        {"max_retries": 40, "min_backoff": 500, "max_backoff": 3_600_000, "time_limit": 600_000},
        queue="ingest",
    ),
    ActorSpec(
        availability.INGEST_METRICS,
        actors.ingest_metrics,
        {"max_retries": 40, "min_backoff": 500, "max_backoff": 3_600_000, "time_limit": 600_000},
        queue="ingest",
    ),
)


def declare_actors(broker: dramatiq.Broker) -> dict[str, dramatiq.Actor[..., None]]:
    """Declare every actor of `ACTORS` on this broker (a fresh broker gets fresh actors)."""
    declared = {}
    for spec in ACTORS:
        unknown = set(spec.options) - broker.actor_options
        if unknown:
            raise ValueError(f"actor {spec.name}: unknown options {sorted(unknown)}")
        declared[spec.name] = dramatiq.Actor(
            spec.fn,
            broker=broker,
            actor_name=spec.name,
            queue_name=spec.queue,
            priority=0,
            options=dict(spec.options),
        )
    return declared
