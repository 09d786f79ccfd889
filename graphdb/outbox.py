"""The outbox: messages a transaction raises are stored in that transaction, then relayed.

`UnitOfWork.publish` stages a message; `Store.write` writes the staged messages as
`(:OutboxMessage)` nodes inside the same transaction, and after commit hands each to the
publisher (the broker). A message the broker took is marked sent; one it refused is kept with its
error and a later `nextAttemptAt` (exponential back-off). A process that dies between commit and
publish leaves its messages unsent; the periodic sweep (`relay_unsent`) sends them once their
`nextAttemptAt` has passed. A new message's `nextAttemptAt` is a few seconds after its commit, so
the sweep does not race the normal path.

Delivery is at least once: each message carries its outbox id, the worker deletes the node once
an actor handled it, and skips a message whose node is gone (a second delivery).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from neo4j import ManagedTransaction

from core.errors import StorageUnavailable
from graphdb.cypher import outbox as outbox_cypher
from graphdb.driver import Graph

log = logging.getLogger(__name__)

# How long the committing process has to send a message before the sweep may send it too.
HEAD_START = timedelta(seconds=5)
# How long a sweep that claimed a message has to send it before another sweep may.
RELAY_LEASE = timedelta(seconds=30)
FIRST_RETRY = timedelta(seconds=2)
LAST_RETRY = timedelta(minutes=5)
# A message the broker took but nobody reported handling is dropped this long after it was due.
SENT_RETENTION = timedelta(days=7)

MESSAGE_NAMES: set[str] = set()


def message_name(name: str) -> str:
    """Declare a message name; `UnitOfWork.publish` refuses any other. Every declared name must
    have an actor in `workers.registry.ACTORS` (a test checks it)."""
    MESSAGE_NAMES.add(name)
    return name


@dataclass(frozen=True)
class Message:
    actor_name: str
    args: tuple[Any, ...]
    # The envelope, not what is said: two messages with the same actor and arguments are equal.
    id: str = field(default_factory=lambda: str(uuid.uuid4()), compare=False)
    # Not before this time (a timer's due time); None: at once.
    eta: datetime | None = None


class Publisher(Protocol):
    """Hands a message to the broker; raises when the broker did not take it."""

    def __call__(self, message: Message) -> None: ...


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failed ones: 2 s, 4 s, 8 s … up to 5 min."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LAST_RETRY)


def _now() -> datetime:
    return datetime.now(UTC)


def stage(tx: ManagedTransaction, messages: Sequence[Message], at: datetime) -> None:
    """Write the messages a unit of work raised, inside its transaction."""
    if not messages:
        return
    outbox_cypher.store(
        tx,
        [
            {
                "id": m.id,
                "actor": m.actor_name,
                # Dramatiq encodes arguments as JSON too: anything else fails here, before commit.
                "args": json.dumps(list(m.args)),
                "etaAt": m.eta or at,
                # From the end of the work, not its start: a long import must not lose its lead.
                "nextAttemptAt": _now() + HEAD_START,
            }
            for m in messages
        ],
        at,
    )


def deliver(
    graph: Graph,
    publisher: Publisher,
    messages: Sequence[Message],
    attempts: Mapping[str, int] | None = None,
    *,
    wait: bool = True,
) -> int:
    """Send committed messages; record which the broker took and which it refused.

    `attempts`: how often each was tried before (the sweep's retries). With `wait=False` the
    messages sent are marked so in the background: a write's caller does not wait for a second
    transaction, and a mark that never lands only means the sweep sends that message again.
    Returns how many were sent. Never raises: the change is committed, and whatever could not be
    sent or recorded here the sweep sends later.
    """
    if not messages:
        return 0
    sent: list[str] = []
    failed: list[dict[str, Any]] = []
    for message in messages:
        try:
            publisher(message)
            sent.append(message.id)
        except Exception as exc:
            tries = (attempts or {}).get(message.id, 0) + 1
            retry = backoff(tries)
            logger = log.error if tries >= 5 else log.warning
            logger(
                "could not publish %s%r (outbox %s, try %d), next try in %ds: %s",
                message.actor_name,
                message.args,
                message.id,
                tries,
                retry.total_seconds(),
                exc,
            )
            failed.append(
                {
                    "id": message.id,
                    "nextAttemptAt": _now() + retry,
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                }
            )
    at = _now()
    if not wait and sent:
        _sent_marks(graph).add(sent, at)
        sent_now: list[str] = []
    else:
        sent_now = sent

    def record(tx: ManagedTransaction) -> None:
        if sent_now:
            outbox_cypher.mark_sent(tx, sent_now, at)
        if failed:
            outbox_cypher.record_failures(tx, failed)

    if sent_now or failed:
        try:
            graph.write(record)
        except StorageUnavailable as exc:
            log.warning("could not record the outcome of %d message(s): %s", len(messages), exc)
    return len(sent)


class _SentMarks:
    """Marks messages sent from a thread of its own, many per transaction."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.queue: queue.SimpleQueue[tuple[list[str], datetime]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="itsm-outbox-sent", daemon=True).start()

    def add(self, ids: list[str], at: datetime) -> None:
        self.queue.put((ids, at))

    def _run(self) -> None:
        while True:
            batch, at = self.queue.get()
            with contextlib.suppress(queue.Empty):
                while len(batch) < 5_000:
                    more, at = self.queue.get_nowait()
                    batch = batch + more
            try:
                self.graph.write(partial(outbox_cypher.mark_sent, ids=batch, at=at))
            except Exception as exc:  # the sweep sends them again; workers skip what they handled
                log.warning("could not mark %d outbox message(s) sent: %s", len(batch), exc)


_marks: dict[int, _SentMarks] = {}
_marks_lock = threading.Lock()


def _sent_marks(graph: Graph) -> _SentMarks:
    with _marks_lock:
        marks = _marks.get(id(graph))
        if marks is None or marks.graph is not graph:
            marks = _marks[id(graph)] = _SentMarks(graph)
        return marks


def relay_unsent(graph: Graph, publisher: Publisher, *, limit: int = 500) -> int:
    """The sweep: send what the committing process did not (it died, or the broker was down).
    Returns how many were sent."""
    at = _now()
    claimed = graph.write(lambda tx: outbox_cypher.claim_unsent(tx, at, at + RELAY_LEASE, limit))
    messages = [
        Message(
            row["actor"], tuple(json.loads(row["args"])), id=row["id"], eta=_native(row["etaAt"])
        )
        for row in claimed
    ]
    return deliver(graph, publisher, messages, {r["id"]: int(r["attempts"]) for r in claimed})


def purge_sent(graph: Graph) -> int:
    return graph.write(lambda tx: outbox_cypher.purge_sent(tx, _now() - SENT_RETENTION, 10_000))


def _native(value: Any) -> datetime | None:
    """The driver returns its own DateTime; the broker wants Python's."""
    native: datetime | None = value.to_native() if hasattr(value, "to_native") else value
    return native


def is_unhandled(graph: Graph, message_id: str) -> bool:
    return graph.read(lambda tx: outbox_cypher.is_pending(tx, message_id))


def mark_handled(graph: Graph, message_id: str) -> None:
    graph.write(lambda tx: outbox_cypher.mark_handled(tx, message_id))
