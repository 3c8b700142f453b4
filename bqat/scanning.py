"""The work of a scan, without the orchestration: plan what to assess, assess a batch, store it.

The Prefect flow (flows/scan.py) calls these steps as tasks; they take paths and names, never
pixels, and each batch is stored as soon as it is assessed, so a crash costs at most one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
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


def assess_batch(
    store: Store, dataset_id: str, modality: str, batch: Sequence[WorkItem], options: dict[str, Any]
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


def delete_dataset(dataset_id: str) -> None:
    """Delete the dataset: its rows and errors, every snapshot and data file that held them,
    its reports and its uploads."""
    import shutil

    from bqat.report_files import report_folder

    Store().delete_dataset(dataset_id)
    shutil.rmtree(report_folder(dataset_id), ignore_errors=True)
    shutil.rmtree(get_settings().home / "uploads" / dataset_id, ignore_errors=True)
