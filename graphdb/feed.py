"""Live updates: committed changes announced to the subscribers of every API process.

A unit of work stages announcements (`UnitOfWork.announce`); after commit the store hands each
to its announcer. With Redis (`BROKER_URL=redis://…`) the announcer publishes it on the broker's
Redis, channel `itsm:feed:<topic>`, and every API process holds one subscription to those
channels (`RedisFeed`), however many clients it serves, fanning each announcement out to its own
subscribers. Worker processes and the scheduler announce the same way, so a change a worker makes
(an escalation) reaches the subscribers of every API process. Without a broker (development) the
API process runs the actors itself and `LocalFeed` hands its announcements straight to its own
subscribers.

Redis pub/sub delivers at most once: what is announced while an API process is cut off from
Redis does not reach its subscribers, and a subscriber that falls more than `BACKLOG`
announcements behind is ended with `LIMIT_EXCEEDED` rather than silently skipped. Either way the
records themselves are committed; a client re-reads what it shows when it subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import redis
import redis.asyncio

from core.errors import LimitExceeded

log = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL_PREFIX = "itsm:feed:"
# Announcements one subscriber may have waiting before it is ended as fallen behind.
BACKLOG = 1000
# Announcements a process may have waiting for Redis before it drops them (Redis is away).
OUTGOING = 10_000
RECONNECT_FIRST = 0.5
RECONNECT_LAST = 10.0


class Announcer(Protocol):
    """Hands a committed change to live subscribers. Never raises for a delivery problem: the
    change is committed whatever becomes of its announcement."""

    def __call__(self, topic: str, payload: Mapping[str, Any]) -> None: ...


def channel(topic: str) -> str:
    return f"{CHANNEL_PREFIX}{topic}"


def is_redis(url: str | None) -> bool:
    return url is not None and url.startswith(("redis://", "rediss://", "unix://"))


class RedisAnnouncer:
    """Publishes announcements on Redis from a thread of its own, in the order they were made.

    A write's caller never waits for Redis: while Redis is away its announcements queue up (to
    `OUTGOING`, then they are dropped) and the problem is logged once per outage.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._outgoing: queue.Queue[tuple[str, str]] = queue.Queue(maxsize=OUTGOING)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._failing = False

    def __call__(self, topic: str, payload: Mapping[str, Any]) -> None:
        self._ensure_thread()
        try:
            self._outgoing.put_nowait((channel(topic), json.dumps(payload)))
        except queue.Full:
            log.warning("live updates: %d announcements wait for Redis, dropping one", OUTGOING)

    def _ensure_thread(self) -> None:
        # A forked worker process inherits the object but not the thread.
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="itsm-feed-announcer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        while True:
            name, data = self._outgoing.get()
            try:
                client.publish(name, data)
            except redis.RedisError as exc:
                if not self._failing:
                    log.warning("live updates: Redis did not take an announcement (%s)", exc)
                self._failing = True
                continue
            if self._failing:
                log.info("live updates: Redis takes announcements again")
                self._failing = False


_ANNOUNCERS: dict[str, RedisAnnouncer] = {}
_ANNOUNCERS_LOCK = threading.Lock()


def announcer_for(broker_url: str | None) -> Announcer | None:
    """What a worker's or scheduler's store announces through: Redis when the broker is Redis
    (one announcer per process and URL); with another broker nobody outside hears."""
    if broker_url is None or not is_redis(broker_url):
        return None
    with _ANNOUNCERS_LOCK:
        if broker_url not in _ANNOUNCERS:
            _ANNOUNCERS[broker_url] = RedisAnnouncer(broker_url)
        return _ANNOUNCERS[broker_url]


