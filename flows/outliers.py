"""`detect-outliers`: score a dataset's rows, store the result, link it from the Prefect UI."""

from __future__ import annotations

from prefect import flow, get_run_logger

from bqat.outliers import DEFAULT_CONTAMINATION, DEFAULT_DETECTOR, detect, write_outliers
from flows.artifacts import publish_link


@flow(name="detect-outliers")
def detect_outliers(
    dataset_id: str,
    detector: str = DEFAULT_DETECTOR,
    columns: list[str] | None = None,
    contamination: float = DEFAULT_CONTAMINATION,
) -> dict[str, object]:
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
    return result.to_json()
