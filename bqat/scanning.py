"""The work of a scan, without the orchestration: plan what to assess, assess a batch, store it.

The Prefect flow (flows/scan.py) calls these steps as tasks; they take paths and names, never
pixels, and each batch is stored as soon as it is assessed, so a crash costs at most one batch.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bqat._version import __version__
from bqat.assessment import assess_sample, models_used
from bqat.deadline import within
from bqat.exceptions import BqatError, ConfigError, ModelError
from bqat.hashing import file_sha256
from bqat.ingest import SampleFile, Skipped
from bqat.settings import get_settings
from bqat.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanSummary:
    """What one scan did: files discovered, assessed now, skipped (already stored), failed."""

    dataset_id: str
    discovered: int
    assessed: int
    skipped: int
    failed: int


@dataclass(frozen=True)
class WorkItem:
    """One file to assess: its path, its name in the dataset, its content hash."""

    path: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Plan:
    work: list[WorkItem]
    skipped: int
    unreadable: list[dict[str, Any]]


@dataclass(frozen=True)
class BatchResult:
    assessed: int
    failed: int


def plan(
    stored: Mapping[str, str],
    samples: Sequence[SampleFile],
    unusable: Sequence[Skipped] = (),
) -> Plan:
    """Hash every sample; skip those whose stored row (`stored`: file -> sha256, as
    `Store.stored_hashes` gives) has the same content, queue the rest.

    Files that errored before have no stored row, so they are queued again (retried). What
    discovery could not use (`unusable`: links that loop or leave the folder, unreadable
    folders, bad file-list entries) and files that cannot be read are `unreadable`: error rows.
    """
    work, skipped = [], 0
    unreadable: list[dict[str, Any]] = [entry.error_row() for entry in unusable]
    for sample in samples:
        try:
            digest = file_sha256(sample.path)
        except OSError as exc:
            unreadable.append(
                {
                    "file": sample.name,
                    "sha256": None,
                    "reason": f"cannot read: {exc.strerror or exc}",
                }
            )
            continue
        if stored.get(sample.name) == digest:
            skipped += 1
        else:
            work.append(WorkItem(path=str(sample.path), name=sample.name, sha256=digest))
    return Plan(work=work, skipped=skipped, unreadable=unreadable)


class _BatchQueue:
    """The files of one scan's batches, left to assess, shared by the batches' tasks."""

    def __init__(self, batches: Sequence[Sequence[WorkItem]]) -> None:
        self._left = [deque(batch) for batch in batches]
        self._started = [False] * len(batches)
        self._lock = threading.Lock()

    def take(self, index: int) -> WorkItem | None:
        """The next file for batch `index`'s task: its own in order; once its own are taken
        and every batch has started, the last one of the batch with the most left; None when
        there is nothing for it."""
        with self._lock:
            self._started[index] = True
            if self._left[index]:
                return self._left[index].popleft()
            if not all(self._started):
                return None  # the thread takes the next batch; sharing is for the last round
            fullest = max(self._left, key=len)
            return fullest.pop() if fullest else None


_QUEUES: dict[str, _BatchQueue] = {}
_QUEUES_LOCK = threading.Lock()


@contextmanager
def shared_batches(batches: Sequence[Sequence[WorkItem]]) -> Iterator[str]:
    """Let the tasks of these batches that run in this process share their last files (see
    `batch_items`); yields the key they find them by.

    Why: batches of equal size started together do not end together. In 200-file scans on two
    threads, the last two batches of 50 ended up to 1 s apart (median 0.2 s) while one core
    waited; sharing, 0.1 s at most.
    """
    key = uuid.uuid4().hex
    with _QUEUES_LOCK:
        _QUEUES[key] = _BatchQueue(batches)
    try:
        yield key
    finally:
        with _QUEUES_LOCK:
            del _QUEUES[key]


def batch_items(key: str | None, index: int, batch: Sequence[WorkItem]) -> Iterator[WorkItem]:
    """The files the task of batch `index` assesses: its own, then, once every batch has
    started, files taken from the end of the batch with the most left, so that the threads end
    together. Where `key` is unknown (a task in another process, such as a Dask worker, or
    no `shared_batches`), exactly `batch`: nothing of a batch is shared until its task has
    started in the process that shares, so no file is assessed twice."""
    with _QUEUES_LOCK:
        queue = _QUEUES.get(key) if key else None
    if queue is None:
        yield from batch
        return
    while (item := queue.take(index)) is not None:
        yield item


def assess_batch(
    store: Store, dataset_id: str, modality: str, batch: Iterable[WorkItem], options: dict[str, Any]
) -> BatchResult:
    """Assess each file of the batch and store rows and errors as one part each.

    A file that cannot be assessed, or takes longer than BQAT_FILE_TIMEOUT_S, becomes an error
    row with its reason; the batch goes on, and so does a model failing on one file
    (`InferenceError`). A configuration error (bad options) or a missing model is not about one
    file, so it stops the batch.
    """
    bookkeeping = {
        "engine_version": __version__,
        "models": models_used(modality),
        "options": options,
    }
    limit_s = get_settings().file_timeout_s
    rows, errors = [], []
    for item in batch:
        try:
            record = within(
                limit_s,
                partial(assess_sample, Path(item.path), modality, file=item.name, options=options),
                f"assessing {item.name}",
            )
        except (ConfigError, ModelError):  # not about one file: stop the scan with the reason
            raise
        except BqatError as exc:
            errors.append({"file": item.name, "sha256": item.sha256, "reason": str(exc)})
            continue
        except Exception as exc:  # a bug must cost one file, not the scan; it is logged in full
            log.exception("assessing %s failed", item.name)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            errors.append({"file": item.name, "sha256": item.sha256, "reason": reason})
            continue
        rows.append({**record, "sha256": item.sha256, **bookkeeping})
    store.append(dataset_id, rows=rows, errors=errors)
    return BatchResult(assessed=len(rows), failed=len(errors))


def profiles(
    dataset_id: str,
    offset: int = 0,
    limit: int | None = None,
    order_by: str | None = None,
    as_of: int | str | None = None,
) -> list[dict[str, Any]]:
    """Stored rows of a dataset; `order_by` is 'col' or 'col,-col2'; `as_of` a snapshot id or
    an ISO 8601 time (a past state, see `history`)."""
    terms = [t for t in (order_by or "").split(",") if t]
    store = Store()
    return store.profiles(dataset_id, offset=offset, limit=limit, order_by=terms, as_of=as_of).items


def errors(dataset_id: str, as_of: int | str | None = None) -> list[dict[str, Any]]:
    """Per-file errors of a dataset: `file` and `reason`."""
    return Store().errors(dataset_id, as_of=as_of)


def history(dataset_id: str) -> list[dict[str, Any]]:
    """The dataset's snapshots: `{snapshot, time, flow_run, added, changed, removed}`."""
    return Store().history(dataset_id)


def delete_dataset(dataset_id: str, store: Store | None = None) -> None:
    """Delete the dataset: its rows and errors, every snapshot and data file that held them,
    its reports and its uploads. (The Prefect artifacts that summarise it are the entry points'
    to delete: `bqat.delete_dataset` and the CLI through `bqat.runner`, and the API.)"""
    import shutil

    from bqat.report_files import report_folder

    (store or Store()).delete_dataset(dataset_id)
    shutil.rmtree(report_folder(dataset_id), ignore_errors=True)
    shutil.rmtree(get_settings().home / "uploads" / dataset_id, ignore_errors=True)
