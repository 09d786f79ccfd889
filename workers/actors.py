"""The actors: thin shells over domain operations, keyed by record id.

Plain functions; `workers.registry` lists them and declares them on the broker.
"""

from __future__ import annotations

from typing import Any

from core.access import SYSTEM
from domain import availability, configuration, events
from domain.availability import evaluation  # noqa: F401 (registers its timer kinds, if any)
from domain.changes import lifecycle as change_lifecycle
from domain.events import alerts  # noqa: F401 (registers the alert timer kinds)
from domain.incidents import lifecycle  # noqa: F401 (registers the incident timer kinds)
from domain.notifications import delivery
from graphdb import timers
from itsm.config import Settings
from workers.runtime import store


def refresh_blast_radius(ci_id: str) -> None:
    configuration.refresh_blast_radius(store(), ci_id)


def refresh_blast_radius_many(ci_ids: list[str]) -> None:
    configuration.refresh_blast_radius_many(store(), ci_ids)


def refresh_blast_radius_upstream(ci_ids: list[str]) -> None:
    configuration.refresh_blast_radius_upstream(store(), ci_ids)


def recount_change_conflicts(ci_ids: list[str]) -> None:
    change_lifecycle.recount_near(store(), ci_ids)


def fire_timer(timer_id: str) -> None:
    # A timer moved later, or fired already by the sweep, is simply not due: nothing happens.
    timers.fire(store(), timer_id, "message")


def send_notification(notification_id: str) -> None:
    # A failed try raises RetryLater: the broker's retries bring the message back with back-off.
    settings = Settings.from_env()
    channels = delivery.Channels(
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        push_secret=settings.push_secret,
        max_attempts=min(settings.notify_max_attempts, delivery.MAX_ATTEMPTS),
    )
    delivery.send(store(), notification_id, channels)


def ingest_events(batch: list[dict[str, Any]]) -> None:
    # One transaction per accepted batch; events already recorded (a redelivery) are skipped.
    incoming = [events.IncomingEvent.from_wire(wire) for wire in batch]
    store().write(SYSTEM, lambda uow: events.process_events(uow, incoming))


def ingest_metrics(batch: list[dict[str, Any]]) -> None:
    samples = [availability.MetricSample.from_wire(wire) for wire in batch]
    store().write(SYSTEM, lambda uow: availability.process_samples(uow, samples))
