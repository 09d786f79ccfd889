"""The scheduler: a periodic sweep, run by exactly one process at a time.

Every `ITSM_SWEEP_SECONDS` the sweep relays outbox messages that their committing process did not
send, fires timers whose wake-up message was lost, and drops stale outbox entries. Any number of
worker processes (and `itsm scheduler` processes) may run a scheduler; only the holder of the
scheduler lock sweeps. The lock expires after `ITSM_SCHEDULER_LOCK_SECONDS` unless its holder
renews it, so when the holder dies another process takes over within that time.

With Redis the lock is a `redis-py` `Lock` in the broker's Redis (`SET NX PX` with a token; only
the holder can renew or release it). RabbitMQ has no such primitive, so with an `amqp://` broker
the lock is a lease on a `(:SchedulerLease)` node in Neo4j with the same expiry and renewal.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any, Protocol

import dramatiq
from dramatiq.middleware import Middleware

from graphdb import outbox, timers
from graphdb.cypher import timers as timers_cypher
from graphdb.outbox import Publisher
from graphdb.write_path import Store, now

log = logging.getLogger(__name__)

LOCK_NAME = "itsm:scheduler"
# The outbox is pruned at most this often: the sweep itself runs every few seconds.
PURGE_EVERY = 3600.0


class SchedulerLock(Protocol):
    def hold(self) -> bool:
        """Take the lock if free, renew it if this process holds it; True while held."""
        ...

    def release(self) -> None: ...


class InProcessLock:
    """Development: the only scheduler is the API process's own."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        return None


class RedisLock:
    def __init__(self, client: Any, timeout: float, name: str = LOCK_NAME) -> None:
        # Not thread-local: the sweep renews from its own thread, shutdown releases from another.
        self.lock = client.lock(name, timeout=timeout, blocking=False, thread_local=False)
        self.token = f"{timers.process_name()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    def hold(self) -> bool:
        from redis.exceptions import LockError

        if self.held:
            try:
                self.lock.reacquire()
                return True
            except LockError:
                self.held = False
                log.warning("lost the scheduler lock (it expired); trying to take it again")
        self.held = bool(self.lock.acquire(blocking=False, token=self.token))
        return self.held

    def release(self) -> None:
        from redis.exceptions import LockError, RedisError

        if self.held:
            self.held = False
            # Expired or unreachable: it frees itself at expiry.
            with contextlib.suppress(LockError, RedisError):
                self.lock.release()


class GraphLease:
    """The lock as a lease in Neo4j, for brokers without Redis."""

    def __init__(self, store: Store, timeout: float, name: str = LOCK_NAME) -> None:
        self.store = store
        self.timeout = timedelta(seconds=timeout)
        self.name = name
        self.token = f"{timers.process_name()}:{uuid.uuid4().hex[:8]}"

    def hold(self) -> bool:
        at = now()
        return self.store.graph.write(
            lambda tx: timers_cypher.hold_lease(tx, self.name, self.token, at, at + self.timeout)
        )

    def release(self) -> None:
        self.store.graph.write(lambda tx: timers_cypher.release_lease(tx, self.name, self.token))


def lock_for(broker: dramatiq.Broker, store: Store, timeout: float) -> SchedulerLock:
    from dramatiq.brokers.stub import StubBroker

    if isinstance(broker, StubBroker):
        return InProcessLock()
    client = getattr(broker, "client", None)
    if client is not None:  # Redis
        return RedisLock(client, timeout)
    return GraphLease(store, timeout)


class Scheduler:
    def __init__(
        self, store: Store, publisher: Publisher, lock: SchedulerLock, interval: float
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.lock = lock
        self.interval = interval
        self.leading: bool | None = None  # unknown until the first tick
        self.stopping = threading.Event()
        self._last_purge = 0.0
        self._thread: threading.Thread | None = None

    def sweep(self) -> tuple[int, int]:
        """One sweep: (messages relayed, timers fired)."""
        relayed = outbox.relay_unsent(self.store.graph, self.publisher)
        self._renew()
        fired = timers.fire_due(self.store, renew=self._renew)
        if time.monotonic() - self._last_purge > PURGE_EVERY:
            self._last_purge = time.monotonic()
            outbox.purge_sent(self.store.graph)
        return relayed, fired

    def _renew(self) -> None:
        if not self.lock.hold():
            raise LockLost

    def tick(self) -> None:
        held = self.lock.hold()
        if held != self.leading:
            self.leading = held
            if held:
                log.info("this process holds the scheduler lock: sweeping every %gs", self.interval)
            else:
                log.info("another process holds the scheduler lock; standing by")
        if held:
            relayed, fired = self.sweep()
            if relayed or fired:
                log.info("sweep: relayed %d outbox message(s), fired %d timer(s)", relayed, fired)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except LockLost:
                log.warning("lost the scheduler lock during a sweep; stopped sweeping")
            except Exception as exc:
                # Redis or Neo4j away: keep trying, the next tick may find them back.
                log.warning("sweep skipped: %s: %s", type(exc).__name__, exc)
            self.stopping.wait(self.interval)
        self.lock.release()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="itsm-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class LockLost(Exception):
    pass


class SchedulerMiddleware(Middleware):
    """Runs a scheduler inside each Dramatiq worker process; the lock keeps it to one sweeper."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.scheduler.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.scheduler.stop()
