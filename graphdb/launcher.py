"""The project's own Neo4j Community: fetched from Maven Central, one small launcher, a child JVM.

Maven copies `org.neo4j:neo4j` and `org.neo4j:neo4j-bolt` (NEO4J_VERSION, pinned) with everything
they pull in into one folder of jars (`~/.m2` caches them, so only a machine's first run downloads),
`javac` compiles `neo4j_server/Launcher.java`, and a detached JVM runs the DBMS in-process with only
Bolt on and its store under `home`. `home/neo4j.pid` lets a later `start`, `stop` or `status` (from
any process) find it; its output goes to `home/neo4j.log` (the previous run's to `neo4j.log.1`) and
Neo4j's own logs to `home/logs/`.

Authentication is on exactly when a password is given, and a password is required when the listen
host is not a loopback address.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

NEO4J_VERSION = "5.26.24"
SOURCE_DIR = Path(__file__).resolve().parent / "neo4j_server"
REPO_ROOT = Path(__file__).resolve().parent.parent
MAIN_CLASS = "Launcher"
READY_MARK = "ITSM-NEO4J READY"
ERROR_MARK = "ITSM-NEO4J ERROR"
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length
MAVEN_TIMEOUT = 1800.0

# The `server.jvm.additional` lines of Neo4j 5.26's default neo4j.conf, plus the -Dfile.encoding
# its bootloader adds; only -XX:+AlwaysPreTouch is left out (it commits the whole heap before the
# start, which costs start time and memory on a developer's machine or CI).
JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dlog4j.layout.jsonTemplate.maxStringLength=32768",
    "-Dfile.encoding=UTF-8",
)

_SIZE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_READY_LINE = re.compile(re.escape(READY_MARK) + r" bolt://\S+:([0-9]+)\r?\n")

# Neo4j processes this Python process started: kept so that they are reaped, not left as zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


class LauncherError(RuntimeError):
    """Neo4j could not be prepared, started or stopped; the message says why."""


def _default_cache() -> Path:
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / ".itsm" / "neo4j-runtime"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "itsm" / "neo4j-runtime"


@dataclass(frozen=True)
class Neo4jLauncherConfig:
    home: Path  # the store (home/data), Neo4j's logs (home/logs), neo4j.log and neo4j.pid
    host: str = "127.0.0.1"
    port: int = 7687
    password: str | None = None  # given: authentication on, user neo4j gets this password
    heap: str = "512m"
    pagecache: str = "256m"
    cache_dir: Path = field(default_factory=_default_cache)  # jars and the compiled launcher
    version: str = NEO4J_VERSION


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    uri: str
    home: Path


# -- addresses -----------------------------------------------------------------------------------


def _connect_host(cfg: Neo4jLauncherConfig) -> str:
    """Where a client on this machine reaches the listen address (a wildcard means loopback)."""
    host = cfg.host.strip("[]")
    if host == "0.0.0.0":  # noqa: S104
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def bolt_uri(cfg: Neo4jLauncherConfig) -> str:
    host = _connect_host(cfg)
    return f"bolt://[{host}]:{cfg.port}" if ":" in host else f"bolt://{host}:{cfg.port}"


def is_loopback(host: str) -> bool:
    """Whether every address `host` stands for is a loopback one (a wildcard address is not)."""
    name = host.strip("[]")
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    addresses = {str(info[4][0]).split("%")[0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _check_port_free(cfg: Neo4jLauncherConfig) -> None:
    taken = LauncherError(
        f"port {cfg.port} on {cfg.host} is taken by another program (not this launcher's Neo4j "
        f"for {cfg.home}); stop that program or choose another port (ITSM_NEO4J_PORT)"
    )
    if _answers(_connect_host(cfg), cfg.port):
        raise taken
    try:
        infos = socket.getaddrinfo(
            cfg.host.strip("[]"), cfg.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise LauncherError(f"cannot resolve the listen host {cfg.host}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Netty does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise taken from exc
            raise LauncherError(f"Neo4j cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc


def _validate(cfg: Neo4jLauncherConfig) -> None:
    if not 1 <= cfg.port <= 65535:
        raise LauncherError(f"the Bolt port must be from 1 to 65535, not {cfg.port}")
    for name, value in (("heap", cfg.heap), ("pagecache", cfg.pagecache)):
        if not _SIZE.match(value):
            raise LauncherError(f"{name} must be a size such as 512m or 1g, not {value!r}")
    if cfg.password and len(cfg.password) < MIN_PASSWORD_LENGTH:
        raise LauncherError(
            f"the Neo4j password (NEO4J_PASSWORD) needs {MIN_PASSWORD_LENGTH} characters or more"
        )
    if not cfg.password and not is_loopback(cfg.host):
        raise LauncherError(
            f"refusing to start Neo4j on {cfg.host} without authentication: it is not a loopback "
            "address, so give it a password (NEO4J_PASSWORD) and authentication is switched on"
        )


# -- runtime: jars and the compiled launcher -----------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (and between threads: each call opens its own file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _runtime(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.cache_dir / cfg.version


def _lib(cfg: Neo4jLauncherConfig) -> Path:
    return _runtime(cfg) / "lib"


def _classes(cfg: Neo4jLauncherConfig) -> Path:
    return _runtime(cfg) / "classes"


def _tool(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / name).is_file():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise LauncherError(f"{name} (Java 17 or 21) is not installed; scripts/setup installs it")
    return found


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(_ANSI.sub("", text).strip().splitlines()[-lines:])


def _lib_stamp(cfg: Neo4jLauncherConfig) -> str:
    pom = hashlib.sha256((SOURCE_DIR / "pom.xml").read_bytes()).hexdigest()
    return f"{cfg.version} {pom}\n"


def _lib_complete(cfg: Neo4jLauncherConfig) -> bool:
    lib = _lib(cfg)
    try:
        stamp = (lib / ".complete").read_text()
    except FileNotFoundError:
        return False
    wanted = (f"neo4j-{cfg.version}.jar", f"neo4j-bolt-{cfg.version}.jar")
    return stamp == _lib_stamp(cfg) and all((lib / jar).is_file() for jar in wanted)


def _fetch_jars(cfg: Neo4jLauncherConfig) -> None:
    """Copy the jars into a fresh folder, then swap it in: a running JVM never misses a jar."""
    if shutil.which("mvn") is None:
        raise LauncherError("Maven (mvn) is not installed; scripts/setup installs it")
    runtime = _runtime(cfg)
    runtime.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=runtime, prefix=".lib-new-"))
    try:
        command = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(SOURCE_DIR / "pom.xml"),
            f"-Dneo4j.version={cfg.version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=MAVEN_TIMEOUT
            )
        except subprocess.TimeoutExpired as exc:
            raise LauncherError(
                f"Maven did not fetch Neo4j {cfg.version} in {MAVEN_TIMEOUT:.0f} s"
            ) from exc
        if result.returncode != 0:
            raise LauncherError(
                f"Maven could not fetch Neo4j {cfg.version} (exit code {result.returncode}):\n"
                + _tail(result.stdout + "\n" + result.stderr)
            )
        (staging / ".complete").write_text(_lib_stamp(cfg))
        lib = _lib(cfg)
        retired = runtime / f".lib-old-{os.getpid()}-{time.time_ns()}"
        if lib.exists():
            os.rename(lib, retired)
        os.rename(staging, lib)
        shutil.rmtree(retired, ignore_errors=True)  # jars a JVM holds open stay readable
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _compile(cfg: Neo4jLauncherConfig) -> None:
    classes = _classes(cfg)
    classes.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=classes.parent, prefix=".javac-") as out:
        result = subprocess.run(
            [
                _tool("javac"),
                "--release",
                "17",
                "-encoding",
                "UTF-8",
                "-d",
                out,
                "-cp",
                f"{_lib(cfg)}/*",
                str(SOURCE_DIR / f"{MAIN_CLASS}.java"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LauncherError(f"javac failed:\n{_tail(result.stdout + result.stderr)}")
        # Replace class by class: a JVM starting now reads either the old file or the new one.
        for compiled in Path(out).glob("*.class"):
            os.replace(compiled, classes / compiled.name)


def _compiled_is_current(cfg: Neo4jLauncherConfig) -> bool:
    compiled = _classes(cfg) / f"{MAIN_CLASS}.class"
    if not compiled.is_file():
        return False
    built = compiled.stat().st_mtime
    source = (SOURCE_DIR / f"{MAIN_CLASS}.java").stat().st_mtime
    jars = (_lib(cfg) / ".complete").stat().st_mtime
    return built >= source and built >= jars


def ensure_runtime(cfg: Neo4jLauncherConfig) -> Path:
    """Fetch the jars and compile the launcher, each only when missing or out of date.

    Returns the runtime folder (`cache_dir/version`, with `lib/` and `classes/`). Safe to call
    from several processes at once.
    """
    with _locked(_runtime(cfg) / ".lock"):
        if not _lib_complete(cfg):
            _fetch_jars(cfg)
        if not _compiled_is_current(cfg):
            _compile(cfg)
    return _runtime(cfg)


def _classpath(cfg: Neo4jLauncherConfig) -> str:
    return f"{_classes(cfg)}{os.pathsep}{_lib(cfg)}/*"


# -- processes -----------------------------------------------------------------------------------


def _pid_file(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.home / "neo4j.pid"


def _log_file(cfg: Neo4jLauncherConfig) -> Path:
    return cfg.home / "neo4j.log"


def _home_arg(cfg: Neo4jLauncherConfig) -> str:
    return str(cfg.home.resolve())


def _is_ours(pid: int, cfg: Neo4jLauncherConfig) -> bool:
    """The process lives and is this launcher's JVM for this home (a pid may have been reused)."""
    child = _children.get(pid)
    if child is not None:  # started by this process (its cmdline reads empty while it execs)
        return child.poll() is None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: a live process is taken as ours
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    args = cmdline.decode(errors="replace").split("\0")
    return MAIN_CLASS in args and _home_arg(cfg) in args  # a zombie's cmdline is empty


