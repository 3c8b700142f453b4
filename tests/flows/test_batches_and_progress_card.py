"""How a flow cuts its work into tasks, and how often it updates its progress card."""

from __future__ import annotations

import itertools

import pytest

from flows import artifacts
from flows.runners import batches


def test_two_hundred_files_in_batches_of_32_make_eight_of_25_on_two_threads():
    assert [len(b) for b in batches(list(range(200)), 32, lanes=2)] == [25] * 8


@pytest.mark.parametrize(
    ("items", "most", "lanes", "sizes"),
    [
        (0, 16, 2, []),
        (1, 16, 2, [1]),
        (10, 32, 2, [5, 5]),  # both threads busy, though one batch would hold them all
        (3, 16, 4, [1, 1, 1]),
        (33, 16, 1, [11, 11, 11]),
        (17, 16, 2, [9, 8]),
        (100, 7, 3, [7] * 10 + [6] * 5),
        (3, 1, 2, [1, 1, 1]),  # one each: no multiple of the lanes holds them
    ],
)
def test_sizes(items, most, lanes, sizes):
    assert [len(b) for b in batches(list(range(items)), most, lanes=lanes)] == sizes


@pytest.mark.parametrize(
    ("items", "lanes", "sizes"),
    [
        (200, 2, [50] * 4),  # two per thread
        (20, 2, [10, 10]),  # at least 16 a batch would make two anyway
        (10_000, 2, [16, 16] + [250] * 8 + [249] * 32),  # 16s first; 42 tasks, not 626
        (120, 2, [30] * 4),  # batches under 4 x 16: no first round of 16s
        (500, 2, [16, 16] + [117] * 4),
        (100, 1, [50] * 2),
        (90, 2, [23, 23, 22, 22]),
    ],
)
def test_by_default_two_per_thread_of_at_most_256_large_ones_after_a_round_of_16(
    items, lanes, sizes
):
    assert [len(b) for b in batches(list(range(items)), lanes=lanes)] == sizes


def test_every_item_once_in_order_within_the_bound_and_a_multiple_of_the_lanes():
    for count, most, lanes in itertools.product(range(0, 70), (1, 4, 16), (1, 2, 3)):
        cut = batches([f"f{i}" for i in range(count)], most, lanes=lanes)
        assert [x for b in cut for x in b] == [f"f{i}" for i in range(count)]
        assert all(1 <= len(b) <= most for b in cut)
        sizes = {len(b) for b in cut}
        assert max(sizes, default=0) - min(sizes, default=0) <= 1
        assert len(cut) % lanes == 0 or all(len(b) == 1 for b in cut), (count, most, lanes)


def test_the_progress_card_is_updated_at_most_every_two_seconds_and_always_at_the_end(
    monkeypatch,
):
    shown, clock = [], [100.0]
    monkeypatch.setattr(artifacts, "create_progress_artifact", lambda **kw: shown.append(kw))
    monkeypatch.setattr(
        artifacts, "update_progress_artifact", lambda card, progress: shown.append(progress)
    )
    monkeypatch.setattr(artifacts.time, "monotonic", lambda: clock[0])
    card = artifacts.ProgressCard("scan-progress", "ds", done=5, total=200)
    assert shown[0]["progress"] == 2.5 and shown[0]["key"] == "scan-progress-ds"
    for done, at in ((30, 100.5), (60, 101.9), (90, 102.1), (120, 102.2), (150, 104.2)):
        clock[0] = at
        card.show(done)
    clock[0] = 104.3
    card.show(200)
    assert shown[1:] == [45.0, 75.0, 100.0]
