"""A call under a time limit: results, exceptions and the timeout itself."""

from __future__ import annotations

import threading
import time

import pytest

from bqat.deadline import within
from bqat.exceptions import InputError, SampleTimeout


def test_returns_the_result_of_a_quick_call():
    assert within(5.0, lambda: 41 + 1, "sum") == 42


def test_reraises_the_calls_own_exception():
    def fail() -> None:
        raise InputError("bad pixels")

    with pytest.raises(InputError, match="bad pixels"):
        within(5.0, fail, "decode")


def test_a_slow_call_is_abandoned_after_the_limit():
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(SampleTimeout, match=r"slow\.jpg took longer than 0\.2 s"):
        within(0.2, lambda: release.wait(30), "slow.jpg")
    assert time.monotonic() - started < 5
    release.set()
