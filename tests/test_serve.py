"""`bqat serve`: starts the local Prefect server, reports it ready, and Ctrl-C stops all of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.timeout(240)
def test_serve_starts_the_prefect_server_and_stops_it_on_ctrl_c(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "BQAT_HOME": str(tmp_path),
        "BQAT_PREFECT_PORT": str(port),
        "BQAT_PORT": str(free_port()),
    }
    env.pop("PREFECT_HOME", None)
    env.pop("PREFECT_API_URL", None)
    bqat = Path(sys.executable).parent / "bqat"
    process = subprocess.Popen(
        [str(bqat), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        assert any(f"127.0.0.1:{port}" in line for line in lines), "".join(lines)
        assert answers(f"http://127.0.0.1:{port}/api/health")
        assert (tmp_path / "prefect").is_dir(), "Prefect state must live under BQAT_HOME"
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, "".join(lines) + rest
        deadline = time.monotonic() + 10
        while answers(f"http://127.0.0.1:{port}/api/health") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not answers(f"http://127.0.0.1:{port}/api/health"), "the server outlived serve"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
