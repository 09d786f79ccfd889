"""The `itsm` command."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import select
import signal
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from core.access import SYSTEM, Role
from graphdb import launcher
from graphdb.driver import Graph
from graphdb.migrations import migrate
from graphdb.write_path import Store
from itsm.config import LOOPBACK, Settings

log = logging.getLogger("itsm")

# How long a line for the operator may wait for a slow reader before it is dropped.
WRITE_WAIT_SECONDS = 0.5
PIPE_BUF = select.PIPE_BUF
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Where `itsm run` keeps its development admin token between runs (mode 0600).
DEVELOPMENT_TOKEN_FILE = "development-admin-token"  # noqa: S105 - a file name
DEVELOPMENT_TOKEN_NAME = "development admin (itsm run)"  # noqa: S105 - a label
# How uvicorn's worker processes build the app: an import string, as it needs for --workers > 1.
APP_FACTORY = "itsm.cli:app_from_environment"


class OperatorStream:
    """stdout or stderr of a command that must keep going whatever its reader does.

    `itsm run | tee run.log` loses its reader on Ctrl-C, so a write fails; `itsm run | less`
    may stop reading, so a write blocks, and a blocked log line in the API's event loop would
    stop it from serving and even from seeing SIGTERM. Neither may keep a command from stopping
    what it started, so a line that cannot be written soon is dropped, and while the reader is
    stalled the next ones are dropped without waiting. Python's own streams (and so print() and
    logging.StreamHandler) have no such mode, hence select() and os.write() on the descriptor;
    nothing goes through the file object's buffer, so nothing is left in it to flush at exit.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.stalled = False
        self._file: bool | None = None

    def _is_file(self) -> bool:
        """A regular file never makes a writer wait, so its lines skip the select()."""
        if self._file is None:
            try:
                self._file = stat.S_ISREG(os.fstat(self.fd).st_mode)
            except OSError:
                self._file = False
        return self._file

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode()
        if self._is_file():
            with suppress(OSError):
                os.write(self.fd, data)
            return
        with suppress(OSError, ValueError):
            # Chunks of PIPE_BUF: a pipe that select() calls writable takes that much at once.
            for start in range(0, len(data), PIPE_BUF):
                wait = 0 if self.stalled else WRITE_WAIT_SECONDS
                _, writable, _ = select.select([], [self.fd], [], wait)
                self.stalled = not writable
                if self.stalled:
                    return
                os.write(self.fd, data[start : start + PIPE_BUF])


class OperatorLogHandler(logging.Handler):
    """Log records as lines on an OperatorStream."""

    def __init__(self, stream: OperatorStream) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write_line(self.format(record))
        except Exception:
            self.handleError(record)


_stdout = OperatorStream(1)
_stderr = OperatorStream(2)


def configure_logging() -> None:
    """Every log line, uvicorn's access log too, on stderr without ever blocking."""
    handler = OperatorLogHandler(_stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, OperatorLogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def say(line: str = "") -> None:
    """One line for the operator on stdout (see OperatorStream)."""
    _stdout.write_line(line)


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
    from graphdb.feed import announcer_for
    from workers.broker import install_broker, publish

    install_broker(settings.broker_url)
    # Without a broker, messages wait in the outbox for the relay of the next `itsm run`/`serve`:
    # a stub broker's queue would vanish with this command.
    return Store(
        Graph(settings.graph_config()),
        publish if settings.broker_url else None,
        announcer_for(settings.broker_url),
    )


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
    import domain.cmdb  # noqa: F401  (declares the CI classes, whose labels get indexes)

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
                person = f"  (for {t['personId']})" if t.get("personId") else ""
                print(f"{t['id']}  {t['role']:<10} {state:<8} {t['name']}{person}")
            return 0
        if action == "revoke":
            revoke_token(store, SYSTEM, args.id)
            print(f"revoked token {args.id}")
            return 0
        issued = issue_token(
            store, SYSTEM, args.role, args.name or f"{args.role} token", person=args.person
        )
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


def app_from_environment() -> Any:
    """The API app from the environment's settings: what each uvicorn worker process builds."""
    from itsm.app import create_app

    configure_logging()  # a worker process starts with none
    app = create_app(Settings.from_env())
    serving_gc()
    return app


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from itsm.app import create_app

    if settings.host not in LOOPBACK and settings.anonymous_read:
        log.warning("anonymous read is on while listening on %s", settings.host)
    workers = getattr(args, "workers", 1)
    if workers < 1:
        print("itsm serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if workers == 1:
        app = create_app(settings)
        serving_gc()
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level="info",
            ws_max_size=settings.max_body_bytes,
        )
        return 0
    if settings.broker_url is None:
        log.warning("no BROKER_URL: each of the %d API processes runs the actors itself", workers)
    # Worker processes read the settings from the environment, so the options go there too.
    os.environ["ITSM_HOST"] = settings.host
    os.environ["ITSM_PORT"] = str(settings.port)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,  # configure_logging() has set it up
        log_level="info",
        # A websocket message is a GraphQL request too: no longer than an HTTP body may be.
        ws_max_size=settings.max_body_bytes,
    )
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    if settings.broker_url is None:
        print("itsm worker needs BROKER_URL (redis://… or amqp://…)", file=sys.stderr)
        return 2
    if args.no_scheduler:
        os.environ["ITSM_WORKER_SCHEDULER"] = "0"
    # Dramatiq's CLI takes the idle poll bound only from its environment.
    os.environ["dramatiq_worker_timeout"] = str(settings.worker_poll_ms)  # noqa: SIM112 (its name)
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
        relationships=Path(args.relationships) if args.relationships else None,
        delimiter=args.delimiter,
        encoding=args.encoding,
    )


