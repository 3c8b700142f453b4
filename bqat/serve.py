"""`bqat serve`: the local services in one foreground command, stopped together by Ctrl-C.

Prefect's server must be stopped with SIGINT (SIGTERM orphans its worker processes), so every
child gets SIGINT first, and a SIGTERM sent to us is handled as a Ctrl-C.

The Prefect server listens on BQAT_PREFECT_HOST (127.0.0.1) and always wants its auth string
(PREFECT_SERVER_API_AUTH_STRING as given, else one generated once into BQAT_HOME/prefect/auth);
only the worker and the API receive it. CORS allows no other origin than the server's own. The
worker's environment, which its flow runs inherit, carries no BQAT_API_KEY.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bqat.exceptions import ConfigError
from bqat.models.registry import missing_advice
from bqat.settings import Settings, get_settings

_READY_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 20.0
# Scans are batch work: the worker and its flow runs get the CPU the API and the Prefect server
# leave, so polling stays fast while a scan keeps every core busy. At nice 10 a poll still
# waited behind the scan's threads (p99 0.1-1 s on 2 cores); SCHED_IDLE tasks are preempted as
# soon as the API wakes (p99 ~20 ms). Without SCHED_IDLE (not Linux), nice 10.
FALLBACK_NICENESS = 10
SERVER_AUTH = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH = "PREFECT_API_AUTH_STRING"
_PR_SET_PDEATHSIG = 1
_PRCTL = getattr(ctypes.CDLL(None), "prctl", None)  # Linux only; looked up before any fork
# Never passed on: a Prefect Cloud key would take precedence over the auth string.
_DROPPED = (SERVER_AUTH, CLIENT_AUTH, "PREFECT_API_KEY")


@dataclass(frozen=True)
class Service:
    """A child process, how to tell it is ready, and the URL that must be free before it starts."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    announce: str
    own_url: str | None = None
    background: bool = False  # batch work: runs on the CPU the other services leave
    restart: bool = False  # started again when it exits, instead of stopping everything
    env: dict[str, str] = field(default_factory=dict)  # its whole environment
    before: list[str] | None = None  # run to completion just before it starts


def auth_file(settings: Settings) -> Path:
    """Where `bqat serve` keeps the Prefect auth string it generated (mode 0600)."""
    return settings.home / "prefect" / "auth"


def stored_prefect_auth(settings: Settings) -> str | None:
    """The generated auth string, if there is one (and this user may read it)."""
    try:
        return auth_file(settings).read_text().strip() or None
    except OSError:
        return None


def prefect_auth(settings: Settings, environ: dict[str, str] | None = None) -> str:
    """PREFECT_SERVER_API_AUTH_STRING when given, else the one in BQAT_HOME, generated once.

    The file is created whole and private (0600, then linked into place) so that a reader never
    sees it empty, and two `bqat serve` starting at once end up with the same string.
    """
    environ = os.environ if environ is None else environ
    if environ.get(SERVER_AUTH):
        return environ[SERVER_AUTH]
    path = auth_file(settings)
    if path.exists():
        with contextlib.suppress(OSError):  # an older copy may have been readable by others
            path.chmod(0o600)
        stored = stored_prefect_auth(settings)
        if stored:
            return stored
        raise ConfigError(f"{path} is empty: delete it, and `bqat serve` makes a new one")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".auth.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"bqat:{secrets.token_urlsafe(32)}\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another `bqat serve` made it first
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return prefect_auth(settings, environ)


