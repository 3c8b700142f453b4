"""`build-report`: the dataset's HTML quality report, linked from the Prefect UI."""

from __future__ import annotations

from prefect import flow, get_run_logger

from bqat.progress import Progress, write_progress
from bqat.report import write_report
from bqat.store import Store
from flows import names
from flows.artifacts import current_run_id, label_run, publish_link, run_name
from flows.checks import check_datasets


@flow(name=names.REPORT, flow_run_name=run_name("report {dataset_id}"))
def build_report(dataset_id: str) -> str:
    """Build and store the report; returns its path."""
    check_datasets(dataset_id)
    label_run(dataset_id=dataset_id)
    rows = Store().dataset(dataset_id).rows
    write_progress(current_run_id(), Progress(total=rows, done=0, failed=0, step="report"))
    path = write_report(dataset_id)
    write_progress(current_run_id(), Progress(total=rows, done=rows, failed=0))
    publish_link("report", dataset_id, f"/scan/{dataset_id}/report", f"Report of {dataset_id}")
    get_run_logger().info("report of %s: %s (%d bytes)", dataset_id, path, path.stat().st_size)
    return str(path)
