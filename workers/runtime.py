"""What actors share inside one worker process: one store, whose messages go to the broker."""

from __future__ import annotations

import threading

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
            _store = Store(Graph(Settings.from_env().graph_config()), send)
        return _store
