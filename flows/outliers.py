"""`detect-outliers`: score a dataset's rows, store the result, link it from the Prefect UI."""

from __future__ import annotations

from prefect import flow, get_run_logger

from bqat.outliers import DEFAULT_CONTAMINATION, DEFAULT_DETECTOR, detect, write_outliers
from flows import names
from flows.artifacts import publish_link
from flows.checks import check_datasets
from flows.report import build_report


@flow(name=names.OUTLIERS)
def detect_outliers(
    dataset_id: str,
    detector: str = DEFAULT_DETECTOR,
    columns: list[str] | None = None,
    contamination: float = DEFAULT_CONTAMINATION,
    report: bool = True,
) -> dict[str, object]:
    """Detect and store the outliers; with `report`, rebuild the report, which shows them."""
    check_datasets(dataset_id)
    result = detect(dataset_id, detector, columns, contamination)
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
    if report:
        build_report(dataset_id)
    return result.to_json()