class Subscriber:
    """One live subscription's waiting announcements."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._waiting: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=BACKLOG)
        self._fell_behind = False

    def offer(self, payload: dict[str, Any]) -> None:
        try:
            self._waiting.put_nowait(payload)
        except asyncio.QueueFull:
            # The reader is not waiting (its queue is full): it sees this at its next read.
            self._fell_behind = True

    async def next(self) -> dict[str, Any]:
        if self._fell_behind:
            raise LimitExceeded(
                "subscription",
                BACKLOG,
                f"this subscription fell more than {BACKLOG} changes behind and was ended: "
                "subscribe again and re-read what you show",
            )
        return await self._waiting.get()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.next()


class Feed:
    """One API process's side of the live updates: its subscribers, fed from one source."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._shared: dict[Hashable, asyncio.Future[Any]] = {}
        # How many subscriptions this process has started, ever (operators and tests watch it).
        self.started = 0

    @property
    def announcer(self) -> Announcer | None:
        """What this process's store announces through."""
        raise NotImplementedError

    async def start(self) -> None:
        """Called once the process's event loop runs."""

    async def stop(self) -> None:
        """Called when the process stops serving."""

    @contextlib.contextmanager
    def subscribe(self, topic: str) -> Iterator[Subscriber]:
        """A subscriber to `topic` for as long as the block runs; it hears only what is
        announced after it subscribed."""
        subscriber = Subscriber(topic)
        self._subscribers.setdefault(topic, set()).add(subscriber)
        self.started += 1
        try:
            yield subscriber
        finally:
            self._subscribers[topic].discard(subscriber)

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    async def shared(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`, shared by every subscriber that asks for the same `key` while it runs.

        The subscribers that hear one announcement wake together and mostly need the same
        record read the same way: one read instead of one each. A read that started after the
        announcement was dispatched sees at least the change it announced.
        """
        running = self._shared.get(key)
        if running is None:
            running = asyncio.ensure_future(read())
            self._shared[key] = running
            running.add_done_callback(lambda _: self._shared.pop(key, None))
        # One subscriber leaving (its client went away) must not cancel the others' read.
        result: T = await asyncio.shield(running)
        return result

    def dispatch(self, topic: str, payload: dict[str, Any]) -> None:
        """Hand one announcement to every subscriber of its topic (on the event loop)."""
        for subscriber in tuple(self._subscribers.get(topic, ())):
            subscriber.offer(payload)


class LocalFeed(Feed):
    """Development without a broker: this process's own announcements, to its own subscribers.

    Writes run in threads off the event loop, so announcements cross to it thread-safely.
    """

    def __init__(self) -> None:
        super().__init__()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def announcer(self) -> Announcer:
        return self._announce

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None

    def _announce(self, topic: str, payload: Mapping[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not serving: nobody can be listening
        loop.call_soon_threadsafe(self.dispatch, topic, dict(payload))


class RedisFeed(Feed):
    """Every process's announcements, heard through one Redis subscription per API process."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._announcer = RedisAnnouncer(url)
        self._listening: asyncio.Task[None] | None = None

    @property
    def announcer(self) -> Announcer:
        return self._announcer

    async def start(self) -> None:
        self._listening = asyncio.create_task(self._listen(), name="itsm-feed-listener")

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None

    async def _listen(self) -> None:
        wait = RECONNECT_FIRST
        while True:
            client = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=5)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                    if wait > RECONNECT_FIRST:
                        log.info("live updates: listening on Redis again")
                    wait = RECONNECT_FIRST
                    async for message in pubsub.listen():
                        self._received(message)
                problem = "the subscription ended"
            except (redis.RedisError, OSError) as exc:
                problem = str(exc)
            finally:
                # The stubs (types-redis) predate aclose; close() is deprecated since redis 5.
                await client.aclose()  # type: ignore[attr-defined]
            log.warning(
                "live updates: lost Redis (%s); subscribers miss changes until it is back, "
                "trying again in %.1fs",
                problem,
                wait,
            )
            await asyncio.sleep(wait)
            wait = min(wait * 2, RECONNECT_LAST)

    def _received(self, message: Mapping[str, Any]) -> None:
        if message.get("type") != "pmessage":
            return
        name = _text(message["channel"])
        try:
            payload = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("live updates: ignored an announcement that is not JSON on %s", name)
            return
        if isinstance(payload, dict):
            self.dispatch(name.removeprefix(CHANNEL_PREFIX), payload)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def feed_for(broker_url: str | None) -> Feed:
    """The feed an API process serves its subscribers from, chosen by the broker."""
    if is_redis(broker_url):
        return RedisFeed(broker_url or "")
    if broker_url is None:
        log.warning(
            "No BROKER_URL: live updates reach only the subscribers of this API process, from "
            "changes this process makes (development mode only)"
        )
    else:
        log.warning(
            "BROKER_URL is not Redis: live updates reach only the subscribers of the API "
            "process that made the change; changes made by workers are not announced"
        )
    return LocalFeed()
