"""The Starlette application: /graphql (HTTP, and websockets for subscriptions), /graphiql/*,
/healthz, /readyz, and the monitoring endpoints /v2/enqueue, /v1/events, /v1/metrics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import dramatiq
import strawberry
from anyio import to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from core.errors import StorageUnavailable
from domain import ingest
from graphdb import feed as feeds
from graphdb.driver import Graph
from graphdb.migrations import migrate
from graphdb.write_path import Store
from itsm import graphiql
from itsm.config import Settings
from itsm.http import METHODS, AllowedOrigins, GraphQLGate, GraphQLView, unknown_route
from itsm.ingest import IngestRoutes
from schema.root import build_schema
from workers import broker as brokers
from workers import runtime
from workers.scheduler import InProcessLock, Scheduler

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, *, store: Store | None = None, schema: strawberry.Schema | None = None
) -> Starlette:
    """The API; `schema` defaults to the one `build_schema` makes from the settings."""
    own_store = store is None
    # The live updates this process's subscribers hear, and what its own writes announce through.
    feed = feeds.feed_for(settings.broker_url)
    store = store or Store(Graph(settings.graph_config()), brokers.publish, feed.announcer)
    broker = brokers.install_broker(settings.broker_url, brokers.Redelivery.from_settings(settings))
    state: dict[str, Any] = {"worker": None, "scheduler": None}

    schema = schema or build_schema(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
    )
    view = GraphQLView(
        schema,
        store=store,
        feed=feed,
        graphiql_assets=settings.graphiql_assets,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
        # Browsers send an Origin with every websocket handshake and no CORS guards it: a page
        # of another origin may subscribe only when ITSM_CORS_ORIGINS lists it.
        allowed_origins=settings.cors_origins,
    )
    gate = GraphQLGate(
        view,
        store=store,
        max_body_bytes=settings.max_body_bytes,
        max_import_bytes=settings.max_import_bytes,
        max_tokens=settings.max_tokens,
        anonymous_read=settings.anonymous_read,
        graphiql=settings.graphiql,
        token_cache_seconds=settings.token_cache_seconds,
    )

    ingest.configure(
        ingest.Limits(
            max_items=settings.ingest_max_items,
            max_item_bytes=settings.ingest_max_item_bytes,
            retry_after_seconds=settings.ingest_retry_after_seconds,
        )
    )
    monitoring = IngestRoutes(gate, store, settings.ingest_max_body_bytes)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> JSONResponse:
        problems: dict[str, str] = {}
        try:
            await to_thread.run_sync(store.graph.ping)
        except StorageUnavailable as exc:
            problems["neo4j"] = exc.message
        try:
            await to_thread.run_sync(brokers.ping, broker)
        except Exception as exc:
            problems["broker"] = f"broker did not answer ({type(exc).__name__}: {exc})"
        broker_kind = "in-process" if settings.broker_url is None else "external"
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse(
            {"status": "ready", "neo4j": store.graph.config.uri, "broker": broker_kind}
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            applied = await to_thread.run_sync(migrate, store.graph)
            if applied:
                log.info("applied %d schema migration(s)", len(applied))
        except StorageUnavailable as exc:
            log.warning("migrations not applied, Neo4j unreachable: %s", exc.message)
        if settings.graphiql and graphiql.missing(settings.graphiql_assets):
            log.warning(
                "GraphiQL's files are missing from %s: run %s",
                settings.graphiql_assets,
                graphiql.FETCH_COMMAND,
            )
        await feed.start()
        if settings.broker_url is None:
            runtime.use_store(store)
            state["worker"] = brokers.start_in_process_worker(broker)
            scheduler = Scheduler(store, brokers.publish, InProcessLock(), settings.sweep_seconds)
            scheduler.start()
            state["scheduler"] = scheduler
            log.warning(
                "No BROKER_URL: actors, the outbox relay and the timer sweep run inside this API "
                "process on an in-memory stub broker (development mode only)"
            )
        try:
            yield
        finally:
            if state["scheduler"] is not None:
                state["scheduler"].stop()
            worker: dramatiq.Worker | None = state["worker"]
            if worker is not None:
                worker.stop()
            await feed.stop()
            if own_store:
                store.graph.close()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                AllowedOrigins,
                allow_origins=settings.cors_origins,
                allow_methods=METHODS,
                allow_headers=("authorization", "content-type"),
                expose_headers=("x-request-id",),
            )
        )
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", gate),
            WebSocketRoute("/graphql", gate),
            *monitoring.routes(),
            *(graphiql.routes(settings.graphiql_assets) if settings.graphiql else []),
        ],
        middleware=middleware,
        exception_handlers={404: unknown_route, 405: unknown_route},
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.feed = feed
    return app