def prefect_environment(settings: Settings) -> dict[str, str]:
    """Environment for Prefect processes: offline, quiet, state kept under BQAT_HOME, talking to
    the server of `bqat serve`; no auth string (each service gets what it needs)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve()))
    env["PREFECT_API_URL"] = f"{settings.prefect_url}/api"  # the auth string goes nowhere else
    env.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")  # pick up new flow runs within ~2 s
    env.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")  # see flows.connection
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["DO_NOT_TRACK"] = "1"
    # On a terminal `prefect server start` would ask whether to rewrite its profile.
    env["PREFECT_CLI_PROMPT"] = "false"
    return env


def _without_api_key(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.upper() != "BQAT_API_KEY"}


def services(settings: Settings, auth: str) -> list[Service]:
    """What `bqat serve` runs, in start order: the Prefect server, a flow worker, the API."""
    from bqat.runner import work_pool

    pool = work_pool()
    base = settings.prefect_url
    api = f"http://{settings.host}:{settings.port}"
    prefect = sys.executable, "-m", "prefect"
    common = prefect_environment(settings)
    server_env = {
        **_without_api_key(common),
        SERVER_AUTH: auth,
        # The UI calls the API from its own origin: no other origin needs CORS.
        "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": base,
    }
    worker_env = {**_without_api_key(common), CLIENT_AUTH: auth}
    return [
        Service(
            name="prefect-server",
            command=[
                *prefect,
                "server",
                "start",
                "--host",
                settings.prefect_host,
                "--port",
                str(settings.prefect_port),
            ],
            ready=lambda: answers(f"{base}/api/health"),
            announce=f"Prefect server and UI: {base} (auth string: {auth_source(settings)})",
            own_url=f"{base}/api/health",
            env=server_env,
        ),
        Service(
            name="worker",
            command=[
                *prefect,
                "worker",
                "start",
                "--pool",
                pool,
                "--type",
                "process",
                "--limit",
                str(settings.max_concurrent_scans),
            ],
            ready=lambda: _worker_online(base, pool, auth),
            announce=f"flow worker on work pool '{pool}' "
            f"(at most {settings.max_concurrent_scans} flow runs at once)",
            background=True,
            restart=True,
            env=worker_env,
            # The pool's job template, which no run may override, is in place before a worker
            # could create the pool with Prefect's default one.
            before=[sys.executable, "-m", "flows.deployments"],
        ),
        Service(
            name="api",
            command=[
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                settings.host,
                "--port",
                str(settings.port),
                "--no-access-log",
            ],
            ready=lambda: answers(f"{api}/health"),
            announce=f"HTTP API: {api} (docs: {api}/docs)",
            own_url=f"{api}/health",
            env={**common, CLIENT_AUTH: auth},
        ),
    ]


def auth_source(settings: Settings) -> str:
    if os.environ.get(SERVER_AUTH):
        return SERVER_AUTH
    return str(auth_file(settings))


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether a GET of `url` succeeds within `timeout_s` (a health check)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _worker_online(base: str, pool: str, auth: str) -> bool:
    """True once a worker of `pool` has sent its first heartbeat to the Prefect server."""
    token = base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(
        f"{base}/api/work_pools/{pool}/workers/filter",
        data=b"{}",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            workers = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return any(worker.get("status") == "ONLINE" for worker in workers)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop in the reverse of start order: the API and the worker before the Prefect server
    they talk to (stopped together, the server printed the tracebacks of their cut streams)."""
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _yield_the_cpu() -> None:
    """Idle scheduling for a background service, inherited by its flow runs."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(FALLBACK_NICENESS)


def _end_with_serve() -> None:
    """A child gets Ctrl-C's SIGINT when serve dies, even by SIGKILL (Linux), so no service
    outlives it holding its port: in its own process group the terminal no longer reaches it."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGINT)


def _prepare_background_child() -> None:
    _end_with_serve()
    _yield_the_cpu()


def _start(service: Service) -> subprocess.Popen[bytes]:
    """Start `service` and wait until it is ready; ConfigError when it exits or hangs."""
    if service.before:
        try:
            subprocess.run(
                service.before,
                env=service.env,
                stdin=subprocess.DEVNULL,
                check=True,
                timeout=_READY_TIMEOUT_S,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"{service.name}: preparing it failed ({exc})") from None
    # Never the terminal: on a TTY `prefect server start` stops to ask which profile to use.
    child = subprocess.Popen(
        service.command,
        env=service.env,
        stdin=subprocess.DEVNULL,
        process_group=0,  # Ctrl-C reaches serve alone, which stops each child in turn
        preexec_fn=_prepare_background_child if service.background else _end_with_serve,
    )
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while not service.ready():
        if child.poll() is not None:
            raise ConfigError(f"{service.name} exited with code {child.returncode}")
        if time.monotonic() > deadline:
            child.kill()
            raise ConfigError(f"{service.name} not ready after {_READY_TIMEOUT_S:.0f} s")
        time.sleep(0.5)
    return child


def serve() -> int:
    """Start every service, wait until each is ready, then run until Ctrl-C.

    A worker that dies is started again (the runs it held are marked crashed by the heartbeat
    automation of flows.deployments); any other service exiting stops everything.
    """
    settings = get_settings()
    private = auth_file(settings).parent  # the auth string and Prefect's database
    private.mkdir(mode=0o700, parents=True, exist_ok=True)
    private.chmod(0o700)
    auth = prefect_auth(settings)
    for line in missing_advice():
        print(f"bqat serve: {line}", flush=True)
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python keeps that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    running: list[tuple[Service, subprocess.Popen[bytes]]] = []
    try:
        for service in services(settings, auth):
            if service.own_url and answers(service.own_url):
                raise ConfigError(
                    f"{service.name}: something already answers at {service.own_url}; "
                    "stop it or choose other ports (BQAT_PREFECT_PORT, BQAT_PORT)"
                )
            running.append((service, _start(service)))
            print(f"bqat serve: {service.announce}", flush=True)
        print("bqat serve: ready; press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(0.5)
            for index, (service, child) in enumerate(running):
                if child.poll() is None:
                    continue
                if not service.restart:
                    print(
                        f"bqat serve: {service.name} exited with code {child.returncode}; stopping",
                        flush=True,
                    )
                    return 1
                print(
                    f"bqat serve: {service.name} exited with code {child.returncode}; "
                    "starting it again",
                    flush=True,
                )
                running[index] = (service, _start(service))
    except KeyboardInterrupt:
        print("bqat serve: stopping", flush=True)
        return 0
    finally:
        _stop([child for _, child in running])
