"""Ctrl-C for `bqat serve` alone, so a parent such as make sees a clean exit.

The terminal sends Ctrl-C's SIGINT to its whole foreground process group. Under `make serve`
that group is make's, and GNU make answers SIGINT by dying of it (status 130, "Interrupt")
even when serve stops cleanly. A job-control shell avoids this for its jobs by giving each job
its own process group and making it the terminal's foreground group; `taking_the_terminal`
does the same for this process (and the children it starts) and hands the terminal back on
exit, so Ctrl-C stops serve, serve exits 0 and make exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress


def _hand_terminal_to(fd: int, group: int) -> None:
    """tcsetpgrp from a process that may be in a background group: SIGTTOU would stop it."""
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)


@contextmanager
def taking_the_terminal() -> Iterator[bool]:
    """Within: Ctrl-C reaches this process's own group only. Yields whether it took it.

    Does nothing (yields False) without a terminal on stdin, when this process is not in the
    terminal's foreground group (a background job) or already leads that group (started by a
    job-control shell directly).
    """
    try:
        fd = sys.stdin.fileno()
        foreground = os.tcgetpgrp(fd)
    except (AttributeError, ValueError, OSError):
        yield False
        return
    if foreground != os.getpgrp() or os.getpgrp() == os.getpid():
        yield False
        return
    os.setpgid(0, 0)
    _hand_terminal_to(fd, os.getpgrp())
    try:
        yield True
    finally:
        with suppress(OSError):  # the parent's group is gone: nobody is left to hand it to
            _hand_terminal_to(fd, foreground)
