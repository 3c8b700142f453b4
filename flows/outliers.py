"""`detect-outliers`: score a dataset's rows, store the result, link it from the Prefect UI."""

from __future__ import annotations

from prefect import flow, get_run_logger

from bqat.outliers import (
    DEFAULT_CONTAMINATION,
    DEFAULT_DETECTOR,
    OutlierResult,
    detect,
    write_outliers,
)
from bqat.progress import Progress, write_progress
from bqat.store import shared_store
from flows import names
from flows.artifacts import current_run_id, label_run, publish_link, run_name
from flows.checks import check_datasets
from flows.connection import without_heartbeats
from flows.report import build_report


@flow(name=names.OUTLIERS, flow_run_name=run_name("outliers {dataset_id} · {detector}"))
def detect_outliers(
    dataset_id: str,
    detector: str = DEFAULT_DETECTOR,
    columns: list[str] | None = None,
    contamination: float = DEFAULT_CONTAMINATION,
    report: bool = True,
) -> dict[str, object]:
    """Detect and store the outliers; with `report`, rebuild the report, which shows them."""
    check_datasets(dataset_id)
    label_run(dataset_id=dataset_id)
    run_id = current_run_id()
    then = "report" if report else None
    result = outliers_of(dataset_id, run_id, detector, columns, contamination, then=then)
    if report:
        with without_heartbeats():
            build_report(dataset_id)
        write_progress(run_id, Progress(total=result.rows, done=result.rows, failed=0))
    shared_store().release(dataset_id)
    return result.to_json()


def outliers_of(
    dataset_id: str,
    progress_key: str,
    detector: str = DEFAULT_DETECTOR,
    columns: list[str] | None = None,
    contamination: float = DEFAULT_CONTAMINATION,
    then: str | None = None,
) -> OutlierResult:
    """Detect and store the outliers of a checked dataset, link them from the Prefect UI and
    log the count; progress over the dataset's rows under `progress_key`, ending at step
    `then` (what the caller does next, if anything)."""
    store = shared_store()
    rows = store.dataset(dataset_id).rows
    write_progress(progress_key, Progress(total=rows, done=0, failed=0, step="outliers"))
    result = detect(dataset_id, detector, columns, contamination, store)
    write_outliers(result)
    publish_link(
        "outliers",
        dataset_id,
        f"/scan/{dataset_id}/outliers",
        f"{len(result.outliers)} outliers of {dataset_id} ({result.detector})",
    )
    get_run_logger().info(
        "%s: %d outliers among %d rows (%d excluded for missing values)",
        dataset_id,
        len(result.outliers),
        result.rows,
        len(result.excluded),
    )
    write_progress(progress_key, Progress(total=rows, done=rows, failed=0, step=then))
    return result
