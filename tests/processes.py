"""Real processes for the tests: a Redis server that can be stopped and restarted on its port,
and `itsm` commands (worker, scheduler) run as the operator runs them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import redis

from itsm.background import free_port
from itsm.config import Settings

ROOT = Path(__file__).resolve().parent.parent


class RedisServer:
    """A throw-away redis-server on loopback, without persistence."""

    def __init__(self, port: int | None = None) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed: run scripts/test, which installs it")
        self.server = server
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = tempfile.mkdtemp(prefix="itsm-test-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                *(self.server, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class ItsmProcess:
    """`python -m itsm.cli ARGS` against the test Neo4j; its output goes to a log file."""

    def __init__(
        self,
        settings: Settings,
        *args: str,
        broker_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        environment = {
            **os.environ,
            "NEO4J_URI": settings.bolt_uri,
            "NEO4J_DATABASE": settings.neo4j_database,
            "BROKER_URL": broker_url or settings.broker_url or "",
            **(env or {}),
        }
        if settings.neo4j_password:
            environment["NEO4J_PASSWORD"] = settings.neo4j_password
        self.log_path = Path(tempfile.mkstemp(prefix="itsm-test-process-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "itsm.cli", *args],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: a worker runs its actors in child processes, and killing
            # the group is what keeps none of them running after the test.
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        self.kill()  # what is left of the group: nothing, once it stopped as it should
        self._log.close()
        self.log_path.unlink(missing_ok=True)


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 60,
    processes: tuple[ItsmProcess, ...] = (),
    what: str = "the condition",
) -> Any:
    """Poll until `condition()` is truthy; fail early when one of `processes` died."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for process in processes:
            assert process.alive(), f"the process died:\n{process.output()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def itsm_processes(settings: Settings) -> Iterator[list[ItsmProcess]]:
    """Processes a test starts (`start_worker`, `start_itsm`), stopped after it."""
    # Messages and the scheduler lock left by earlier tests must not leak into this one.
    redis.Redis.from_url(settings.broker_url or "").flushdb()
    started: list[ItsmProcess] = []
    yield started
    for process in started:
        process.stop()


def start_itsm(
    processes: list[ItsmProcess],
    settings: Settings,
    *args: str,
    ready: str,
    broker_url: str | None = None,
    env: dict[str, str] | None = None,
) -> ItsmProcess:
    """Start `itsm ARGS` and wait until its output shows `ready`."""
    process = ItsmProcess(settings, *args, broker_url=broker_url, env=env)
    processes.append(process)
    wait_for(lambda: ready in process.output(), 60, (process,), f"itsm {args[0]} to start")
    return process


def start_worker(
    processes: list[ItsmProcess],
    settings: Settings,
    *extra: str,
    broker_url: str | None = None,
    env: dict[str, str] | None = None,
) -> ItsmProcess:
    return start_itsm(
        processes,
        settings,
        *("worker", "--processes", "1", "--threads", "4", *extra),
        ready="ready for action",
        broker_url=broker_url,
        env=env,
    )
