"""What actors share inside one worker process: the settings and one store."""

from __future__ import annotations

import threading

from graphdb.driver import Graph
from graphdb.write_path import Store
from itsm.config import Settings

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
            from workers.broker import publish

            _store = Store(Graph(Settings.from_env().graph_config()), publish)
        return _store
