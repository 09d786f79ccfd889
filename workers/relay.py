"""Handing outbox messages to the broker.

The publisher that `Store.write` and the relay sweep use: it raises when the broker does not take
the message, so that the outbox keeps it for another try.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq

from graphdb.outbox import Message

# The option under which a broker message carries its outbox id (see `workers.receipts`).
OUTBOX_ID = "outbox_id"


def send(message: Message) -> None:
    broker = dramatiq.get_broker()
    actor = broker.get_actor(message.actor_name)
    delay = None
    if message.eta is not None:
        wait_ms = int((message.eta - datetime.now(UTC)).total_seconds() * 1000)
        delay = wait_ms if wait_ms > 0 else None
    # A fresh broker id per send: the outbox id, not the broker's, is what marks a duplicate.
    broker.enqueue(
        dramatiq.Message(
            queue_name=actor.queue_name,
            actor_name=actor.actor_name,
            args=message.args,
            kwargs={},
            options={OUTBOX_ID: message.id},
        ),
        delay=delay,
    )
