"""Every setting, read from the environment once.

With no `NEO4J_URI` the service uses the Neo4j that `itsm neo4j start` runs under the data
directory; with no `BROKER_URL` actors run inside the API process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from graphdb.driver import GraphConfig
from itsm import graphiql

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _origins(name: str) -> tuple[str, ...]:
    """Comma-separated origins as a browser sends them: scheme://host[:port], no path."""
    origins = tuple(o.strip() for o in (_env(name, "") or "").split(",") if o.strip())
    for origin in origins:
        scheme, sep, host = origin.partition("://")
        well_formed = scheme in ("http", "https") and sep and host and "/" not in host
        if origin != "*" and not well_formed:
            raise ValueError(
                f"{name}: {origin!r} is not an origin; write scheme://host[:port] without a path, "
                "e.g. https://portal.example.com"
            )
    return origins


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    neo4j_uri: str | None
    neo4j_user: str
    neo4j_password: str | None
    neo4j_database: str
    embedded_host: str
    embedded_port: int
    embedded_heap: str
    embedded_pagecache: str
    broker_url: str | None
    host: str
    port: int
    environment: str
    graphiql: bool
    anonymous_read: bool
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_body_bytes: int
    max_import_bytes: int
    cors_origins: tuple[str, ...]
    graphiql_assets: Path
    storage_retry_seconds: float
    token_cache_seconds: float
    sweep_seconds: float = 10.0
    scheduler_lock_seconds: float = 30.0
    # How long an idle worker waits between polls of the broker at most: Dramatiq's Redis
    # consumer backs off up to this when its queues are empty, and every hop of a message (a
    # timer's wake-up, then the notification it queues) may wait that long.
    worker_poll_ms: int = 100
    # How soon a killed worker's messages go back to their queue (Dramatiq's RedisBroker): a
    # worker is dead once it has not polled for `broker_heartbeat_ms`, and a poll looks for dead
    # workers with a chance of `broker_maintenance_chance` in a million. Dramatiq's own defaults
    # (60 s and 1 in 1000) leave an accepted batch waiting minutes after a crash.
    broker_heartbeat_ms: int = 15_000
    broker_maintenance_chance: int = 50_000
    broker_dead_message_ttl_ms: int = 7 * 24 * 3600 * 1000
    # The ingest endpoints (docs/MONITORING_API.md).
    ingest_max_items: int = 1000
    ingest_max_item_bytes: int = 16 * 1024
    ingest_max_body_bytes: int = 4 * 1024 * 1024
    ingest_retry_after_seconds: int = 5
    extension_modules: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    # Notifications (docs/NOTIFICATIONS.md).
    smtp_url: str | None = None
    mail_from: str = "itsm@localhost"
    push_secret: str | None = None
    notify_max_attempts: int = 12

    @classmethod
    def from_env(cls) -> Settings:
        environment = _env("ITSM_ENV", "development") or "development"
        data_dir = Path(_env("ITSM_DATA_DIR", ".itsm") or ".itsm").resolve()
        return cls(
            data_dir=data_dir,
            neo4j_uri=_env("NEO4J_URI"),
            neo4j_user=_env("NEO4J_USER", "neo4j") or "neo4j",
            neo4j_password=_env("NEO4J_PASSWORD"),
            neo4j_database=_env("NEO4J_DATABASE", "neo4j") or "neo4j",
            embedded_host=_env("ITSM_NEO4J_HOST", "127.0.0.1") or "127.0.0.1",
            embedded_port=_int("ITSM_NEO4J_PORT", 7687),
            embedded_heap=_env("ITSM_NEO4J_HEAP", "2g") or "2g",
            embedded_pagecache=_env("ITSM_NEO4J_PAGECACHE", "512m") or "512m",
            broker_url=_env("BROKER_URL"),
            host=_env("ITSM_HOST", "127.0.0.1") or "127.0.0.1",
            port=_int("ITSM_PORT", 8000),
            environment=environment,
            graphiql=_bool("ITSM_GRAPHIQL", environment != "production"),
            anonymous_read=_bool("ITSM_ANONYMOUS_READ", False),
            max_depth=_int("ITSM_MAX_DEPTH", 12),
            max_aliases=_int("ITSM_MAX_ALIASES", 30),
            max_tokens=_int("ITSM_MAX_TOKENS", 20000),
            max_body_bytes=_int("ITSM_MAX_BODY_BYTES", 1024 * 1024),
            max_import_bytes=_int("ITSM_MAX_IMPORT_BYTES", 64 * 1024 * 1024),
            cors_origins=_origins("ITSM_CORS_ORIGINS"),
            graphiql_assets=Path(
                _env("ITSM_GRAPHIQL_ASSETS") or str(graphiql.DEFAULT_ASSET_DIR)
            ).resolve(),
            storage_retry_seconds=float(_env("ITSM_STORAGE_RETRY_SECONDS", "3") or "3"),
            token_cache_seconds=float(_env("ITSM_TOKEN_CACHE_SECONDS", "30") or "30"),
            sweep_seconds=float(_env("ITSM_SWEEP_SECONDS", "10") or "10"),
            scheduler_lock_seconds=float(_env("ITSM_SCHEDULER_LOCK_SECONDS", "30") or "30"),
            worker_poll_ms=int(_env("ITSM_WORKER_POLL_MS", "100") or "100"),
            broker_heartbeat_ms=max(1000, _int("ITSM_BROKER_HEARTBEAT_MS", 15_000)),
            broker_maintenance_chance=min(
                1_000_000, max(1, _int("ITSM_BROKER_MAINTENANCE_CHANCE", 50_000))
            ),
            broker_dead_message_ttl_ms=_int(
                "ITSM_BROKER_DEAD_MESSAGE_TTL_MS", 7 * 24 * 3600 * 1000
            ),
            ingest_max_items=max(1, _int("ITSM_INGEST_MAX_ITEMS", 1000)),
            ingest_max_item_bytes=max(256, _int("ITSM_INGEST_MAX_ITEM_BYTES", 16 * 1024)),
            ingest_max_body_bytes=max(1024, _int("ITSM_INGEST_MAX_BODY_BYTES", 4 * 1024 * 1024)),
            ingest_retry_after_seconds=max(1, _int("ITSM_INGEST_RETRY_AFTER_SECONDS", 5)),
            extension_modules=tuple(
                m.strip() for m in (_env("ITSM_EXTENSION_MODULES") or "").split(",") if m.strip()
            ),
            smtp_url=_env("ITSM_SMTP_URL"),
            mail_from=_env("ITSM_MAIL_FROM", "itsm@localhost") or "itsm@localhost",
            push_secret=_env("ITSM_PUSH_SECRET"),
            notify_max_attempts=max(1, _int("ITSM_NOTIFY_MAX_ATTEMPTS", 12)),
        )

    @property
    def embedded(self) -> bool:
        return self.neo4j_uri is None

    @property
    def bolt_uri(self) -> str:
        if self.neo4j_uri:
            return self.neo4j_uri
        host = self.embedded_host if self.embedded_host != "0.0.0.0" else "127.0.0.1"  # noqa: S104
        return f"bolt://{host}:{self.embedded_port}"

    @property
    def neo4j_home(self) -> Path:
        return self.data_dir / "neo4j"

    def graph_config(self) -> GraphConfig:
        return GraphConfig(
            uri=self.bolt_uri,
            user=self.neo4j_user,
            password=self.neo4j_password,
            database=self.neo4j_database,
            retry_seconds=self.storage_retry_seconds,
        )
