"""The quality report of one dataset: a self-contained HTML page that works offline.

Our sections (summary, outliers with thumbnails, duplicates, errors, the declared columns with
their statistics) come first; Evidently's data summary follows with the distribution of every
measure, each captioned with its declared description and unit. Evidently's page inlines its
scripts and fonts, and the thumbnails are data URIs, so the file asks no other host for anything.
Evidently takes 3-4 s to import, so it is imported when a report is built.
"""

from __future__ import annotations

import json
import logging
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
from bqat.exceptions import BqatError
from bqat.measures import Measure, measures
from bqat.outliers import read_outliers
from bqat.report_files import report_path
from bqat.report_html import Deviation, caption, render_page
from bqat.store import DatasetInfo, Store
from bqat.thumbnails import sample_path, thumbnail_uri

EMPTY_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8"></head><body></body></html>'
)
MAX_ROWS = 100_000  # rows given to Evidently for the distributions; more are sampled (seeded)
THUMBNAILED_OUTLIERS = 24
THUMBNAILED_GROUPS = 20
THUMBNAILS_PER_GROUP = 4
SHOWN_DEVIATIONS = 3
log = logging.getLogger(__name__)


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
    summary: dict[str, dict[str, Any]]
    counts: dict[str, int]
    shares: dict[str, list[tuple[str, float]]]
    outliers: dict[str, Any] | None
    deviations: dict[str, list[Deviation]]
    duplicates: list[DuplicateGroup]
    errors: list[dict[str, Any]]
    failures: dict[str, MeasureFailures]
    thumbnails: dict[str, str]
    sampled_rows: int


def build_report(dataset_id: str, store: Store | None = None) -> str:
    """The report page of the dataset, as HTML text."""
    store = store or Store()
    content = gather(dataset_id, store)
    try:
        distributions = _distributions(dataset_id, content, store)
        note = None if distributions else "No measure holds a value yet: nothing to draw."
    except Exception as exc:  # Evidently on unusual data: the rest of the report still stands
        log.warning("Evidently could not draw %s", dataset_id, exc_info=True)
        distributions, note = None, f"Evidently could not draw the distributions: {exc}"
    return render_page(content, distributions or EMPTY_PAGE, __version__, note)


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
        summary={row["column"]: row for row in store.summary(dataset_id)},
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
        sampled_rows=min(info.rows, MAX_ROWS),
    )


def _failures(table: pa.Table) -> dict[str, MeasureFailures]:
    """Per measure, the rows whose `measure_errors` name it (rows stored before the column
    existed hold null there and count as none)."""
    found: dict[str, MeasureFailures] = {}
    for file, text in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
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


def _distributions(dataset_id: str, content: ReportContent, store: Store) -> str | None:
    """Evidently's data summary page of the measures with values, captioned; None if none has."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.core.metric_types import render_widgets
    from evidently.legacy.renderers.html_widgets import group_widget
    from evidently.presets import DataSummaryPreset

    numeric = [m.name for m in content.measures if m.type in ("integer", "number")]
    categorical = [m.name for m in content.measures if m.type == "boolean" or m.values]
    table = store.table(dataset_id, numeric + categorical)
    drawable = {c for c in table.column_names if table.column(c).null_count < table.num_rows}
    if not drawable:
        return None
    numeric = [c for c in numeric if c in drawable]
    categorical = [c for c in categorical if c in drawable]
    table = table.select(numeric + categorical)
    if table.num_rows > MAX_ROWS:
        keep = np.random.default_rng(0).choice(table.num_rows, MAX_ROWS, replace=False)
        table = table.take(pa.array(np.sort(keep)))
    frame = table.to_pandas()
    for column in categorical:  # Evidently wants text labels; pandas' NA breaks it, None does not
        frame[column] = [None if v is None else str(v) for v in table.column(column).to_pylist()]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataSummaryPreset()]).run(
        Dataset.from_pandas(frame, data_definition=definition), None
    )
    captions = {m.name: caption(m) for m in content.measures}
    # Evidently's public API renders the widgets as one closed page; ours captions them first.
    widgets = snapshot._widgets
    for widget in widgets:
        header = (widget.params or {}).get("header") if widget.type == "rich_data" else None
        if header in captions:
            widget.params["description"] = captions[header]
    if not widgets:
        raise BqatError(f"Evidently drew no widget for dataset {dataset_id}")
    order = {name: i for i, name in enumerate(captions)}
    panels = sorted(
        (w for w in widgets if w.type == "rich_data"), key=lambda w: order[w.params["header"]]
    )
    widgets = [w for w in widgets if w.type != "rich_data"] + panels
    return render_widgets([group_widget(title="", widgets=widgets)])
