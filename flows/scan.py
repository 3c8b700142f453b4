"""`scan-dataset`: discover → plan → assess batches → store → compact → outliers → report.

A thin flow over the library (bqat.ingest, bqat.scanning, bqat.store): tasks take paths and
names, each batch is stored when it is assessed, and a re-run skips what is already stored.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from bqat.assessment import check_models
from bqat.ingest import discover_all
from bqat.measures import check_modality
from bqat.progress import Progress, write_progress
from bqat.scanning import (
    BatchResult,
    Plan,
    ScanSummary,
    WorkItem,
    assess_batch,
    batch_items,
    plan,
    shared_batches,
)
from bqat.store import Store, check_dataset_id, shared_store
from flows import names
from flows.artifacts import (
    DESCRIPTIONS,
    ProgressCard,
    artifact_key,
    current_run_id,
    current_step_id,
    label_run,
    run_name,
)
from flows.checks import check_scan
from flows.outliers import outliers_of
from flows.report import report_of
from flows.runners import ConfiguredTaskRunner, batches


@task(name="plan-scan")
def plan_scan(
    dataset_id: str,
    stored_rows: int,
    source: str,
    modality: str,
    pattern: str | None,
    files: list[str] | None,
) -> Plan:
    """Discover the samples and decide what to assess: a dataset with rows skips the files it
    holds unchanged; what discovery could not use becomes error rows with the reason."""
    found = discover_all(Path(source), modality, pattern=pattern, files=files)
    stored = shared_store().stored_hashes(dataset_id) if stored_rows else {}
    return plan(stored, found.samples, found.skipped)


@task(name="assess-batch")
def assess_batch_task(
    dataset_id: str,
    modality: str,
    batch: list[WorkItem],
    options: dict[str, Any],
    shared: str | None = None,
    index: int = 0,
) -> BatchResult:
    """Batch `index` of the scan; on the flow's own threads, the last round shares its files
    (`bqat.scanning.batch_items`), so a task may store fewer or more files than `batch`."""
    items = batch_items(shared, index, batch)
    return assess_batch(shared_store(), dataset_id, modality, items, options)


@task(name="compact-store")
def compact_store(dataset_id: str) -> bool:
    """One part of rows and one of errors per dataset after a scan: later queries read less."""
    return shared_store().compact(dataset_id)


@task(name=names.OUTLIERS)
def outliers_step(dataset_id: str) -> None:
    outliers_of(dataset_id, current_step_id())


@task(name=names.REPORT)
def report_step(dataset_id: str) -> None:
    report_of(dataset_id, current_step_id())


@flow(
    name=names.SCAN,
    flow_run_name=run_name("scan {dataset_id} · {modality}"),
    task_runner=ConfiguredTaskRunner(),
)
def scan_dataset(
    source: str,
    modality: str,
    dataset_id: str | None = None,
    files: list[str] | None = None,
    pattern: str | None = None,
    batch_size: int | None = None,
    options: dict[str, Any] | None = None,
    progress_key: str | None = None,
) -> ScanSummary:
    """Assess every sample of `modality` under `source` into dataset `dataset_id` (new if None).

    `batch_size` is the most files per assess task (default: see flows.runners.TASKS_PER_THREAD).
    Progress is written under the flow-run id, and under `progress_key` too when the caller
    wants to follow it before it knows the run id (the CLI's progress bar).
    """
    check_scan(source, modality, dataset_id, files)
    logger = get_run_logger()
    check_models(check_modality(modality))  # a missing or corrupt model stops the scan here
    dataset_id = check_dataset_id(dataset_id or uuid.uuid4().hex)
    options = dict(options or {})
    store = shared_store()
    info = store.create_dataset(dataset_id, modality, source=Path(source).resolve())
    keys = [current_run_id(), *([progress_key] if progress_key else [])]

    work = plan_scan(dataset_id, info.rows, source, modality, pattern, files)
    if work.unreadable:
        store.append(dataset_id, errors=work.unreadable)
    total = len(work.work) + work.skipped + len(work.unreadable)
    label_run(
        dataset_id=dataset_id,
        modality=modality,
        name=f"scan {dataset_id} · {modality} · {total} files",
    )
    done = work.skipped + len(work.unreadable)
    failed = len(work.unreadable)
    _report(keys, Progress(total=total, done=done, failed=failed, step="assess"))
    card = ProgressCard("scan-progress", dataset_id, done, total)

    planned = batches(work.work, batch_size)
    assessed = 0
    with shared_batches(planned) as shared:
        futures = [
            assess_batch_task.submit(dataset_id, modality, batch, options, shared, index)
            for index, batch in enumerate(planned)
        ]
        for future in futures:
            result = future.result()
            assessed += result.assessed
            failed += result.failed
            done += result.assessed + result.failed
            _report(keys, Progress(total=total, done=done, failed=failed, step="assess"))
            card.show(done)

    # The merge runs beside the outliers and the report, which read the same rows either way.
    compaction = compact_store.submit(dataset_id)
    # So that GET /scan/{id}/outliers and /report answer as soon as the scan ends: steps of this
    # run, each with progress of its own under its task run id (as tasks they cost ~10 ms of
    # Prefect's time each; as subflow runs they cost ~120 ms, measured on 200 rows). Their
    # failure is logged, not raised: the rows are stored, and each can be run again on its own.
    _report(keys, Progress(total=total, done=done, failed=failed, step="outliers"))
    outliers = outliers_step(dataset_id, return_state=True)
    _report(keys, Progress(total=total, done=done, failed=failed, step="report"))
    report = report_step(dataset_id, return_state=True)
    for state in (outliers, report):
        if state.is_failed() or state.is_crashed():
            logger.warning("after the scan of %s: %s", dataset_id, state.message)
    compaction.result()
    summary = ScanSummary(
        dataset_id=dataset_id,
        discovered=total,
        assessed=assessed,
        skipped=work.skipped,
        failed=failed,
    )
    _publish(store, summary)
    store.release(dataset_id)
    _report(keys, Progress(total=total, done=done, failed=failed))
    logger.info("scan of %s into %s: %s", source, dataset_id, summary)
    return summary


def _report(keys: list[str], progress: Progress) -> None:
    for key in keys:
        write_progress(key, progress)


def _publish(store: Store, summary: ScanSummary) -> None:
    """A per-column summary table and a markdown note for the Prefect UI."""
    table = [
        {key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}
        for row in store.summary(summary.dataset_id)
    ]
    if table:
        create_table_artifact(
            table=table,
            key=artifact_key("scan-summary", summary.dataset_id),
            description=DESCRIPTIONS["scan-summary"],
        )
    counts = (summary.discovered, summary.assessed, summary.skipped, summary.failed)
    create_markdown_artifact(
        key=artifact_key("scan-report", summary.dataset_id),
        description=DESCRIPTIONS["scan-report"],
        markdown=(
            f"# Scan of dataset `{summary.dataset_id}`\n\n"
            "| discovered | assessed | skipped | failed |\n|---|---|---|---|\n"
            + "| "
            + " | ".join(str(c) for c in counts)
            + " |\n"
        ),
    )
