"""Flow runs as the API's tasks: start them from deployments, read their state, cancel them.

A task id (`tid`) is the Prefect flow-run id. Progress comes from the small file the flow writes
(bqat.progress). A poll is answered from memory only while that answer is at most FRESH_S old
(concurrent polls of one task share one read of Prefect), so a poll never trails the run by
more than that; final runs never change, so they are cached for good.

Admission (`Runs.admission`) is one critical section across every API process that shares
BQAT_HOME: an exclusive lock on BQAT_HOME/locks/admission.lock, so "count the active runs, then
create one" cannot interleave with another request's.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling, Crashed

from bqat.exceptions import NotFoundError
from bqat.progress import read_progress
from bqat.settings import get_settings
from bqat.verdicts import modality_warning
from flows.active import ACTIVE, active_runs
from flows.artifacts import delete_dataset_artifacts
from flows.names import KIND, SCAN, uses_dataset

log = logging.getLogger("bqat.api")
FRESH_S = 0.25  # the oldest answer a poll of a running task may get
# A run PENDING this long was handed to a worker whose process never started it (it died, or
# the machine went away); a run CANCELLING this long has nobody left to confirm the cancel.
# Either would hold a BQAT_MAX_CONCURRENT_SCANS slot and be polled forever: the API ends it.
STUCK_PENDING_S = 600.0
STUCK_CANCELLING_S = 120.0


class AlreadyFinal(Exception):
    """Cancelling a task that has already finished."""


@dataclass(frozen=True)
class Task:
    tid: str
    kind: str
    dataset_id: str | None
    state: str
    progress: dict[str, Any]
    created: str | None
    started: str | None
    finished: str | None
    error: str | None
    warning: str | None = None  # a completed scan whose samples look like another modality

    def as_json(self) -> dict[str, Any]:
        body = {k: v for k, v in self.__dict__.items() if k not in ("error", "warning")}
        body.update({k: v for k in ("error", "warning") if (v := getattr(self, k))})
        return body


class Runs:
    """The tasks of one API process, over one Prefect client."""

    def __init__(self, client: PrefectClient, deployments: dict[str, str]) -> None:
        self._client = client
        self._deployments = deployments  # flow name -> deployment id
        self._flow_names: dict[str, str] = {}  # flow id -> flow name
        self._cache: dict[str, tuple[float, Task]] = {}
        self._reading: dict[str, asyncio.Task[Task]] = {}
        self._admitting = asyncio.Lock()  # one waiter per process on the file lock

    @asynccontextmanager
    async def admission(self) -> AsyncIterator[None]:
        """Hold the admission lock: checks on the active runs and the run created after them
        are one step for every API process sharing BQAT_HOME.

        A run created by `start` is stored SCHEDULED before `start` returns, so the next holder's
        `active` sees it. The file lock is taken in a worker thread (the event loop never
        blocks), by one coroutine of this process at a time (the others wait on an asyncio
        lock, holding no thread); the kernel releases it if the process dies.
        """
        async with self._admitting:
            path = get_settings().home / "locks" / "admission.lock"
            fd = await anyio.to_thread.run_sync(_lock_exclusive, path)
            try:
                yield
            finally:
                os.close(fd)  # releases the lock

    async def start(self, flow_name: str, parameters: dict[str, Any]) -> str:
        run = await self._client.create_flow_run_from_deployment(
            uuid.UUID(self._deployments[flow_name]), parameters=parameters
        )
        return str(run.id)

    async def task(self, tid: str) -> Task:
        """The task as Prefect and the progress file have it at most FRESH_S ago.

        Polls arriving while a read is under way wait for that read instead of starting their
        own. If Prefect cannot answer, the last answer is served (logged) rather than an error,
        so a busy server delays a poll but never fails it once the task has been seen.
        """
        cached = self._cache.get(tid)
        if cached is not None:
            at, task = cached
            if task.finished is not None or time.monotonic() - at < FRESH_S:
                return task
        reading = self._reading.get(tid)
        if reading is None:
            reading = self._reading[tid] = asyncio.create_task(self._refresh(tid))
        try:
            return await asyncio.shield(reading)
        except Exception:
            if cached is None:
                raise
            log.warning("reading task %s from Prefect failed", tid, exc_info=True)
            return cached[1]

    async def _refresh(self, tid: str) -> Task:
        try:
            task = await self._task(await self._read(tid))
            self._cache[tid] = (time.monotonic(), task)
            return task
        finally:
            self._reading.pop(tid, None)

    async def tasks(self, limit: int, offset: int) -> list[Task]:
        runs = await self._client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(KIND))),
            sort=FlowRunSort.START_TIME_DESC,
            limit=limit,
            offset=offset,
        )
        return [await self._listed(run) for run in runs]

    async def _listed(self, run: FlowRun) -> Task:
        """A listed run's task: a finished one from the cache (it never changes, and its progress
        file and modality warning need not be read again each listing), else read and cached."""
        cached = self._cache.get(str(run.id))
        if cached is not None and cached[1].finished is not None:
            return cached[1]
        task = await self._task(run)
        self._cache[task.tid] = (time.monotonic(), task)
        return task

    async def active(self, *flow_names: str) -> dict[str, str | None]:
        """tid -> dataset_id of the runs of these flows that are queued or running."""
        runs = await self.active_parameters(*flow_names)
        return {tid: parameters.get("dataset_id") for tid, parameters in runs.items()}

    async def using(self, datasets: Collection[str], *flow_names: str) -> list[str]:
        """tids of the queued or running runs of these flows that read or write one of
        `datasets` (see flows.names.uses_dataset)."""
        return [
            tid
            for tid, parameters in (await self.active_parameters(*flow_names)).items()
            if any(uses_dataset(parameters, dataset_id) for dataset_id in datasets)
        ]

    async def active_parameters(self, *flow_names: str) -> dict[str, dict[str, Any]]:
        """tid -> parameters of the runs of these flows that are queued or running."""
        runs = [await self._settle(run) for run in await active_runs(self._client, *flow_names)]
        return {
            str(run.id): dict(run.parameters)
            for run in runs
            if run.state_type is None or run.state_type in ACTIVE
        }

    async def _settle(self, run: FlowRun) -> FlowRun:
        """`run`, or, when it is stuck in PENDING or CANCELLING past its limit, the same run
        moved to CRASHED or CANCELLED with a message saying why."""
        state = run.state
        if state is None or state.type not in (StateType.PENDING, StateType.CANCELLING):
            return run
        age = (datetime.now(UTC) - state.timestamp).total_seconds()
        if state.type == StateType.PENDING and age > STUCK_PENDING_S:
            final = Crashed(
                message=f"the flow-run process did not start within {STUCK_PENDING_S:.0f} s "
                "of being handed to a worker; run the task again"
            )
        elif state.type == StateType.CANCELLING and age > STUCK_CANCELLING_S:
            final = Cancelled(
                message=f"no worker confirmed the cancel within {STUCK_CANCELLING_S:.0f} s; "
                "marked cancelled"
            )
        else:
            return run
        log.warning("task %s: %s", run.id, final.message)
        await self._client.set_flow_run_state(run.id, final, force=True)
        return await self._client.read_flow_run(run.id)

    async def delete_artifacts(self, dataset_id: str) -> int:
        """Delete every version of the dataset's Prefect artifacts; how many were."""
        return await delete_dataset_artifacts(self._client, dataset_id)

    async def cancel(self, tid: str) -> Task:
        run = await self._settle(await self._read(tid))
        if run.state is None or run.state.is_final():
            raise AlreadyFinal(f"task {tid} is already {run.state_type.value}")
        waiting = run.state.type in (StateType.SCHEDULED, StateType.PAUSED)
        state = Cancelled(message="cancelled through the API") if waiting else Cancelling()
        await self._client.set_flow_run_state(run.id, state, force=True)
        self._cache.pop(tid, None)
        return await self.task(tid)

    async def _read(self, tid: str) -> FlowRun:
        try:
            return await self._client.read_flow_run(uuid.UUID(tid))
        except (ValueError, ObjectNotFound):
            raise NotFoundError(f"unknown task {tid}") from None

    async def _task(self, run: FlowRun) -> Task:
        run = await self._settle(run)
        flow_name = self._flow_names.get(str(run.flow_id))
        if flow_name is None:
            flow_name = (await self._client.read_flow(run.flow_id)).name
            self._flow_names[str(run.flow_id)] = flow_name
        state = run.state
        final = state is not None and state.is_final()
        failed = state is not None and state.type in (StateType.FAILED, StateType.CRASHED)
        task = Task(
            tid=str(run.id),
            kind=KIND.get(flow_name, flow_name),
            dataset_id=run.parameters.get("dataset_id"),
            state=run.state_type.value if run.state_type else "PENDING",
            progress={},
            created=_iso(run.created),
            started=_iso(run.start_time),
            finished=_iso(run.end_time) if final else None,
            error=(state.message or state.type.value) if failed and state else None,
        )
        # The progress file is read in a thread: a scan's fsyncs can stall file access for a
        # while, and the event loop must keep answering meanwhile.
        progress = await anyio.to_thread.run_sync(_progress, task)
        warning = None
        if task.kind == KIND[SCAN] and task.state == "COMPLETED" and task.dataset_id:
            warning = await anyio.to_thread.run_sync(_modality_warning, task.dataset_id)
        return replace(task, progress=progress, warning=warning)


def _modality_warning(dataset_id: str) -> str | None:
    """The report's wrong-modality warning, for the scan's task too (read once: a final task is
    cached); None when the dataset is gone."""
    try:
        return modality_warning(dataset_id)
    except NotFoundError:
        return None


def _lock_exclusive(path: Path) -> int:
    """Open `path` (created if missing) and wait for an exclusive lock on it; returns the fd."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _progress(task: Task) -> dict[str, Any]:
    """done/total/failed from the flow's progress file; eta from the rate so far."""
    progress = read_progress(task.tid)
    if progress is None:
        return {"total": None, "done": 0, "failed": 0, "eta_s": None, "step": None}
    eta = None
    if task.started and task.finished is None and 0 < progress.done < progress.total:
        elapsed = time.time() - datetime.fromisoformat(task.started).timestamp()
        eta = round(elapsed / progress.done * (progress.total - progress.done), 1)
    elif task.finished is not None or progress.done == progress.total:
        eta = 0.0
    return {
        "total": progress.total,
        "done": progress.done,
        "failed": progress.failed,
        "eta_s": eta,
        "step": None if task.finished is not None else progress.step,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
