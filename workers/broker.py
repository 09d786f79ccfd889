"""Choosing the broker from `BROKER_URL` and declaring the actors on it.

Redis (`redis://`) and RabbitMQ (`amqp://`) are real brokers for `itsm worker`. Without a URL the
stub broker keeps messages in this process and an in-process worker runs them: development only.

With Redis, a message a worker fetched stays in that worker's unacknowledged set until it acks it;
when the worker dies, another process moves the set back to the queue once the dead worker's
heartbeat is `Redelivery.heartbeat_ms` old, on one of its polls (a chance of
`maintenance_chance` in a million each). Both come from the settings (`ITSM_BROKER_HEARTBEAT_MS`,
`ITSM_BROKER_MAINTENANCE_CHANCE`) so that a killed worker's batch is redelivered in seconds.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.stub import StubBroker

from itsm.config import Settings
from workers.receipts import OutboxReceipts
from workers.registry import declare_actors
from workers.relay import send

log = logging.getLogger(__name__)

# `Store(graph, publish)`: committed messages go to the installed broker.
publish = send


@dataclass(frozen=True)
class Redelivery:
    heartbeat_ms: int = 15_000
    maintenance_chance: int = 50_000  # in a million polls
    dead_message_ttl_ms: int = 7 * 24 * 3600 * 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> Redelivery:
        return cls(
            settings.broker_heartbeat_ms,
            settings.broker_maintenance_chance,
            settings.broker_dead_message_ttl_ms,
        )


def make_broker(url: str | None, redelivery: Redelivery | None = None) -> dramatiq.Broker:
    if url is None:
        return StubBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        redelivery = redelivery or Redelivery.from_settings(Settings.from_env())
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=url,
            heartbeat_timeout=redelivery.heartbeat_ms,
            maintenance_chance=redelivery.maintenance_chance,
            dead_message_ttl=redelivery.dead_message_ttl_ms,
        )
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"BROKER_URL must start with redis:// or amqp://, got {url!r}")


def install_broker(url: str | None, redelivery: Redelivery | None = None) -> dramatiq.Broker:
    """Make a broker for `url`, declare every actor of `workers.registry.ACTORS` on it, and set it
    as the global broker (one process, such as the tests, may switch brokers). `redelivery`
    defaults to what the environment's settings say."""
    broker = make_broker(url, redelivery)
    broker.add_middleware(OutboxReceipts())
    declare_actors(broker)
    dramatiq.set_broker(broker)
    return broker


def import_extensions(modules: Iterable[str]) -> None:
    """Modules named by `ITSM_EXTENSION_MODULES`, imported for what they register (timer kinds)."""
    for name in modules:
        importlib.import_module(name)
        log.info("loaded extension module %s", name)


def ping(broker: dramatiq.Broker) -> None:
    """Raise if the broker cannot be reached."""
    client = getattr(broker, "client", None)
    if client is not None:
        client.ping()
        return
    connection = getattr(broker, "connection", None)
    if connection is not None and not connection.is_open:
        raise ConnectionError("RabbitMQ connection is closed")


def start_in_process_worker(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    return worker
