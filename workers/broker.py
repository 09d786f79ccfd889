"""Choosing the broker from `BROKER_URL` and declaring the actors on it.

Redis (`redis://`) and RabbitMQ (`amqp://`) are real brokers for `itsm worker`. Without a URL the
stub broker keeps messages in this process and an in-process worker runs them: development only.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable

import dramatiq
from dramatiq.brokers.stub import StubBroker

from workers.receipts import OutboxReceipts
from workers.registry import declare_actors
from workers.relay import send

log = logging.getLogger(__name__)

# `Store(graph, publish)`: committed messages go to the installed broker.
publish = send


def make_broker(url: str | None) -> dramatiq.Broker:
    if url is None:
        return StubBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)  # type: ignore[no-untyped-call]
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"BROKER_URL must start with redis:// or amqp://, got {url!r}")


def install_broker(url: str | None) -> dramatiq.Broker:
    """Make a broker for `url`, declare every actor of `workers.registry.ACTORS` on it, and set it
    as the global broker (one process, such as the tests, may switch brokers)."""
    broker = make_broker(url)
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
