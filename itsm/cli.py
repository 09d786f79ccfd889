"""The `itsm` command."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

from core.access import SYSTEM
from graphdb import launcher
from graphdb.driver import Graph
from graphdb.migrations import migrate
from graphdb.write_path import Store
from itsm.config import LOOPBACK, Settings

log = logging.getLogger("itsm")


def launcher_config(settings: Settings) -> launcher.Neo4jLauncherConfig:
    return launcher.Neo4jLauncherConfig(
        home=settings.neo4j_home,
        host=settings.embedded_host,
        port=settings.embedded_port,
        password=settings.neo4j_password,
        heap=settings.embedded_heap,
        pagecache=settings.embedded_pagecache,
        cache_dir=settings.data_dir / "neo4j-runtime",
    )


def _store(settings: Settings) -> Store:
    from workers.broker import install_broker, publish

    install_broker(settings.broker_url)
    # Without a broker, messages wait in the outbox for the relay of the next `itsm run`/`serve`:
    # a stub broker's queue would vanish with this command.
    return Store(Graph(settings.graph_config()), publish if settings.broker_url else None)


def cmd_neo4j(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.embedded:
        print(f"NEO4J_URI is set ({settings.neo4j_uri}): this service uses that server.")
        return 2
    cfg = launcher_config(settings)
    if args.action == "start":
        status = launcher.start(cfg)
        print(f"Neo4j running (pid {status.pid}) at {status.uri}, data in {cfg.home}")
    elif args.action == "stop":
        was = launcher.stop(cfg)
        print("Neo4j stopped" if was else "Neo4j was not running")
    else:
        status = launcher.status(cfg)
        print(
            f"Neo4j running (pid {status.pid}) at {status.uri}"
            if status.running
            else "Neo4j not running"
        )
        return 0 if status.running else 3
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    graph = Graph(settings.graph_config())
    try:
        applied = migrate(graph)
    finally:
        graph.close()
    print(f"applied {len(applied)} migration(s)" if applied else "schema up to date")
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from domain.demo import load_demo_estate

    if not args.demo:
        print("nothing to seed: pass --demo", file=sys.stderr)
        return 2
    store = _store(settings)
    try:
        migrate(store.graph)
        loaded = load_demo_estate(store)
    finally:
        store.graph.close()
    print("demo estate loaded" if loaded else "demo estate already present")
    return 0


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from domain.tokens import issue_token, list_tokens, revoke_token

    store = _store(settings)
    try:
        migrate(store.graph)
        action = args.token_command
        if action == "list":
            for t in list_tokens(store):
                state = "revoked" if t["revoked"] else "active"
                print(f"{t['id']}  {t['role']:<10} {state:<8} {t['name']}")
            return 0
        if action == "revoke":
            revoke_token(store, SYSTEM, args.id)
            print(f"revoked token {args.id}")
            return 0
        issued = issue_token(store, SYSTEM, args.role, args.name or f"{args.role} token")
    finally:
        store.graph.close()
    print(f"created {issued.role.value} token {issued.id!r} ({issued.name}); it is shown once:")
    print(issued.secret)
    return 0


def serving_gc() -> None:
    """Collect cyclic garbage less often while serving.

    A large answer (an impact over thousands of CIs) allocates hundreds of thousands of
    short-lived objects; with the default first-generation threshold of 700 the collector runs
    hundreds of times per request, which measured about 15% of such a request. Objects alive at
    start-up (modules, the schema) are moved out of the collector's sight for good.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from itsm.app import create_app

    if settings.host not in LOOPBACK and settings.anonymous_read:
        log.warning("anonymous read is on while listening on %s", settings.host)
    app = create_app(settings)
    serving_gc()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    if settings.broker_url is None:
        print("itsm worker needs BROKER_URL (redis://… or amqp://…)", file=sys.stderr)
        return 2
    if args.no_scheduler:
        os.environ["ITSM_WORKER_SCHEDULER"] = "0"
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.main",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    """The sweep alone, for deployments that keep it out of the worker processes."""
    import dramatiq

    from workers.broker import import_extensions
    from workers.relay import send
    from workers.scheduler import Scheduler, lock_for

    if settings.broker_url is None:
        print("itsm scheduler needs BROKER_URL (redis://… or amqp://…)", file=sys.stderr)
        return 2
    import_extensions(settings.extension_modules)
    store = _store(settings)
    interval = args.sweep_seconds or settings.sweep_seconds
    lock = lock_for(dramatiq.get_broker(), store, settings.scheduler_lock_seconds)
    scheduler = Scheduler(store, send, lock, interval)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stopping.set())
    log.info("scheduler started, sweeping every %gs while it holds the lock", interval)
    try:
        scheduler.run()
    finally:
        store.graph.close()
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from itsm.importer import run_import

    token = args.token or os.environ.get("ITSM_TOKEN")
    if not token:
        print("itsm import needs a token: --token or ITSM_TOKEN", file=sys.stderr)
        return 2
    url = args.url or f"http://{settings.host}:{settings.port}/graphql"
    return run_import(
        Path(args.file),
        url=url,
        token=token,
        source=args.source,
        batch_size=args.batch_size,
        dry_run=args.dry_run,
    )


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Everything for a developer: Neo4j, schema, demo data, a token, the API."""
    from domain.demo import load_demo_estate
    from domain.tokens import issue_token

    cfg = launcher_config(settings)
    started = False
    if settings.embedded:
        print(f"Starting Neo4j {cfg.version} (data in {cfg.home}) …", flush=True)
        was_running = launcher.status(cfg).running
        status = launcher.start(cfg)
        started = not was_running
        print(f"Neo4j ready at {status.uri}", flush=True)

    def stop_neo4j(*_: object) -> None:
        if started:
            print("Stopping Neo4j …", flush=True)
            launcher.stop(cfg)
            print("Neo4j stopped.", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        store = _store(settings)
        migrate(store.graph)
        if load_demo_estate(store):
            print("Loaded the demo estate (an online shop).")
        issued = issue_token(store, SYSTEM, "admin", "development admin (itsm run)")
        store.graph.close()
        url = f"http://{settings.host}:{settings.port}/graphql"
        print()
        print(f"  GraphiQL:  {url}")
        print(f"  Token:     {issued.secret}")
        print('  In GraphiQL, add the header {"Authorization": "Bearer <token>"}.')
        if settings.broker_url is None:
            print(
                "  Workers:   in-process on a stub broker (no BROKER_URL): actors, outbox relay"
                " and timer sweep run inside the API, development mode"
            )
        print("  Ctrl-C stops everything.\n", flush=True)
        cmd_serve(settings, args)
    finally:
        stop_neo4j()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itsm", description="Graph-native ITSM service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the API against the configured Neo4j and broker")
    sub.add_parser("run", help="start Neo4j, migrate, load the demo, serve (development)")
    worker = sub.add_parser("worker", help="run the Dramatiq actors against BROKER_URL")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument(
        "--no-scheduler", action="store_true", help="leave the sweep to `itsm scheduler`"
    )
    scheduler = sub.add_parser(
        "scheduler", help="run the periodic sweep (outbox relay, due timers) under the lock"
    )
    scheduler.add_argument(
        "--sweep-seconds", type=float, help="seconds between sweeps (default ITSM_SWEEP_SECONDS)"
    )
    neo4j = sub.add_parser("neo4j", help="the project's own Neo4j")
    neo4j.add_argument("action", choices=["start", "stop", "status"])
    sub.add_parser("migrate", help="apply schema migrations")
    seed = sub.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", help="the demo online shop")
    importing = sub.add_parser("import", help="send a CSV or JSON file of CIs through the API")
    importing.add_argument("file")
    importing.add_argument("--source", default="file-import", help="who the data comes from")
    importing.add_argument("--url", help="the API (default: http://ITSM_HOST:ITSM_PORT/graphql)")
    importing.add_argument("--token", help="an API token (default: $ITSM_TOKEN)")
    importing.add_argument("--batch-size", type=int, default=1000)
    importing.add_argument("--dry-run", action="store_true", help="report, write nothing")
    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token; printed on the last line")
    create.add_argument("--role", required=True)
    create.add_argument("--name")
    token_sub.add_parser("list", help="list tokens (never their secrets)")
    revoke = token_sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id")
    return parser


COMMANDS = {
    "serve": cmd_serve,
    "run": cmd_run,
    "worker": cmd_worker,
    "scheduler": cmd_scheduler,
    "neo4j": cmd_neo4j,
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "token": cmd_token,
    "import": cmd_import,
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        return COMMANDS[args.command](settings, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the one place a command's failure becomes a message
        from core.errors import DomainError

        if isinstance(exc, DomainError | launcher.LauncherError):
            print(f"itsm {args.command}: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