def _recorded_pid(cfg: Neo4jLauncherConfig) -> int | None:
    try:
        pid = int(_pid_file(cfg).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid > 0 and _is_ours(pid, cfg) else None


def status(cfg: Neo4jLauncherConfig) -> Status:
    """Running means: our JVM for this home lives and its Bolt port accepts connections."""
    pid = _recorded_pid(cfg)
    running = pid is not None and _answers(_connect_host(cfg), cfg.port)
    return Status(running=running, pid=pid, uri=bolt_uri(cfg), home=cfg.home)


def _log_tail(cfg: Neo4jLauncherConfig, size: int = 6000) -> str:
    try:
        with _log_file(cfg).open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - size))
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    errors = [line for line in text.splitlines() if line.startswith(ERROR_MARK)]
    return "\n".join([*errors, "--- log tail ---", text.strip()]) if errors else text.strip()


def _await_ready(cfg: Neo4jLauncherConfig, pid: int, timeout: float, *, spawned: bool) -> Status:
    """Wait for the READY line in the log and an answering port, while the process lives.

    A process this call did not spawn is never stopped here: it may serve someone else.
    """
    deadline = time.monotonic() + timeout
    ready: re.Match[str] | None = None
    recent = ""
    with contextlib.ExitStack() as stack:
        log = None
        while True:
            if log is None:
                with contextlib.suppress(FileNotFoundError):
                    log = stack.enter_context(_log_file(cfg).open("rb"))
            if log is not None and ready is None:
                recent = recent[-200:] + log.read().decode(errors="replace")
                ready = _READY_LINE.search(recent)
            if ready is not None:
                if int(ready.group(1)) != cfg.port:
                    raise LauncherError(
                        f"Neo4j for {cfg.home} already runs (pid {pid}) with Bolt on port "
                        f"{ready.group(1)}, not {cfg.port}; stop it first to change the port"
                    )
                if _answers(_connect_host(cfg), cfg.port):
                    return Status(running=True, pid=pid, uri=bolt_uri(cfg), home=cfg.home)
            if not _is_ours(pid, cfg):
                child = _children.pop(pid, None)
                code = "" if child is None else f" with exit code {child.returncode}"
                _pid_file(cfg).unlink(missing_ok=True)
                raise LauncherError(f"Neo4j exited{code} while starting:\n{_log_tail(cfg)}")
            if time.monotonic() > deadline:
                if spawned:
                    _stop(cfg, pid, timeout=30)
                raise LauncherError(
                    f"Neo4j (pid {pid}) was not ready within {timeout:.0f} s"
                    + (" and was stopped" if spawned else "")
                    + f":\n{_log_tail(cfg)}"
                )
            time.sleep(0.1)


