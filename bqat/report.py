"""The quality report of one dataset: a self-contained HTML page that works offline.

Summary, outliers with thumbnails, duplicates, errors and failed measures, the declared columns
with their statistics, then the distribution of every measure as a small inline SVG captioned
with its declared description and unit (bqat.report_charts). No script and no other host: the
thumbnails are data URIs. (Evidently, 3-4 s to import and ~0.5 MB per measure, still draws the
drift report, where its tests add something.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bqat._version import __version__
from bqat.atomic import atomic_write
from bqat.duplicates import DuplicateGroup, find_duplicates
from bqat.engines import MEASURE_ERRORS
from bqat.measures import Measure, measures
from bqat.outliers import read_outliers
from bqat.report_charts import Histogram, histogram
from bqat.report_files import report_path
from bqat.report_html import Deviation, render_page
from bqat.store import DatasetInfo, Store
from bqat.thumbnails import sample_path, thumbnail_uri

THUMBNAILED_OUTLIERS = 24
THUMBNAILED_GROUPS = 20
THUMBNAILS_PER_GROUP = 4
SHOWN_DEVIATIONS = 3


@dataclass(frozen=True)
class MeasureFailures:
    """How many stored rows could not compute one measure, and the reason of the first of them."""

    count: int
    first_file: str
    first_reason: str


@dataclass(frozen=True)
class ReportContent:
    """Everything the page shows, gathered from the store and the stored detections."""

    info: DatasetInfo
    generated_at: datetime
    measures: list[Measure]
    counts: dict[str, int]
    shares: dict[str, list[tuple[str, float]]]
    outliers: dict[str, Any] | None
    deviations: dict[str, list[Deviation]]
    duplicates: list[DuplicateGroup]
    errors: list[dict[str, Any]]
    failures: dict[str, MeasureFailures]
    thumbnails: dict[str, str]
    histograms: dict[str, Histogram]
    history: list[dict[str, Any]]  # the dataset's snapshots, oldest first


def build_report(dataset_id: str, store: Store | None = None) -> str:
    """The report page of the dataset, as HTML text."""
    return render_page(gather(dataset_id, store or Store()), __version__)


def write_report(dataset_id: str, store: Store | None = None) -> Path:
    """Build the report and store it (atomically) as the dataset's report.html."""
    html = build_report(dataset_id, store)
    path = report_path(dataset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, html)
    return path


def gather(dataset_id: str, store: Store) -> ReportContent:
    info = store.dataset(dataset_id)
    declared = measures(info.modality)
    outliers = read_outliers(dataset_id)
    duplicates = find_duplicates(dataset_id, store=store)
    wanted = _thumbnailed(outliers, duplicates)
    table = store.table(dataset_id, [m.name for m in declared])
    labelled = [m.name for m in declared if m.type == "boolean" or m.values]
    return ReportContent(
        info=info,
        generated_at=datetime.now(UTC),
        measures=declared,
        counts={
            name: table.num_rows - table.column(name).null_count for name in table.column_names
        },
        shares={name: _shares(table.column(name)) for name in labelled},
        outliers=outliers,
        deviations=_deviations(outliers, dataset_id, store),
        duplicates=duplicates,
        errors=store.errors(dataset_id),
        failures=_failures(store.table(dataset_id, ["file", MEASURE_ERRORS])),
        thumbnails=_thumbnails(wanted, dataset_id, store),
        history=store.history(dataset_id),
        histograms={
            m.name: chart
            for m in declared
            if m.type in ("integer", "number")
            and (chart := histogram(_floats(table.column(m.name)), integer=m.type == "integer"))
        },
    )


def _floats(values: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64, NaN where a value is missing."""
    return values.cast(pa.float64()).to_numpy(zero_copy_only=False)


def _failures(table: pa.Table) -> dict[str, MeasureFailures]:
    """Per measure, the rows whose `measure_errors` name it (rows stored before the column
    existed hold null there and count as none). Only rows with a failure are parsed."""
    failed = table.filter(pc.not_equal(table.column(MEASURE_ERRORS), "{}"))
    found: dict[str, MeasureFailures] = {}
    for file, text in zip(
        *(failed.column(c).to_pylist() for c in failed.column_names), strict=True
    ):
        for measure, reason in json.loads(text or "{}").items():
            seen = found.get(measure)
            found[measure] = (
                MeasureFailures(seen.count + 1, seen.first_file, seen.first_reason)
                if seen
                else MeasureFailures(1, file, reason)
            )
    return found


def _shares(values: pa.ChunkedArray) -> list[tuple[str, float]]:
    """Each value's share of the rows that hold one, most frequent first."""
    present = len(values) - values.null_count
    counted = pc.value_counts(values.drop_null()).to_pylist()
    return sorted(((str(c["values"]), c["counts"] / present) for c in counted), key=lambda s: -s[1])


def _thumbnailed(outliers: dict[str, Any] | None, duplicates: list[DuplicateGroup]) -> list[str]:
    files = [o["file"] for o in (outliers or {}).get("outliers", [])[:THUMBNAILED_OUTLIERS]]
    for group in duplicates[:THUMBNAILED_GROUPS]:  # identical files need one picture
        files += group.files[: 1 if group.kind == "exact" else THUMBNAILS_PER_GROUP]
    return list(dict.fromkeys(files))


def _thumbnails(files: list[str], dataset_id: str, store: Store) -> dict[str, str]:
    """file -> data URI for the files still on disk with the content that was assessed."""
    if not files:
        return {}
    sources = store.sources(dataset_id)
    table = store.table(dataset_id, ["file", "sha256"])
    table = table.filter(pc.is_in(table.column("file"), value_set=pa.array(files)))
    names, hashes = table.column("file").to_pylist(), table.column("sha256").to_pylist()
    digests = dict(zip(names, hashes, strict=True))
    found = {}
    for file in files:
        path = sample_path(sources, file, digests.get(file))
        uri = thumbnail_uri(path) if path is not None else None
        if uri is not None:
            found[file] = uri
    return found


def _deviations(
    outliers: dict[str, Any] | None, dataset_id: str, store: Store
) -> dict[str, list[Deviation]]:
    """Per outlier, the values furthest from the dataset's median in interquartile ranges."""
    flagged = (outliers or {}).get("outliers", [])
    if not flagged:
        return {}
    columns = outliers["columns"]
    table = store.table(dataset_id, columns)
    centre, spread = {}, {}
    for column in columns:
        values = table.column(column).cast(pa.float64()).to_numpy(zero_copy_only=False)
        values = values[np.isfinite(values)]
        if values.size:
            q25, q50, q75 = np.percentile(values, [25, 50, 75])
            centre[column], spread[column] = float(q50), float(q75 - q25) or 1.0
    found = {}
    for outlier in flagged:
        scored = [
            Deviation(
                column, value, centre[column], (float(value) - centre[column]) / spread[column]
            )
            for column, value in outlier["values"].items()
            if column in centre and value is not None
        ]
        scored.sort(key=lambda d: -abs(d.iqrs))
        found[outlier["file"]] = scored[:SHOWN_DEVIATIONS]
    return found
