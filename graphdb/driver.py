"""One wrapper around the Neo4j driver.

Reads go through `execute_read` (routable to cluster readers), writes through `execute_write`, both
always naming the database. Driver failures that mean "the store is not there" become
`StorageUnavailable`, so the API reports them as such instead of as internal errors.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import neo4j
from neo4j import GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    DatabaseUnavailable,
    ServiceUnavailable,
    SessionExpired,
)

from core.errors import StorageUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

Work = Callable[[ManagedTransaction], T]

_UNAVAILABLE = (ServiceUnavailable, SessionExpired, DatabaseUnavailable, AuthError, OSError)

# The HTTP gate sets this for each request, so the reads one request makes can be told apart from
# the reads of background work (in-process actors, sweeps) running at the same time.
serving_request: ContextVar[str | None] = ContextVar("serving_request", default=None)

# Enough to look a request up just after it answered; older tallies are dropped.
_TALLIES_KEPT = 512


@dataclass(frozen=True)
class GraphConfig:
    uri: str
    user: str
    password: str | None
    database: str
    # How long a transaction is retried on transient errors before giving up; short, so an API
    # request fails fast and clearly while the store is down instead of hanging.
    retry_seconds: float = 5.0
    connect_timeout: float = 3.0


class Graph:
    def __init__(self, config: GraphConfig) -> None:
        self.config = config
        # Transactions run through this graph; tests read them to catch per-parent round trips.
        # Reads are counted apart because background threads (outbox marks, sweeps) only write,
        # so a query's cost can be measured while they run.
        self.transactions = 0
        self.reads = 0
        self._reads_by_request: OrderedDict[str, int] = OrderedDict()
        self._tally_lock = threading.Lock()
        auth = (config.user, config.password) if config.password else None
        self._driver = GraphDatabase.driver(
            config.uri,
            auth=auth,
            max_transaction_retry_time=config.retry_seconds,
            connection_timeout=config.connect_timeout,
            connection_acquisition_timeout=config.connect_timeout + 2,
            max_connection_pool_size=50,
            # Hints like "label does not exist yet" are noise on a young graph.
            notifications_min_severity="OFF",
        )

    @property
    def database(self) -> str:
        return self.config.database

    def _session(self, access: str) -> neo4j.Session:
        return self._driver.session(database=self.config.database, default_access_mode=access)

    def reads_of(self, request_id: str) -> int:
        """The read transactions made on behalf of one request (its response's X-Request-Id)."""
        with self._tally_lock:
            return self._reads_by_request.get(request_id, 0)

    def _tally_read(self) -> None:
        self.reads += 1
        request_id = serving_request.get()
        if request_id is None:
            return
        with self._tally_lock:
            tallies = self._reads_by_request
            tallies[request_id] = tallies.get(request_id, 0) + 1
            tallies.move_to_end(request_id)
            while len(tallies) > _TALLIES_KEPT:
                tallies.popitem(last=False)

    def read(self, work: Work[T]) -> T:
        self.transactions += 1
        self._tally_read()
        try:
            with self._session(neo4j.READ_ACCESS) as session:
                return session.execute_read(work)
        except _UNAVAILABLE as exc:
            raise StorageUnavailable(_describe(exc)) from exc

    def write(self, work: Work[T]) -> T:
        self.transactions += 1
        try:
            with self._session(neo4j.WRITE_ACCESS) as session:
                return session.execute_write(work)
        except _UNAVAILABLE as exc:
            raise StorageUnavailable(_describe(exc)) from exc

    def run_schema(self, statement: str, **params: Any) -> None:
        """Schema commands cannot share a transaction with data writes: one auto-commit each."""
        try:
            with self._session(neo4j.WRITE_ACCESS) as session:
                session.run(statement, params).consume()
        except _UNAVAILABLE as exc:
            raise StorageUnavailable(_describe(exc)) from exc

    def ping(self) -> None:
        def probe(tx: ManagedTransaction) -> None:
            tx.run("RETURN 1").consume()

        self.read(probe)

    def close(self) -> None:
        self._driver.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"Neo4j at this address did not answer ({type(exc).__name__}: {text})"
