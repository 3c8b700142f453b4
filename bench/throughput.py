"""Timing helpers shared by the engine benches (bench/fingerprint.py, bench/iris.py).

`cpu_ms` is the process CPU time of a call per item (one process, one core); `record_rate` is
the wall-clock throughput of full records (`bqat.assess` on paths) in a pool of worker
processes, each warmed up on one sample first so that imports and model loads are not timed.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any


def cpu_ms(function: Callable[[Any], object], items: Sequence[Any], repeats: int = 1) -> float:
    """Process CPU time of `function(item)` per item in ms: the best of `repeats` passes over
    `items`, after one warm-up call on the first item."""
    function(items[0])
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for item in items:
            function(item)
        best = min(best, (time.process_time() - start) / len(items) * 1e3)
    return best


def assess_field(modality: str, field: str, path: Path) -> object:
    """`bqat.assess(path, modality)[field]`: one full record (module level, for a pool)."""
    from bqat import assess

    return assess(path, modality)[field]


def _warm(modality: str, field: str, sample: Path, _: object = None) -> None:
    assess_field(modality, field, sample)


def record_rate(
    paths: Sequence[Path], workers: int, modality: str, field: str, warm_sample: Path
) -> float:
    """Full records per second (wall clock) of `workers` spawned processes over `paths`."""
    warm = partial(_warm, modality, field, warm_sample)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=warm) as pool:
        pool.map(warm, range(workers))
        start = time.perf_counter()
        pool.map(partial(assess_field, modality, field), paths, chunksize=8)
        return len(paths) / (time.perf_counter() - start)
