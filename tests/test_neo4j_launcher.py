"""The project's own Neo4j: start, keep data across restarts, stop, and refuse unsafe setups."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import GraphDatabase

from graphdb import launcher
from tests.conftest import ROOT, free_port


def test_start_stop_restart_keeps_data(tmp_path: Path) -> None:
    cfg = launcher.Neo4jLauncherConfig(
        home=tmp_path / "neo4j",
        port=free_port(),
        heap="384m",
        pagecache="64m",
        cache_dir=ROOT / ".itsm" / "neo4j-runtime",
    )
    try:
        first = launcher.start(cfg)
        assert first.running and first.pid
        assert launcher.start(cfg).pid == first.pid  # a second start finds the running one
        with GraphDatabase.driver(launcher.bolt_uri(cfg)) as driver:
            driver.execute_query("CREATE (:Probe {value: 42})", database_="neo4j")

        assert launcher.stop(cfg) is True
        assert launcher.status(cfg).running is False
        assert launcher.stop(cfg) is False

        second = launcher.start(cfg)
        assert second.pid != first.pid
        with GraphDatabase.driver(launcher.bolt_uri(cfg)) as driver:
            records, _, _ = driver.execute_query(
                "MATCH (p:Probe) RETURN p.value AS v", database_="neo4j"
            )
        assert [r["v"] for r in records] == [42]
    finally:
        launcher.stop(cfg)


def test_refuses_to_listen_beyond_loopback_without_a_password(tmp_path: Path) -> None:
    cfg = launcher.Neo4jLauncherConfig(
        home=tmp_path / "neo4j",
        host="0.0.0.0",  # noqa: S104
        port=free_port(),
        heap="256m",
        pagecache="32m",
        cache_dir=ROOT / ".itsm" / "neo4j-runtime",
    )
    with pytest.raises(launcher.LauncherError, match="NEO4J_PASSWORD"):
        launcher.start(cfg, timeout=60)
    assert launcher.status(cfg).running is False


def test_port_taken_by_another_program_is_reported(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cfg = launcher.Neo4jLauncherConfig(
            home=tmp_path / "neo4j",
            port=busy.getsockname()[1],
            cache_dir=ROOT / ".itsm" / "neo4j-runtime",
        )
        with pytest.raises(launcher.LauncherError, match="taken by another program"):
            launcher.start(cfg)
