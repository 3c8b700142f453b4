"""The task runner of the flows, from BQAT_TASK_RUNNER: local threads, or a Dask cluster."""

from __future__ import annotations

import os
from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from bqat.settings import get_settings

DASK_SCHEME = "dask://"


def task_threads() -> int:
    """Threads of the local task runner: one per core (BQAT_THREADS is per model session)."""
    return os.cpu_count() or 1


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
