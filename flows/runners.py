"""The task runner of the flows, from BQAT_TASK_RUNNER: local threads, or a Dask cluster."""

from __future__ import annotations

import os

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from bqat.settings import get_settings

DASK_SCHEME = "dask://"


def task_runner() -> TaskRunner:
    """Threads on this machine (one per core), or the Dask scheduler at `dask://host:port`.

    Dask workers run in their own processes, on this or other machines; they need the same
    BQAT_HOME (a shared filesystem) and model files as this process.
    """
    choice = get_settings().task_runner
    if choice.startswith(DASK_SCHEME):
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address="tcp://" + choice[len(DASK_SCHEME) :])
    return ThreadPoolTaskRunner(max_workers=os.cpu_count() or 1)
