"""Run one call under a time limit, so that one pathological file cannot stall a scan.

Python cannot stop a thread, so the call runs in a daemon thread: after the limit the caller
moves on and the thread finishes (or not) in the background without holding up process exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from bqat.exceptions import SampleTimeout

T = TypeVar("T")


def within(limit_s: float, call: Callable[[], T], what: str) -> T:
    """`call()`'s result or exception; `SampleTimeout` naming `what` after `limit_s` seconds."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"bqat-deadline-{what}", daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        raise SampleTimeout(
            f"{what} took longer than {limit_s:g} s (BQAT_FILE_TIMEOUT_S) and was abandoned"
        )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
