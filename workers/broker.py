"""Choosing the broker from `BROKER_URL`.

Redis (`redis://`) and RabbitMQ (`amqp://`) are real brokers for `itsm worker`. Without a URL the
stub broker keeps messages in this process and an in-process worker runs them: development only.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker

from graphdb.write_path import Message

log = logging.getLogger(__name__)


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
    """Set the global broker and declare every actor on it.

    Actors bind to the global broker when their module is imported; moving them explicitly lets
    one process (the tests, `itsm run`) switch brokers without re-importing.
    """
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    import workers.actors

    for value in vars(workers.actors).values():
        if isinstance(value, dramatiq.Actor):
            value.broker = broker
            broker.declare_actor(value)
    return broker


def publish(message: Message) -> None:
    # The change is committed already; a lost message is caught by the periodic sweep, so a
    # broker hiccup must not turn a successful write into an error for the caller.
    try:
        dramatiq.get_broker().get_actor(message.actor_name).send(*message.args)
    except Exception:
        log.exception("could not publish %s%r", message.actor_name, message.args)


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
