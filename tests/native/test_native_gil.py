"""The native kernels release the GIL while they run (the harness: tests/conftest.py).

With the interpreter's switch interval raised far beyond the test's length, a thread gives up the
GIL only when it blocks or when C code releases it. A worker thread calls a kernel in a loop; the
main thread, woken as the worker starts, can only run Python code before the worker finishes if a
kernel call released the GIL. A builtin that holds the GIL (sum over a range) is run through the
same harness as a control, so the test cannot pass because the harness itself is broken.
"""

from __future__ import annotations

import pytest
from native_reference import affine, random_hashes, random_image

from bqat import _native


def test_the_harness_sees_no_progress_while_a_builtin_holds_the_gil(main_thread_ran_during):
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
def test_native_kernels_let_the_main_thread_run_while_they_work(main_thread_ran_during, work):
    assert main_thread_ran_during(work)
