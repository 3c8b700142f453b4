"""A call under a time limit: results, exceptions and the timeout itself."""

from __future__ import annotations

import threading
import time

import pytest

from bqat import deadline
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


def test_calls_from_one_thread_reuse_one_helper_thread_until_one_is_abandoned():
    def ident() -> int:
        return threading.get_ident()

    first, second = within(5.0, ident, "a"), within(5.0, ident, "b")
    assert first == second != threading.get_ident()
    release = threading.Event()
    with pytest.raises(SampleTimeout):
        within(0.1, lambda: release.wait(30), "stuck")
    after = within(5.0, ident, "c")
    assert after != first  # the abandoned helper is still busy: a new one took the call
    release.set()


def test_a_helper_left_idle_ends_and_the_next_call_starts_another(monkeypatch):
    monkeypatch.setattr(deadline, "IDLE_S", 0.05)
    outcome: dict[str, object] = {}

    def in_a_fresh_thread() -> None:  # a thread of its own, so no helper from other tests
        outcome["first"] = within(5.0, threading.current_thread, "a")
        outcome["first"].join(5.0)  # type: ignore[attr-defined]
        outcome["ended"] = not outcome["first"].is_alive()  # type: ignore[attr-defined]
        outcome["second"] = within(5.0, threading.current_thread, "b")

    caller = threading.Thread(target=in_a_fresh_thread)
    caller.start()
    caller.join(10.0)
    assert outcome["ended"] is True
    assert outcome["second"] is not outcome["first"]
