"""`compare-drift`: Evidently's drift report between a dataset and a reference dataset (or the
reference as it was at a snapshot: `id@snapshot`, `id@ISO time`)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from bqat.drift import write_drift
from flows import names
from flows.artifacts import label_run, publish_link, run_name
from flows.checks import check_drift


@flow(name=names.DRIFT, flow_run_name=run_name("drift {dataset_id} against {reference_id}"))
def compare_drift(
    dataset_id: str, reference_id: str, columns: list[str] | None = None
) -> dict[str, object]:
    """Compare, store the HTML and JSON summary, and link the report from the Prefect UI."""
    check_drift(dataset_id, reference_id)
    label_run(dataset_id=dataset_id)
    summary, _ = write_drift(dataset_id, reference_id, columns)
    reference_id = summary.reference_id  # a time resolved to the snapshot it names
    verdict = "drifted" if summary.drifted else "no drift"
    publish_link(
        "drift",
        dataset_id,
        f"/scan/{dataset_id}/drift?reference={reference_id}",
        f"Drift of {dataset_id} against {reference_id}: {verdict} "
        f"({summary.share_drifted:.0%} of columns)",
    )
    get_run_logger().info(
        "drift of %s against %s: %s, %.0f%% of %d columns",
        dataset_id,
        reference_id,
        verdict,
        100 * summary.share_drifted,
        len(summary.columns),
    )
    return summary.to_json()
