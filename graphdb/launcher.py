"""The project's own Neo4j: fetched from Maven Central, compiled launcher, run as a child JVM.

Maven puts Neo4j Community and its Bolt connector into one folder of jars (cached in `~/.m2`, so
only a machine's first run downloads), `javac` compiles `neo4j_server/Launcher.java`, and the JVM
runs the database in-process with its store under `home`. A pid file in `home` lets a later
`itsm neo4j stop|status` find it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NEO4J_VERSION = "5.26.24"
SOURCE_DIR = Path(__file__).resolve().parent / "neo4j_server"
READY_MARK = "ITSM-NEO4J READY"

# The module openings Neo4j's own start script passes to the JVM.
JVM_FLAGS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=1024",
)


# Neo4j processes this Python process started: kept so they are reaped, not left as zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


class LauncherError(RuntimeError):
    pass


def _default_cache() -> Path:
    return Path(".itsm").resolve() / "neo4j-runtime"


@dataclass(frozen=True)
class Neo4jLauncherConfig:
    home: Path
    host: str = "127.0.0.1"
    port: int = 7687
    password: str | None = None
    heap: str = "512m"
    pagecache: str = "256m"
    cache_dir: Path = field(default_factory=_default_cache)
    version: str = NEO4J_VERSION


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    uri: str
    home: Path


def bolt_uri(cfg: Neo4jLauncherConfig) -> str:
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "::") else cfg.host  # noqa: S104
    return f"bolt://{host}:{cfg.port}"


def _lib(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.cache_dir / cfg.version / "lib"


def _classes(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.cache_dir / cfg.version / "classes"


def ensure_runtime(cfg: Neo4jLauncherConfig) -> Path:
    """Fetch the jars and compile the launcher, each only when missing or out of date."""
    lib = _lib(cfg)
    marker = lib / ".complete"
    if not marker.exists():
        if shutil.which("mvn") is None:
            raise LauncherError("Maven (mvn) is not installed; scripts/setup installs it")
        lib.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(SOURCE_DIR / "pom.xml"),
                f"-Dneo4j.version={cfg.version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-3000:]
            raise LauncherError(f"Maven could not fetch Neo4j {cfg.version}:\n{tail}")
        marker.write_text(cfg.version)
    classes = _classes(cfg)
    source = SOURCE_DIR / "Launcher.java"
    compiled = classes / "Launcher.class"
    if not compiled.exists() or compiled.stat().st_mtime < source.stat().st_mtime:
        if shutil.which("javac") is None:
            raise LauncherError("javac (Java 17+) is not installed; scripts/setup installs it")
        classes.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["javac", "-d", str(classes), "-cp", f"{lib}/*", str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LauncherError(f"javac failed:\n{result.stdout}{result.stderr}")
    return classes


def _pid_file(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.home / "neo4j.pid"


def _log_file(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.home / "neo4j.log"


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); ask for its exit status without blocking.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _recorded_pid(cfg: Neo4jLauncherConfig) -> int | None:
    try:
        pid = int(_pid_file(cfg).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def status(cfg: Neo4jLauncherConfig) -> Status:
    pid = _recorded_pid(cfg)
    host = bolt_uri(cfg).split("//")[1].rsplit(":", 1)[0]
    running = pid is not None and _answers(host, cfg.port)
    return Status(running=running, pid=pid, uri=bolt_uri(cfg), home=cfg.home)


def _log_tail(cfg: Neo4jLauncherConfig, size: int = 4000) -> str:
    try:
        return _log_file(cfg).read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return "(no log)"


def start(cfg: Neo4jLauncherConfig, timeout: float = 180) -> Status:
    """Start Neo4j unless it already runs for this home; returns once Bolt answers."""
    current = status(cfg)
    if current.running:
        return current
    host = bolt_uri(cfg).split("//")[1].rsplit(":", 1)[0]
    if current.pid is None and _answers(host, cfg.port):
        raise LauncherError(
            f"port {cfg.port} is taken by another program; set ITSM_NEO4J_PORT to a free port"
        )
    classes = ensure_runtime(cfg)
    cfg.home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if cfg.password:
        env["ITSM_NEO4J_PASSWORD"] = cfg.password
    java = shutil.which("java") or "java"
    command = [
        java,
        f"-Xms{cfg.heap}",
        f"-Xmx{cfg.heap}",
        *JVM_FLAGS,
        "-cp",
        f"{classes}{os.pathsep}{_lib(cfg)}/*",
        "Launcher",
        str(cfg.home),
        cfg.host,
        str(cfg.port),
        cfg.pagecache,
    ]
    with _log_file(cfg).open("w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it cleanly
        )
    _children[process.pid] = process
    _pid_file(cfg).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _children.pop(process.pid, None)
            _pid_file(cfg).unlink(missing_ok=True)
            raise LauncherError(
                f"Neo4j exited with code {process.returncode} while starting:\n{_log_tail(cfg)}"
            )
        if READY_MARK in _log_tail(cfg, 100_000) and _answers(host, cfg.port):
            return Status(running=True, pid=process.pid, uri=bolt_uri(cfg), home=cfg.home)
        time.sleep(0.2)
    stop(cfg)
    raise LauncherError(f"Neo4j did not answer within {timeout:.0f} s:\n{_log_tail(cfg)}")


def stop(cfg: Neo4jLauncherConfig, timeout: float = 60) -> bool:
    """Stop it cleanly (the JVM's shutdown hook closes the store); kill only as a last resort."""
    pid = _recorded_pid(cfg)
    if pid is None:
        _pid_file(cfg).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
    _pid_file(cfg).unlink(missing_ok=True)
    return True
