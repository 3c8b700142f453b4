"""`preprocess-folder`: convert a folder's images or recordings into a new folder, then, when
asked, scan the output into a dataset.

A thin flow over bqat.preparation: the plan (inputs and their output names) is made once, the
output folder is claimed (new, or left by an interrupted run of the same source and options,
whose outputs are kept), the files are converted in batches on the configured task runner, and
every input ends counted in the progress as done, or done and failed; the failures are listed in
an artifact with their reasons (and stored as the dataset's error rows when the output is
scanned).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from bqat.ingest import Skipped
from bqat.preparation import (
    Job,
    Outcome,
    Plan,
    PreprocessSummary,
    check_options,
    claimed_output,
    convert_batch,
    default_output,
    pending,
    plan,
)
from bqat.progress import Progress, write_progress
from bqat.settings import get_settings
from bqat.store import Store
from flows import names
from flows.artifacts import DESCRIPTIONS, artifact_key, current_run_id, label_run, run_name
from flows.checks import check_preprocess, created_through_prefect
from flows.runners import ConfiguredTaskRunner, batches
from flows.scan import scan_dataset

STEP = "preprocess"


@task(name="plan-preprocessing")
def plan_task(source: str, options: dict[str, Any]) -> Plan:
    return plan(Path(source), check_options(options))


@task(name="convert-batch")
def convert_task(jobs: list[Job], output: str, options: dict[str, Any]) -> Outcome:
    return convert_batch(jobs, Path(output), check_options(options))


@flow(
    name=names.PREPROCESS,
    flow_run_name=run_name("preprocess {source}"),
    task_runner=ConfiguredTaskRunner(),
)
def preprocess_folder(
    source: str,
    output: str | None = None,
    options: dict[str, Any] | None = None,
    modality: str | None = None,
    dataset_id: str | None = None,
    batch_size: int | None = None,
) -> PreprocessSummary:
    """Convert every input under `source` into the new folder `output` (default: see
    bqat.preparation.default_output); with `modality`, scan the output into `dataset_id`.
    `batch_size`: most files per task (default: see flows.runners.TASKS_PER_THREAD)."""
    run_id = current_run_id()
    roots = get_settings().data_root if created_through_prefect() else ()
    target = Path(output) if output else default_output(Path(source).resolve(), run_id, roots)
    options = dict(options or {})
    check_preprocess(source, str(target), options, modality, dataset_id)
    if modality is not None:
        dataset_id = dataset_id or uuid.uuid4().hex
    work = plan_task(source, options)
    with claimed_output(Path(source), target, check_options(options)):
        label_run(
            name=f"preprocess {Path(source).name} → {target.name} · {work.total} files",
            dataset_id=dataset_id,
            modality=modality,
        )
        summary = _convert(run_id, work, options, batch_size, source, str(target), dataset_id)
    _publish(run_id, summary)
    if modality is not None:
        _scan(run_id, summary, modality, dataset_id)
    write_progress(run_id, Progress(total=summary.total, done=summary.total, failed=summary.failed))
    get_run_logger().info(
        "preprocessed %s into %s: %d written (%d kept from an earlier run), %d failed",
        source,
        target,
        summary.written,
        summary.kept,
        summary.failed,
    )
    return summary


def _convert(
    run_id: str,
    work: Plan,
    options: dict[str, Any],
    batch_size: int | None,
    source: str,
    output: str,
    dataset_id: str | None,
) -> PreprocessSummary:
    """Convert the jobs whose output is not there yet, in batches; the progress counts the
    outputs already there and the known errors as done from the start."""
    todo, kept = pending(work.jobs, Path(output))
    errors = list(work.errors)
    done = len(errors) + len(kept)
    write_progress(run_id, Progress(total=work.total, done=done, failed=len(errors), step=STEP))
    futures = [
        (len(batch), convert_task.submit(batch, output, options))
        for batch in batches(todo, batch_size)
    ]
    written = len(kept)
    for size, future in futures:
        outcome = future.result()
        written += len(outcome.written)
        errors += outcome.errors
        done += size
        write_progress(run_id, Progress(total=work.total, done=done, failed=len(errors), step=STEP))
    errors.sort(key=lambda e: e.name)
    return PreprocessSummary(
        source=source,
        output=output,
        total=work.total,
        written=written,
        failed=len(errors),
        errors=errors,
        dataset_id=dataset_id,
        kept=len(kept),
    )


def _scan(run_id: str, summary: PreprocessSummary, modality: str, dataset_id: str) -> None:
    """Scan the output into `dataset_id`, whose error rows first list the inputs that
    preprocessing could not convert (so that the scan's report counts them too)."""
    progress = Progress(total=summary.total, done=summary.total, failed=summary.failed)
    write_progress(run_id, replace(progress, step="scan"))
    store = Store()
    store.create_dataset(dataset_id, modality)
    if summary.errors:
        rows = [Skipped(e.name, f"preprocessing: {e.reason}").error_row() for e in summary.errors]
        store.append(dataset_id, errors=rows)
    scan_dataset(summary.output, modality, dataset_id=dataset_id)


def _publish(run_id: str, summary: PreprocessSummary) -> None:
    """The counts, and the failures with their reasons, for the Prefect UI."""
    if summary.errors:
        create_table_artifact(
            table=[{"file": e.name, "reason": e.reason} for e in summary.errors],
            key=artifact_key("preprocess-errors", run_id),
            description=DESCRIPTIONS["preprocess-errors"],
        )
    create_markdown_artifact(
        key=artifact_key("preprocess-report", run_id),
        description=DESCRIPTIONS["preprocess-report"],
        markdown=(
            f"# Preprocessing into `{summary.output}`\n\n"
            "| inputs | written | failed |\n|---|---|---|\n"
            f"| {summary.total} | {summary.written} | {summary.failed} |\n"
        ),
    )