def _write_private(path: Path, text: str) -> None:
    """Replace the file with `text`, readable and writable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    os.replace(fresh, path)


def development_token(store: Store, settings: Settings) -> tuple[str, str]:
    """The admin token `itsm run` prints and how it came about.

    The one kept in the data directory is used again while it still opens the API as admin, so
    that a run does not leave one more live admin token behind; otherwise a new one is issued and
    kept there instead.
    """
    from domain.tokens import actor_for_token, issue_token

    path = settings.data_dir / DEVELOPMENT_TOKEN_FILE
    try:
        kept = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        kept = ""
    if kept:
        actor = actor_for_token(store, kept)
        if actor is not None and actor.role is Role.ADMIN:
            return kept, f"the one kept in {path} (still valid)"
    issued = issue_token(store, SYSTEM, "admin", DEVELOPMENT_TOKEN_NAME)
    _write_private(path, issued.secret)
    why = "the one kept there is revoked or unknown to this database" if kept else "none was kept"
    return issued.secret, f"new ({why}); kept in {path}, readable only by you"


class Stopped(BaseException):
    """SIGTERM, raised where the command is, so that it unwinds as Ctrl-C does (and, like
    KeyboardInterrupt, past any `except Exception` on the way)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stopped


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A clean-up that a second Ctrl-C or SIGTERM must not cut short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Everything for a developer: Neo4j, schema, demo data, a token, the API.

    Whatever ends it (Ctrl-C, SIGTERM, an error, a closed stdout), the Neo4j it started is
    stopped; one that already ran before is left running.
    """
    from domain.demo import load_demo_estate

    cfg = launcher_config(settings)
    owns_neo4j = settings.embedded and not launcher.status(cfg).running
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if settings.embedded:
            say(f"Starting Neo4j {cfg.version} (data in {cfg.home}) …")
            status = launcher.start(cfg)
            say(f"Neo4j ready at {status.uri}")
        store = _store(settings)
        try:
            migrate(store.graph)
            if args.no_demo:
                say("Demo estate not loaded (--no-demo).")
            elif load_demo_estate(store):
                say("Loaded the demo estate (an online shop).")
            secret, which = development_token(store, settings)
        finally:
            store.graph.close()
        url = f"http://{settings.host}:{settings.port}/graphql"
        say()
        say(f"  GraphiQL:  {url}")
        say(f"  Token:     {secret}")
        say(f"             {which}")
        say('  In GraphiQL, add the header {"Authorization": "Bearer <token>"}.')
        if settings.broker_url is None:
            say(
                "  Workers:   in-process on a stub broker (no BROKER_URL): actors, outbox relay"
                " and timer sweep run inside the API, development mode"
            )
        say("  Ctrl-C stops everything.")
        say()
        cmd_serve(settings, args)
    except Stopped:
        pass
    finally:
        if owns_neo4j:
            with _signals_ignored():
                say("Stopping Neo4j …")
                launcher.stop(cfg)
                say("Neo4j stopped.")
    return 0


def _serving_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address (default: $ITSM_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default: $ITSM_PORT or 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes sharing the port (default 1; more for more cores)",
    )


def _delimiter(value: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}
    value = named.get(value.lower(), value)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"one character (or 'tab'), not {value!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="itsm", description="Graph-native ITSM service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API against the configured Neo4j and broker")
    _serving_options(serve)
    run = sub.add_parser("run", help="start Neo4j, migrate, load the demo, serve (development)")
    _serving_options(run)
    run.add_argument(
        "--no-demo", action="store_true", help="leave the graph as it is: no demo estate loaded"
    )
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
    from itsm.importer import DEFAULT_ENCODING, FORMAT_HELP

    importing = sub.add_parser(
        "import",
        help="send CSV or JSON files of CIs and relationships through the API",
        description="Send CIs and relationships through the API's importCis, in batches; "
        "progress and a summary go to stderr.",
        epilog=FORMAT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importing.add_argument("file", help="the CIs: a .csv or .json file (see below)")
    importing.add_argument(
        "--relationships", metavar="FILE", help="a CSV of relationships (see below)"
    )
    importing.add_argument(
        "--delimiter",
        type=_delimiter,
        help="the CSV delimiter, e.g. ';' or tab (default: taken from the header row)",
    )
    importing.add_argument(
        "--encoding",
        default=DEFAULT_ENCODING,
        help=f"the files' text encoding, e.g. latin-1 (default: {DEFAULT_ENCODING}, BOM or not)",
    )
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
    create.add_argument(
        "--person", help="the Person (PER… number or id) the token speaks for: its own queue"
    )
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
    configure_logging()
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    if getattr(args, "host", None) is not None:
        settings = dataclasses.replace(settings, host=args.host)
    if getattr(args, "port", None) is not None:
        settings = dataclasses.replace(settings, port=args.port)
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