def start(cfg: Neo4jLauncherConfig, timeout: float = 180) -> Status:
    """Start Neo4j unless it already runs for this home; returns once Bolt accepts connections."""
    _validate(cfg)
    cfg.home.mkdir(parents=True, exist_ok=True)
    with _locked(cfg.home / ".launcher.lock"):
        pid = _recorded_pid(cfg)
        if pid is not None:  # running, or still starting: wait for it rather than start another
            return _await_ready(cfg, pid, timeout, spawned=False)
        _pid_file(cfg).unlink(missing_ok=True)
        _check_port_free(cfg)
        ensure_runtime(cfg)
        env = {k: v for k, v in os.environ.items() if k != "ITSM_NEO4J_PASSWORD"}
        if cfg.password:
            env["ITSM_NEO4J_PASSWORD"] = cfg.password  # not an argument: `ps` would show it
        command = [
            _tool("java"),
            f"-Xms{cfg.heap}",
            f"-Xmx{cfg.heap}",
            *JVM_FLAGS,
            f"-Ditsm.neo4j.auth={'on' if cfg.password else 'off'}",
            "-cp",
            _classpath(cfg),
            MAIN_CLASS,
            _home_arg(cfg),
            cfg.host,
            str(cfg.port),
            cfg.pagecache,
        ]
        log_path = _log_file(cfg)
        if log_path.exists():
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cfg.home,  # a JVM crash file lands in home, not in the caller's folder
                env=env,
                start_new_session=True,  # its own process group; a terminal's Ctrl-C stays ours
            )
        _children[process.pid] = process
        _pid_file(cfg).write_text(f"{process.pid}\n")
        return _await_ready(cfg, process.pid, timeout, spawned=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        try:
            same_group = os.getpgid(pid) == pid
        except ProcessLookupError:
            return
        if same_group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _stop(cfg: Neo4jLauncherConfig, pid: int, timeout: float) -> None:
    _signal_group(pid, signal.SIGTERM)  # the JVM's shutdown hook closes the store cleanly
    deadline = time.monotonic() + timeout
    while _is_ours(pid, cfg) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _is_ours(pid, cfg):
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _is_ours(pid, cfg) and time.monotonic() < deadline:
            time.sleep(0.1)
    _children.pop(pid, None)
    _pid_file(cfg).unlink(missing_ok=True)


def stop(cfg: Neo4jLauncherConfig, timeout: float = 60) -> bool:
    """Stop it: SIGTERM to its process group, SIGKILL after `timeout`. Whether it was running."""
    pid = _recorded_pid(cfg)
    if pid is None:
        _pid_file(cfg).unlink(missing_ok=True)
        return False
    _stop(cfg, pid, timeout)
    return True
