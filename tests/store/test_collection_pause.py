"""The store's pause of garbage collection during a conversion: threads overlapping leave
collections as they found them."""

from __future__ import annotations

import gc
import threading

from bqat.store.store import _no_collection


def test_overlapping_conversions_turn_collections_back_on_when_the_last_ends():
    assert gc.isenabled()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first() -> None:
        with _no_collection():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with _no_collection():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.isenabled())  # the first has ended, this one has not

    threads = [threading.Thread(target=f) for f in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [False]
    assert gc.isenabled()


def test_collections_turned_off_by_someone_else_stay_off():
    gc.disable()
    try:
        with _no_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
