"""What actors share inside one worker process: one store, whose messages go to the broker and
whose changes are announced to live subscribers (on the broker's Redis)."""

from __future__ import annotations

import threading

from graphdb import feed
from graphdb.driver import Graph
from graphdb.write_path import Store
from itsm.config import Settings
from workers.relay import send

_lock = threading.Lock()
_store: Store | None = None


def use_store(store: Store) -> None:
    """The API process hands its own store to in-process actors."""
    global _store
    _store = store


def store() -> Store:
    global _store
    with _lock:
        if _store is None:
            settings = Settings.from_env()
            _store = Store(
                Graph(settings.graph_config()), send, feed.announcer_for(settings.broker_url)
            )
        return _store
