"""The one place that names the flows, and the API's task kind of each (no Prefect import).

The flows' `@flow(name=...)`, their deployments and the API all read these names, so that the
API can start and list runs without importing the flows themselves.
"""

from __future__ import annotations

SCAN = "scan-dataset"
OUTLIERS = "detect-outliers"
REPORT = "build-report"
DRIFT = "compare-drift"
AUDIT = "audit-folder"
PREPROCESS = "preprocess-folder"
MAINTAIN = "maintain-store"  # scheduled by `bqat serve`; not a task of the API

# flow name -> the `kind` of its runs in GET /task/
KIND = {
    SCAN: "scan",
    OUTLIERS: "outliers",
    REPORT: "report",
    DRIFT: "drift",
    AUDIT: "audit",
    PREPROCESS: "preprocess",
}

# Flows whose runs read or write the dataset their `dataset_id` names (drift: or `reference_id`).
DATASET_USERS = (SCAN, PREPROCESS, OUTLIERS, REPORT, DRIFT)


def uses_dataset(parameters: dict[str, object], dataset_id: str) -> bool:
    """Whether a run of one of DATASET_USERS with these parameters reads or writes the dataset."""
    return dataset_id in (parameters.get("dataset_id"), parameters.get("reference_id"))
