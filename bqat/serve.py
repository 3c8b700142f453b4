"""`bqat serve`: the local services in one foreground command, stopped together by Ctrl-C.

Prefect's server must be stopped with SIGINT (SIGTERM orphans its worker processes), so every
child gets SIGINT first, and a SIGTERM sent to us is handled as a Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from bqat.exceptions import ConfigError
from bqat.settings import Settings, get_settings

_READY_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 20.0
# Scans are batch work: the worker and its flow runs get the CPU the API and the Prefect server
# leave, so polling stays fast while a scan keeps every core busy. At nice 10 a poll still
# waited behind the scan's threads (p99 0.1-1 s on 2 cores); SCHED_IDLE tasks are preempted as
# soon as the API wakes (p99 ~20 ms). Without SCHED_IDLE (not Linux), nice 10.
FALLBACK_NICENESS = 10


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


def prefect_environment(settings: Settings) -> dict[str, str]:
    """Environment for Prefect processes: offline, quiet, state kept under BQAT_HOME."""
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve()))
    env.setdefault("PREFECT_API_URL", f"http://{settings.host}:{settings.prefect_port}/api")
    env.setdefault("PREFECT_WORKER_QUERY_SECONDS", "2")  # pick up new flow runs within ~2 s
    env.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")  # see flows.deployments
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["DO_NOT_TRACK"] = "1"
    return env


def services(settings: Settings) -> list[Service]:
    """What `bqat serve` runs, in start order: the Prefect server, a flow worker, the API."""
    from bqat.runner import work_pool

    pool = work_pool()
    base = f"http://{settings.host}:{settings.prefect_port}"
    api = f"http://{settings.host}:{settings.port}"
    prefect = sys.executable, "-m", "prefect"
    return [
        Service(
            name="prefect-server",
            command=[
                *prefect,
                "server",
                "start",
                "--host",
                settings.host,
                "--port",
                str(settings.prefect_port),
            ],
            ready=lambda: _answers(f"{base}/api/health"),
            announce=f"Prefect server and UI: {base}",
            own_url=f"{base}/api/health",
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
            ready=lambda: _worker_online(base, pool),
            announce=f"flow worker on work pool '{pool}' "
            f"(at most {settings.max_concurrent_scans} flow runs at once)",
            background=True,
            restart=True,
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
            ready=lambda: _answers(f"{api}/health"),
            announce=f"HTTP API: {api} (docs: {api}/docs)",
            own_url=f"{api}/health",
        ),
    ]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _worker_online(base: str, pool: str) -> bool:
    """True once a worker of `pool` has sent its first heartbeat to the Prefect server."""
    request = urllib.request.Request(
        f"{base}/api/work_pools/{pool}/workers/filter",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            workers = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return any(worker.get("status") == "ONLINE" for worker in workers)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _yield_the_cpu() -> None:
    """In a background service's process before it runs: idle scheduling, inherited by its
    flow runs."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(FALLBACK_NICENESS)


def _start(service: Service, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `service` and wait until it is ready; ConfigError when it exits or hangs."""
    child = subprocess.Popen(
        service.command,
        env=env,
        preexec_fn=_yield_the_cpu if service.background else None,
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
    settings.home.mkdir(parents=True, exist_ok=True)
    env = prefect_environment(settings)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    running: list[tuple[Service, subprocess.Popen[bytes]]] = []
    try:
        for service in services(settings):
            if service.own_url and _answers(service.own_url):
                raise ConfigError(
                    f"{service.name}: something already answers at {service.own_url}; "
                    "stop it or choose other ports (BQAT_PREFECT_PORT, BQAT_PORT)"
                )
            running.append((service, _start(service, env)))
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
                running[index] = (service, _start(service, env))
    except KeyboardInterrupt:
        print("bqat serve: stopping", flush=True)
        return 0
    finally:
        _stop([child for _, child in running])
