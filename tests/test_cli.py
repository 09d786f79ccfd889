"""The `itsm` command as an operator runs it, as real processes.

`itsm run` starts its own Neo4j (in a temporary data directory, on free ports) and must stop it on
Ctrl-C or SIGTERM whatever happens to its stdout; it keeps one development admin token between
runs. `itsm serve --workers 2` serves from two processes and stops on SIGTERM.
"""

from __future__ import annotations

import fcntl
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from graphdb.write_path import Store
from itsm.background import free_port
from itsm.cli import DEVELOPMENT_TOKEN_FILE
from itsm.config import Settings
from tests.conftest import ROOT, Api

START_SECONDS = 240


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class DevelopmentRun:
    """`itsm run` in a process of its own, with its own data directory and ports."""

    data_dir: Path
    stdout: int | IO[bytes] | None = subprocess.PIPE
    api_port: int = field(default_factory=free_port)
    neo4j_port: int = field(default_factory=free_port)
    options: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("NEO4J_URI", "BROKER_URL", "ITSM_ENV")
        }
        env.update(
            ITSM_DATA_DIR=str(self.data_dir),
            ITSM_PORT=str(self.api_port),
            ITSM_NEO4J_PORT=str(self.neo4j_port),
            ITSM_NEO4J_HEAP="1g",
            ITSM_NEO4J_PAGECACHE="128m",
        )
        return env

    def start(self) -> DevelopmentRun:
        # The Neo4j jars and the compiled launcher are shared with every other test.
        runtime = self.data_dir / "neo4j-runtime"
        if not runtime.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            runtime.symlink_to(ROOT / ".itsm" / "neo4j-runtime")
        with (self.data_dir / "run.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "itsm.cli", "run", *self.options],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=self.stdout,
                stderr=log,
            )
        return self

    def banner(self) -> str:
        """What it printed up to the line that says how to stop it."""
        assert self.process is not None and self.process.stdout is not None
        lines = []
        for raw in self.process.stdout:
            lines.append(raw.decode())
            if "Ctrl-C stops everything" in lines[-1]:
                return "".join(lines)
        pytest.fail(f"itsm run ended its output early: {''.join(lines)}{self.log()}")

    def log(self) -> str:
        return (self.data_dir / "run.log").read_text(errors="replace")[-4000:]

    def wait_until_serving(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"itsm run exited with {self.process.returncode}:\n{self.log()}")
            with suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{self.api_port}/healthz").status_code == 200:
                    return
            time.sleep(0.3)
        pytest.fail(f"itsm run did not serve within {START_SECONDS} s:\n{self.log()}")

    def neo4j_pid(self) -> int:
        return int((self.data_dir / "neo4j" / "neo4j.pid").read_text())

    def stop(self, sig: signal.Signals) -> int:
        """Send the signal; the exit code once it is gone."""
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"itsm run did not exit within 120 s of {sig.name}:\n{self.log()}")
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()

    def itsm(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "itsm.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    def ask(self, token: str, query: str) -> dict[str, Any]:
        response = httpx.post(
            f"http://127.0.0.1:{self.api_port}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def me(self, token: str) -> dict[str, Any]:
        me: dict[str, Any] = self.ask(token, "{ me { name role } }")["me"]
        return me


@pytest.fixture
def runs() -> Iterator[list[DevelopmentRun]]:
    """The runs a test starts; whatever they leave behind (a failing test) is ended."""
    started: list[DevelopmentRun] = []
    yield started
    for run in started:
        if run.process is not None:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()
            if run.process.stdout is not None:
                run.process.stdout.close()
        with suppress(FileNotFoundError, ValueError):
            pid = run.neo4j_pid()
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


def assert_neo4j_stopped(run: DevelopmentRun, pid: int) -> None:
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), f"the Neo4j that itsm run started (pid {pid}) still runs"
    assert not answers(run.neo4j_port), f"Neo4j's Bolt port {run.neo4j_port} still answers"
    assert not answers(run.api_port), f"the API's port {run.api_port} still answers"


def token_in(banner: str) -> tuple[str, str]:
    lines = banner.splitlines()
    at = next(n for n, line in enumerate(lines) if line.strip().startswith("Token:"))
    return lines[at].split(":", 1)[1].strip(), lines[at + 1].strip()


def test_the_development_token_is_kept_and_ctrl_c_on_a_closed_pipe_stops_neo4j(
    tmp_path: Path, runs: list[DevelopmentRun]
) -> None:
    data_dir = tmp_path / "itsm"
    first = DevelopmentRun(data_dir)
    runs.append(first.start())
    banner = first.banner()
    assert "Loaded the demo estate" in banner, banner
    token, which = token_in(banner)
    assert which.startswith("new"), which
    kept = data_dir / DEVELOPMENT_TOKEN_FILE
    assert kept.read_text().strip() == token
    assert kept.stat().st_mode & 0o777 == 0o600
    first.wait_until_serving()
    assert first.me(token)["role"] == "admin"
    shop = first.ask(
        token, '{ cis(first: 5, filter: {ciClass: "Service"}) { edges { node { name } } } }'
    )
    assert "Online Shop" in {e["node"]["name"] for e in shop["cis"]["edges"]}
    pid = first.neo4j_pid()

    assert first.stop(signal.SIGTERM) == 0
    assert_neo4j_stopped(first, pid)

    second = DevelopmentRun(data_dir)
    runs.append(second.start())
    banner = second.banner()
    assert "Loaded the demo estate" not in banner, banner  # it is there from the first run
    again, which = token_in(banner)
    assert again == token
    assert "still valid" in which
    second.wait_until_serving()
    assert second.me(token)["role"] == "admin"
    names = [line for line in second.itsm("token", "list").splitlines() if "itsm run" in line]
    assert len(names) == 1, names  # one development token, not one per run
    pid = second.neo4j_pid()
    # `itsm run | tee run.log`, then Ctrl-C: tee goes first and the pipe breaks.
    assert second.process is not None and second.process.stdout is not None
    second.process.stdout.close()

    second.stop(signal.SIGINT)

    assert_neo4j_stopped(second, pid)


def test_sigterm_with_stdout_a_full_pipe_stops_neo4j_and_an_unknown_kept_token_is_replaced(
    tmp_path: Path, runs: list[DevelopmentRun]
) -> None:
    data_dir = tmp_path / "itsm"
    data_dir.mkdir()
    (data_dir / DEVELOPMENT_TOKEN_FILE).write_text("itsm_not-a-token-of-this-database\n")
    # A reader that stopped reading (`itsm run | less`, scrolled back): the pipe is full before
    # itsm run writes its first line.
    read_end, write_end = os.pipe()
    flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
    fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    with suppress(BlockingIOError):
        while True:
            os.write(write_end, b"x" * 4096)
    fcntl.fcntl(write_end, fcntl.F_SETFL, flags)
    try:
        run = DevelopmentRun(data_dir, stdout=write_end, options=("--no-demo",))
        runs.append(run.start())
        os.close(write_end)
        run.wait_until_serving()
        token = (data_dir / DEVELOPMENT_TOKEN_FILE).read_text().strip()
        assert token != "itsm_not-a-token-of-this-database"
        assert run.me(token)["role"] == "admin"
        assert run.ask(token, "{ cis(first: 1) { edges { node { id } } } }")["cis"]["edges"] == []
        pid = run.neo4j_pid()

        assert run.stop(signal.SIGTERM) == 0

        assert_neo4j_stopped(run, pid)
    finally:
        os.close(read_end)
        with suppress(OSError):
            os.close(write_end)


def test_ctrl_c_while_neo4j_is_starting_stops_it(
    tmp_path: Path, runs: list[DevelopmentRun]
) -> None:
    run = DevelopmentRun(tmp_path / "itsm")
    runs.append(run.start())
    pid_file = run.data_dir / "neo4j" / "neo4j.pid"
    deadline = time.monotonic() + START_SECONDS
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert run.process is not None and run.process.poll() is None, run.log()
        assert time.monotonic() < deadline, run.log()
        time.sleep(0.05)
    pid = run.neo4j_pid()

    run.stop(signal.SIGINT)  # as a rule before Bolt is up, while the launcher waits for it

    assert_neo4j_stopped(run, pid)


# -- itsm serve --workers ----------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == pid:
                    found.append(int(entry.name))
    return found


def serving_pid(client_port: int, server_port: int, candidates: list[int]) -> int | None:
    """Which process holds the server's end of the connection from `client_port`.

    The kernel's table of TCP sockets names the socket (by inode) whose remote end is the
    client's port; the process whose descriptors include that socket is the one serving it.
    """
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cells = line.split()
        local, remote, inode = cells[1], cells[2], cells[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            inodes.add(f"socket:[{inode}]")
    for pid in candidates:
        with suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None


def test_serve_with_two_workers_answers_from_two_processes_and_stops_on_sigterm(
    api: Api, store: Store, settings: Settings, tmp_path: Path
) -> None:
    token = api.as_role(store, "viewer").token
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": settings.bolt_uri,
        "BROKER_URL": settings.broker_url or "",
        "ITSM_TOKEN_CACHE_SECONDS": "0",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "itsm.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so a failed run can kill its workers along with it.
            start_new_session=True,
        )
    connections: list[http.client.HTTPConnection] = []
    try:
        deadline = time.monotonic() + 120
        # The socket answers as soon as one worker is up; a worker still starting (importing
        # the schema, migrating) accepts nothing yet, so both must say they are ready.
        while (
            len(children(server.pid)) < 2
            or log_path.read_text().count("Application startup complete.") < 2
            or not answers(port)
        ):
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)

        def ask(connection: http.client.HTTPConnection) -> int:
            connection.request(
                "POST",
                "/graphql",
                b'{"query": "{ me { role } }"}',
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            assert response.status == 200, response.read()
            assert b'"viewer"' in response.read()
            return response.status

        serving: set[int] = set()
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Keep-alive connections opened together; each is accepted by whichever worker
            # wins it. Until both have won some (a few rounds at most, in practice the first).
            for _ in range(8):
                fresh = [
                    http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(8)
                ]
                assert list(pool.map(ask, fresh)) == [200] * 8
                connections += fresh
                workers = children(server.pid)
                for connection in fresh:
                    assert connection.sock is not None
                    client_port = connection.sock.getsockname()[1]
                    pid = serving_pid(client_port, port, workers)
                    assert pid is not None, "no worker process holds the connection"
                    serving.add(pid)
                if len(serving) >= 2:
                    break
        assert len(serving) == 2, f"only process(es) {serving} answered"
        for connection in connections:
            connection.close()

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log_path.read_text()
        for pid in serving:
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not alive(pid), f"worker {pid} outlived the server"
        assert not answers(port)
    finally:
        for connection in connections:
            connection.close()
        # Whatever failed, no worker outlives the test (a SIGKILLed server cannot stop its own).
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        if server.poll() is None:
            server.wait()
