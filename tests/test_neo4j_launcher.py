"""The project's own Neo4j, for real: start, keep data across restarts, auth, stop, refuse unsafe setups."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from graphdb import launcher


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(home: Path, **changes: Any) -> launcher.Neo4jLauncherConfig:
    base = launcher.Neo4jLauncherConfig(home=home, port=free_port(), heap="384m", pagecache="64m")
    return dataclasses.replace(base, **changes)


def test_start_stop_restart_keeps_data_and_switches_auth_on(tmp_path: Path) -> None:
    home = tmp_path / "neo4j"
    cfg = config(home)
    try:
        first = launcher.start(cfg)
        assert first.running and first.pid is not None
        assert first.uri == f"bolt://127.0.0.1:{cfg.port}"
        assert launcher.start(cfg).pid == first.pid  # a second start finds the running one
        with pytest.raises(launcher.LauncherError, match="already runs"):
            launcher.start(dataclasses.replace(cfg, port=free_port()))  # same home, other port
        assert launcher.status(cfg) == first
        assert (home / "neo4j.pid").read_text().strip() == str(first.pid)
        assert "ITSM-NEO4J READY bolt://127.0.0.1:" in (home / "neo4j.log").read_text()
        with GraphDatabase.driver(launcher.bolt_uri(cfg)) as driver:
            driver.execute_query("CREATE (:Probe {value: 42})", database_="neo4j")

        assert launcher.stop(cfg) is True
        after = launcher.status(cfg)
        assert after.running is False and after.pid is None
        assert not (home / "neo4j.pid").exists()
        assert "ITSM-NEO4J stopped" in (home / "neo4j.log").read_text()  # shut down cleanly
        assert launcher.stop(cfg) is False

        # Same home, now with a password: the data is still there and only the password opens it.
        cfg = config(home, port=cfg.port, password="launcher-test-pw")
        second = launcher.start(cfg)
        assert second.running and second.pid != first.pid
        with GraphDatabase.driver(launcher.bolt_uri(cfg), auth=("neo4j", "launcher-test-pw")) as d:
            records, _, _ = d.execute_query(
                "MATCH (p:Probe) RETURN p.value AS v", database_="neo4j"
            )
        assert [r["v"] for r in records] == [42]
        with (
            GraphDatabase.driver(launcher.bolt_uri(cfg), auth=("neo4j", "wrong-password")) as d,
            pytest.raises(AuthError),
        ):
            d.verify_connectivity()
        assert (home / "neo4j.log.1").exists()  # the first run's output is kept
    finally:
        launcher.stop(cfg)
    assert launcher.status(cfg).running is False


def test_runtime_is_prepared_once(tmp_path: Path) -> None:
    cfg = config(tmp_path / "neo4j")
    runtime = launcher.ensure_runtime(cfg)
    marker = runtime / "lib" / ".complete"
    compiled = runtime / "classes" / "Launcher.class"
    before = (marker.stat().st_mtime_ns, compiled.stat().st_mtime_ns)
    assert launcher.ensure_runtime(cfg) == runtime
    assert (marker.stat().st_mtime_ns, compiled.stat().st_mtime_ns) == before
    assert (runtime / "lib" / f"neo4j-bolt-{launcher.NEO4J_VERSION}.jar").is_file()


def test_refuses_to_listen_beyond_loopback_without_a_password(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::"):  # noqa: S104
        cfg = config(tmp_path / "neo4j", host=host)
        with pytest.raises(launcher.LauncherError, match="NEO4J_PASSWORD"):
            launcher.start(cfg)
        assert launcher.status(cfg).running is False
    with pytest.raises(launcher.LauncherError, match="8 characters"):
        launcher.start(config(tmp_path / "neo4j", password="short"))
    assert launcher.is_loopback("localhost") and launcher.is_loopback("::1")
    assert not launcher.is_loopback("0.0.0.0")  # noqa: S104


def test_port_taken_by_another_program_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cfg = config(tmp_path / "neo4j", port=busy.getsockname()[1])
        with pytest.raises(launcher.LauncherError, match="taken by another program"):
            launcher.start(cfg)
        assert not (tmp_path / "neo4j" / "neo4j.pid").exists()


def test_a_stale_pid_file_is_not_taken_for_neo4j(tmp_path: Path) -> None:
    cfg = config(tmp_path / "neo4j")
    cfg.home.mkdir(parents=True)
    (cfg.home / "neo4j.pid").write_text(f"{os.getpid()}\n")  # alive, but not our Neo4j
    assert launcher.status(cfg).running is False
    assert launcher.stop(cfg) is False  # and this test process was not signalled
    assert not (cfg.home / "neo4j.pid").exists()
