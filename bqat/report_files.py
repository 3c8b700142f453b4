"""Where the HTML and JSON reports of a dataset live: BQAT_HOME/reports/<dataset_id>/."""

from __future__ import annotations

from pathlib import Path

from bqat.settings import get_settings
from bqat.store import check_dataset_id, check_reference


def report_folder(dataset_id: str) -> Path:
    """The dataset's report folder (created on demand by the writers)."""
    return get_settings().home / "reports" / check_dataset_id(dataset_id)


def drift_paths(dataset_id: str, reference_id: str) -> tuple[Path, Path]:
    """The drift report of `dataset_id` against `reference_id` (`id`, or `id@snapshot` once
    `Store.pin` resolved a time): (HTML, JSON summary)."""
    check_reference(reference_id)
    stem = f"drift-{reference_id}"
    folder = report_folder(dataset_id)
    return folder / f"{stem}.html", folder / f"{stem}.json"


def outliers_path(dataset_id: str) -> Path:
    """The latest outlier detection of `dataset_id`, as JSON."""
    return report_folder(dataset_id) / "outliers.json"


def report_path(dataset_id: str) -> Path:
    """The dataset's quality report (HTML), rebuilt at the end of every scan."""
    return report_folder(dataset_id) / "report.html"
