"""The last round of a scan's batches shares its files: every file is assessed exactly once,
a task takes others' files only once every batch has started, and from their end."""

from __future__ import annotations

import threading
import time

from bqat.scanning import WorkItem, batch_items, shared_batches


def items(prefix: str, count: int) -> list[WorkItem]:
    return [WorkItem(f"/{prefix}{i}", f"{prefix}{i}", "0" * 64) for i in range(count)]


def names(work: list[WorkItem]) -> list[str]:
    return [item.name for item in work]


def test_without_sharing_a_task_gets_exactly_its_batch():
    batch = items("a", 3)
    assert list(batch_items(None, 0, batch)) == batch
    assert list(batch_items("no such key", 0, batch)) == batch


def test_a_batch_is_not_shared_before_every_batch_has_started():
    first, second = items("a", 2), items("b", 3)
    with shared_batches([first, second]) as key:
        # Batch 1 has not started: batch 0 ends with its own files, so that the thread takes
        # batch 1 next instead of eating into it.
        assert names(list(batch_items(key, 0, first))) == ["a0", "a1"]
        assert names(list(batch_items(key, 1, second))) == ["b0", "b1", "b2"]


def test_once_all_have_started_an_idle_task_takes_from_the_end_of_the_fullest():
    first, second, third = items("a", 1), items("b", 4), items("c", 2)
    with shared_batches([first, second, third]) as key:
        a, b, c = (batch_items(key, i, batch) for i, batch in enumerate([first, second, third]))
        assert next(b).name == "b0" and next(c).name == "c0"
        # The fullest first (the earlier batch of two equally full ones), from its end.
        assert [item.name for item in a] == ["a0", "b3", "b2", "b1", "c1"]
        assert list(b) == [] and list(c) == []


def test_every_file_is_assessed_once_when_one_thread_is_slow():
    batches = [items("a", 20), items("b", 20)]
    done: dict[int, list[str]] = {0: [], 1: []}
    slow_started = threading.Event()
    with shared_batches(batches) as key:

        def work(index: int, pause: float) -> None:
            for item in batch_items(key, index, batches[index]):
                done[index].append(item.name)
                slow_started.set()
                time.sleep(pause)

        slow = threading.Thread(target=work, args=(0, 0.02))
        fast = threading.Thread(target=work, args=(1, 0.0))
        slow.start()
        slow_started.wait()  # both batches have started once the fast one begins
        fast.start()
        slow.join()
        fast.join()
    every = done[0] + done[1]
    assert sorted(every) == sorted(names(batches[0] + batches[1]))
    assert len(done[1]) > 20  # the fast task took files of the slow one's batch
    assert done[1][20:] == [f"a{i}" for i in range(19, 19 - len(done[1][20:]), -1)]


def test_the_key_is_forgotten_when_the_scan_leaves():
    batch = items("a", 2)
    with shared_batches([batch, items("b", 2)]) as key:
        pass
    assert list(batch_items(key, 0, batch)) == batch
