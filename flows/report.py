"""`build-report`: the dataset's HTML quality report, linked from the Prefect UI."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from bqat.progress import Progress, write_progress
from bqat.report import write_report
from bqat.store import shared_store
from flows import names
from flows.artifacts import current_run_id, label_run, publish_link, run_name
from flows.checks import check_datasets


@flow(name=names.REPORT, flow_run_name=run_name("report {dataset_id}"))
def build_report(dataset_id: str) -> str:
    """Build and store the report; returns its path."""
    check_datasets(dataset_id)
    label_run(dataset_id=dataset_id)
    path = report_of(dataset_id, current_run_id())
    shared_store().release(dataset_id)
    return str(path)


def report_of(dataset_id: str, progress_key: str) -> Path:
    """Build and store the report of a checked dataset and link it from the Prefect UI;
    progress over the dataset's rows under `progress_key`."""
    store = shared_store()
    rows = store.dataset(dataset_id).rows
    write_progress(progress_key, Progress(total=rows, done=0, failed=0, step="report"))
    path = write_report(dataset_id, store)
    write_progress(progress_key, Progress(total=rows, done=rows, failed=0))
    publish_link("report", dataset_id, f"/scan/{dataset_id}/report", f"Report of {dataset_id}")
    get_run_logger().info("report of %s: %s (%d bytes)", dataset_id, path, path.stat().st_size)
    return path
