"""Data drift between two datasets of one modality: Evidently's per-column tests and a verdict.

Each column is compared with the test Evidently picks for its type and size (K-S or chi-square
p-values on small samples, Wasserstein or Jensen-Shannon distances on large ones); a column
drifts when its test fails, and the dataset drifts when at least half its columns do. The
reference may be a dataset as it was at a snapshot (`id@snapshot`, `id@ISO time`: last month's
audit, say); a time is resolved to its snapshot, which the summary and the HTML name.
Evidently takes 3-4 s to import, so it is imported when a comparison runs.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from bqat.atomic import atomic_write
from bqat.exceptions import ConfigError
from bqat.measures import quality_columns
from bqat.report_files import drift_paths
from bqat.store import Store

DRIFT_SHARE = 0.5
MAX_ROWS = 50_000  # rows per dataset given to the tests; larger datasets are sampled (seeded)


@dataclass(frozen=True)
class ColumnDrift:
    method: str
    score: float
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    """design.md's drift JSON: verdict, share of drifted columns and each column's test."""

    dataset_id: str
    reference_id: str
    drifted: bool
    share_drifted: float
    columns: dict[str, ColumnDrift]
    excluded: dict[str, str]
    reference_snapshot: int | None = None  # None: the reference as it is now
    reference_time: str | None = None  # that snapshot's time, ISO 8601 UTC

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.reference_snapshot is None:  # the reference as it is now: no snapshot to name
            del data["reference_snapshot"], data["reference_time"]
        return data


def compare(
    dataset_id: str,
    reference_id: str,
    columns: Sequence[str] | None = None,
    store: Store | None = None,
) -> tuple[DriftSummary, str]:
    """Compare `dataset_id` (current) with `reference_id`; returns the summary and the HTML."""
    store = store or Store()
    reference_id = store.pin(reference_id)
    at = reference_id.partition("@")[2]
    snapshot, time = store.snapshot(at) if at else (None, None)
    current_info, reference_info = store.dataset(dataset_id), store.dataset(reference_id)
    if current_info.modality != reference_info.modality:
        raise ConfigError(
            f"cannot compare {current_info.modality} dataset {dataset_id} with "
            f"{reference_info.modality} dataset {reference_id}"
        )
    wanted = list(columns) if columns else quality_columns(current_info.modality)
    current = _sampled(store.table(dataset_id, wanted))
    reference = _sampled(store.table(reference_id, wanted))
    empty = {
        name: [
            which
            for which, table in (("the dataset", current), ("the reference", reference))
            if table.column(name).null_count == table.num_rows
        ]
        for name in wanted
    }
    excluded = {name: "no values in " + " or ".join(w) for name, w in empty.items() if w}
    usable = [name for name in wanted if name not in excluded]
    if not usable:
        raise ConfigError(
            f"nothing to compare: none of the {len(wanted)} columns has values in both "
            f"{dataset_id} ({current.num_rows} rows) and {reference_id} ({reference.num_rows} rows)"
        )
    report = _run_evidently(current.select(usable), reference.select(usable))
    results = report.dict()
    share = next(
        m["value"]["share"]
        for m in results["metrics"]
        if m["config"]["type"].endswith("DriftedColumnsCount")
    )
    drift_tests = {
        t["metric_config"]["params"]["column"]: t
        for t in results["tests"]
        if t["metric_config"]["params"]["type"].endswith("ValueDrift")
    }
    scores = {
        m["config"]["column"]: m["value"]
        for m in results["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    per_column = {
        name: ColumnDrift(
            method=drift_tests[name]["metric_config"]["params"]["method"],
            score=float(scores[name]),
            drifted=drift_tests[name]["status"] == "FAIL",
        )
        for name in usable
    }
    summary = DriftSummary(
        dataset_id=dataset_id,
        reference_id=reference_id,
        drifted=float(share) >= DRIFT_SHARE,
        share_drifted=float(share),
        columns=per_column,
        excluded=excluded,
        reference_snapshot=snapshot,
        reference_time=time and time.isoformat(),
    )
    return summary, _titled(report.get_html_str(as_iframe=False), summary)


def write_drift(
    dataset_id: str, reference_id: str, columns: Sequence[str] | None = None
) -> tuple[DriftSummary, Path]:
    """Compare and store the HTML and JSON under the dataset's report folder (named after the
    reference, a time resolved to its snapshot)."""
    summary, page = compare(dataset_id, reference_id, columns)
    html_path, json_path = drift_paths(dataset_id, summary.reference_id)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(html_path, page)
    atomic_write(json_path, json.dumps(summary.to_json(), indent=2))
    return summary, html_path


def read_drift(dataset_id: str, reference_id: str) -> DriftSummary | None:
    """The stored summary of an earlier comparison, or None."""
    _, json_path = drift_paths(dataset_id, reference_id)
    if not json_path.is_file():
        return None
    data = json.loads(json_path.read_text())
    data["columns"] = {k: ColumnDrift(**v) for k, v in data["columns"].items()}
    return DriftSummary(**data)


def _titled(page: str, summary: DriftSummary) -> str:
    """Evidently's page with a line naming what was compared (it names neither dataset)."""
    against = html.escape(summary.reference_id.partition("@")[0])
    if summary.reference_snapshot is not None:
        against += f" as of snapshot {summary.reference_snapshot} ({summary.reference_time})"
    title = f"Drift of {html.escape(summary.dataset_id)} against {against}"
    line = f'<h2 style="font-family: sans-serif; margin: 1em">{title}</h2>'
    return re.sub(r"<body[^>]*>", lambda body: body[0] + line, page, count=1)


def _sampled(table: pa.Table) -> pa.Table:
    if table.num_rows <= MAX_ROWS:
        return table
    keep = np.sort(np.random.default_rng(0).choice(table.num_rows, MAX_ROWS, replace=False))
    return table.take(pa.array(keep))


def _run_evidently(current: pa.Table, reference: pa.Table) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=current.column_names)
    report = Report([DataDriftPreset(drift_share=DRIFT_SHARE)], include_tests=True)
    # Evidently also correlates the columns with one another (np.corrcoef), which divides by
    # zero for a column equal on every row: a warning in the logs about nothing the drift uses.
    with np.errstate(divide="ignore", invalid="ignore"):
        return report.run(
            Dataset.from_pandas(current.to_pandas(), data_definition=definition),
            Dataset.from_pandas(reference.to_pandas(), data_definition=definition),
        )
