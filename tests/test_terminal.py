"""Ctrl-C under `make serve`: make exits 0 when serve takes the terminal (in a real pty)."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time
from pathlib import Path

import pytest

from bqat.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]

# Stands in for `bqat serve`: waits for Ctrl-C, then stops cleanly with status 0.
SERVICE = """
import sys, time
from contextlib import nullcontext
from bqat.terminal import taking_the_terminal
with (taking_the_terminal() if sys.argv[1] == "take" else nullcontext(False)) as took:
    try:
        print(f"ready {took}", flush=True)
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        print("stopped cleanly", flush=True)
"""


def _read_until(fd: int, pattern: bytes, timeout_s: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while pattern not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pty closed: everyone exited
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _make_then_ctrl_c(tmp_path: Path, mode: str) -> tuple[int, bytes]:
    """Run `make run` as a terminal's foreground job, press Ctrl-C once it is ready."""
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    (tmp_path / "Makefile").write_text(f"run:\n\t{sys.executable} {script} {mode}\n")
    pid, master = pty.fork()
    if pid == 0:  # the child leads a new session whose terminal is the pty
        os.chdir(tmp_path)
        os.execvp("make", ["make", "--no-print-directory", "run"])
    try:
        ready = b"ready True" if mode == "take" else b"ready False"
        output = _read_until(master, ready, 30)
        assert ready in output, output
        os.write(master, b"\x03")
        output += _read_until(master, b"\x00never", 30)
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(master)
    return status, output


@pytest.mark.skipif(not os.path.exists("/usr/bin/make"), reason="GNU make is not installed")
def test_make_exits_0_on_ctrl_c_when_the_service_takes_the_terminal(tmp_path: Path) -> None:
    status, output = _make_then_ctrl_c(tmp_path, "take")
    assert b"ready True" in output
    assert b"stopped cleanly" in output
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, output


@pytest.mark.skipif(not os.path.exists("/usr/bin/make"), reason="GNU make is not installed")
def test_without_it_make_dies_of_the_interrupt_although_the_service_stops_cleanly(
    tmp_path: Path,
) -> None:
    status, output = _make_then_ctrl_c(tmp_path, "keep")
    assert b"stopped cleanly" in output
    assert not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0), output


def test_make_serve_runs_serve_with_the_terminal_taken() -> None:
    recipe = re.search(r"^serve:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe is not None
    command = recipe.group(1).split()
    assert command[0].endswith("bqat")
    assert build_parser().parse_args(command[1:]).take_terminal is True
