"""The task runner of the flows, from BQAT_TASK_RUNNER: local threads, or a Dask cluster."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any, TypeVar

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from bqat.settings import get_settings

DASK_SCHEME = "dask://"
T = TypeVar("T")
# Default batches: two per thread, so that the threads finish together, and no more, since each
# costs some 110 ms of CPU, more than two face images' worth (measured: Prefect's server 45-50,
# its client 10-15, the store's commit of 25 face rows 40-60); a few files at least, for
# progress, and a bounded number, so that progress moves on large runs.
TASKS_PER_THREAD = 2
BATCH_SIZES = (16, 256)
RAMP = 4  # default batches this many times the smallest start with a round of the smallest


def task_threads() -> int:
    """Threads of the local task runner: one per core (BQAT_THREADS is per model session)."""
    return os.cpu_count() or 1


def batches(items: Sequence[T], most: int | None = None, lanes: int | None = None) -> list[list[T]]:
    """`items` in order, in batches of at most `most` whose count is a multiple of `lanes`
    (default: the task threads) and whose sizes differ by one at most. By default `most` follows
    TASKS_PER_THREAD; where that makes large batches (see RAMP), a first round of the smallest
    size comes before them, so that the first results are stored, and progress shows, soon.

    Cut into fixed sizes, 200 files in batches of 32 end with one batch of 8 running alone
    while the other threads wait; evened out over 8 batches of 25, every thread is busy to the
    end. Where there are too few items for that, each is a batch of its own.
    """
    lanes = lanes or task_threads()
    if most is None:
        low, high = BATCH_SIZES
        most = min(high, max(low, math.ceil(len(items) / (lanes * TASKS_PER_THREAD))))
        head = lanes * low
        if most >= RAMP * low:  # a first round of small ones: results, and progress, soon
            return batches(items[:head], low, lanes) + batches(items[head:], most, lanes)
    count = min(len(items), lanes * math.ceil(math.ceil(len(items) / most) / lanes))
    if count == 0:
        return []
    size, larger = divmod(len(items), count)
    cuts = [i * size + min(i, larger) for i in range(count + 1)]
    return [list(items[start:end]) for start, end in itertools.pairwise(cuts)]


def task_runner() -> TaskRunner:
    """Threads on this machine (one per core), or the Dask scheduler at `dask://host:port`.

    Dask workers run in their own processes, on this or other machines; they need the same
    BQAT_HOME (a shared filesystem) and model files as this process.
    """
    choice = get_settings().task_runner
    if choice.startswith(DASK_SCHEME):
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address="tcp://" + choice[len(DASK_SCHEME) :])
    return ThreadPoolTaskRunner(max_workers=task_threads())


class ConfiguredTaskRunner(TaskRunner):
    """Stands for `task_runner()` in a flow's decorator: BQAT_TASK_RUNNER is read when a flow
    run starts, not when the flow's module is imported.

    Prefect enters `flow.task_runner.duplicate()` for every run (a deployment's run on a worker,
    a subflow, a direct call), so the runner that runs tasks is always the configured one.
    """

    def duplicate(self) -> TaskRunner:  # type: ignore[override]
        return task_runner()

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tasks run on the runner duplicate() returns, never on this one")
