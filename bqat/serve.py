"""`bqat serve`: the local services in one foreground command, stopped together by Ctrl-C.

Prefect's server must be stopped with SIGINT (SIGTERM orphans its worker processes), so every
child gets SIGINT first, and a SIGTERM sent to us is handled as a Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import FrameType

from bqat.exceptions import ConfigError
from bqat.settings import Settings, get_settings

_READY_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Service:
    """A child process and the URL that answers 2xx once it is ready."""

    name: str
    command: list[str]
    health_url: str
    announce: str


def prefect_environment(settings: Settings) -> dict[str, str]:
    """Environment for Prefect processes: offline, quiet, state kept under BQAT_HOME."""
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve()))
    env.setdefault("PREFECT_API_URL", f"http://{settings.host}:{settings.prefect_port}/api")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["DO_NOT_TRACK"] = "1"
    return env


def services(settings: Settings) -> list[Service]:
    """What `bqat serve` runs. The API and the flow worker join this list with the API issue."""
    base = f"http://{settings.host}:{settings.prefect_port}"
    return [
        Service(
            name="prefect-server",
            command=[
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                settings.host,
                "--port",
                str(settings.prefect_port),
            ],
            health_url=f"{base}/api/health",
            announce=f"Prefect server and UI: {base}",
        )
    ]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


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


def serve() -> int:
    """Start every service, wait until each is healthy, then run until Ctrl-C or a child exits."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    env = prefect_environment(settings)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    children: list[subprocess.Popen[bytes]] = []
    try:
        for service in services(settings):
            if _ready(service.health_url):
                raise ConfigError(
                    f"{service.name}: something already answers at {service.health_url}; "
                    "stop it or choose other ports (BQAT_PREFECT_PORT, BQAT_PORT)"
                )
            child = subprocess.Popen(service.command, env=env)
            children.append(child)
            deadline = time.monotonic() + _READY_TIMEOUT_S
            while not _ready(service.health_url):
                if child.poll() is not None:
                    raise ConfigError(f"{service.name} exited with code {child.returncode}")
                if time.monotonic() > deadline:
                    raise ConfigError(f"{service.name} not ready after {_READY_TIMEOUT_S:.0f} s")
                time.sleep(0.5)
            print(f"bqat serve: {service.announce}", flush=True)
        print(
            "bqat serve: the HTTP API (port "
            f"{settings.port}) and the scan worker are not built yet; press Ctrl-C to stop.",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        exited = next(c for c in children if c.poll() is not None)
        print(f"bqat serve: a service exited with code {exited.returncode}; stopping", flush=True)
        return 1
    except KeyboardInterrupt:
        print("bqat serve: stopping", flush=True)
        return 0
    finally:
        _stop(children)
