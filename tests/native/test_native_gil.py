"""The native kernels release the GIL while they run.

With the interpreter's switch interval raised far beyond the test's length, a thread gives up the
GIL only when it blocks or when C code releases it. A worker thread calls a kernel in a loop; the
main thread, woken as the worker starts, can only run Python code before the worker finishes if a
kernel call released the GIL. A builtin that holds the GIL (sum over a range) is run through the
same harness as a control, so the test cannot pass because the harness itself is broken.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from native_reference import affine, random_hashes, random_image

from bqat import _native

CALLS = 100  # upper bound on worker calls; with the GIL released the main thread stops it early


def main_thread_ran_during(work: Callable[[], object]) -> bool:
    """True when the main thread ran Python code while `work` was being called in a loop."""
    started, finished, stop = threading.Event(), threading.Event(), threading.Event()

    def worker() -> None:
        started.set()
        for _ in range(CALLS):
            if stop.is_set():
                break
            work()
        finished.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started.wait()
    ran_during = not finished.is_set()
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return ran_during


@pytest.fixture
def no_forced_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_the_harness_sees_no_progress_while_a_builtin_holds_the_gil(no_forced_switching):
    assert not main_thread_ran_during(lambda: sum(range(200_000)))


COLOUR = random_image((1500, 1500, 3), seed=1)
GREY = random_image((2000, 2000), seed=2)
HASHES = random_hashes(200_000, seed=3)


@pytest.mark.parametrize(
    "work",
    [
        pytest.param(lambda: _native.letterbox(COLOUR, 640, 640), id="letterbox"),
        pytest.param(lambda: _native.warp_crop(COLOUR, affine(5.0, 2.0), 512, 512), id="warp_crop"),
        pytest.param(lambda: _native.grey_stats(GREY), id="grey_stats"),
        pytest.param(lambda: _native.phash(GREY), id="phash"),
        pytest.param(lambda: _native.near_pairs(HASHES, 6), id="near_pairs"),
    ],
)
def test_native_kernels_let_the_main_thread_run_while_they_work(no_forced_switching, work):
    assert main_thread_ran_during(work)
