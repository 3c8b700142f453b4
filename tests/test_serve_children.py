"""`bqat serve`'s children: in their own process group, gone when serve dies (SIGKILL too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Stands in for `bqat serve`: starts one service the way serve does, says its pid, then waits.
PARENT = """
import sys, time
from bqat.serve import Service, _start
child = _start(Service(
    name="sleeper",
    command=[sys.executable, "-c", "import time; time.sleep(120)"],
    ready=lambda: True,
    announce="",
))
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent has not reaped it yet


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signals are Linux's")
def test_a_service_leads_its_own_group_and_ends_when_serve_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        assert os.getpgid(child) == child != os.getpgid(parent.pid), "Ctrl-C must reach serve alone"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the service outlived serve"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
