"""The quality report of one dataset: a self-contained HTML page that works offline.

Summary (with a banner when most samples look like another modality), the verdicts of the
modality's default quality profile, the worst samples with thumbnails, outliers, duplicates,
errors and failed measures, the declared columns with their statistics, then the distribution of
every measure as a small inline SVG captioned with its declared description and unit
(bqat.report_charts), scores and profile components first. No script and no other host: the
thumbnails are data URIs. (Evidently, 3-4 s to import and ~0.5 MB per measure, still draws the
drift report, where its tests add something.)
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
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
from bqat.exceptions import ConfigError
from bqat.measures import SCALAR_SUFFIX, Measure, measures
from bqat.outliers import read_outliers
from bqat.quality_profiles import Profile, get_profile, quality_profiles
from bqat.report_charts import Histogram, histogram
from bqat.report_files import report_path
from bqat.report_html import Deviation, render_page
from bqat.store import DatasetInfo, Store
from bqat.thumbnails import sample_path, thumbnail_uri
from bqat.verdicts import Judgement, judge, modality_warning, stored_columns

THUMBNAILED_OUTLIERS = 24
THUMBNAILED_GROUPS = 20
THUMBNAILS_PER_GROUP = 4
SHOWN_DEVIATIONS = 3
WORST_SAMPLES = 20


@dataclass(frozen=True)
class MeasureFailures:
    """How many stored rows could not compute one measure, and the reason of the first of them."""

    count: int
    first_file: str
    first_reason: str


@dataclass(frozen=True)
class WorstSample:
    """One of the worst samples: its rank, its value of the ranking measure, its verdict."""

    rank: int
    file: str
    value: Any
    verdict: str
    failed: list[str]
    unknown: list[str]


@dataclass(frozen=True)
class Verdicts:
    """The dataset's verdicts under the modality's default profile, and its worst samples."""

    profile: Profile
    counts: dict[str, int]  # rows per verdict
    components: dict[str, tuple[int, int]]  # component -> (rows failing, rows null)
    worst_by: str | None  # the ranking measure; None: by verdict and failed components
    worst: list[WorstSample]


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
    verdicts: Verdicts | None  # None: the modality declares no quality profile
    warning: str | None  # most samples look like another modality
    lead: list[str]  # the measures whose panels come first: the score, then the components


def build_report(dataset_id: str, store: Store | None = None, worst_by: str | None = None) -> str:
    """The report page of the dataset, as HTML text; `worst_by` ranks the worst samples
    (default: the profile's score, else the verdicts)."""
    return render_page(gather(dataset_id, store or Store(), worst_by), __version__)


def write_report(dataset_id: str, store: Store | None = None, worst_by: str | None = None) -> Path:
    """Build the report and store it (atomically) as the dataset's report.html."""
    html = build_report(dataset_id, store, worst_by)
    path = report_path(dataset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, html)
    return path


def gather(dataset_id: str, store: Store, worst_by: str | None = None) -> ReportContent:
    info = store.dataset(dataset_id)
    declared = measures(info.modality)
    outliers = read_outliers(dataset_id)
    duplicates = find_duplicates(dataset_id, store=store)
    verdicts = _verdicts(dataset_id, store, info.modality, worst_by)
    wanted = _thumbnailed(outliers, duplicates, verdicts)
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
        thumbnails=_thumbnails(wanted, dataset_id, store, info.modality),
        history=store.history(dataset_id),
        verdicts=verdicts,
        warning=modality_warning(dataset_id, store) if verdicts else None,
        lead=_lead(verdicts.profile, declared) if verdicts else [],
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


def _verdicts(
    dataset_id: str, store: Store, modality: str, worst_by: str | None
) -> Verdicts | None:
    """Counts per verdict and per component, and the WORST_SAMPLES worst rows: by `worst_by`
    or the profile's score (highest first where lower is better, else lowest first), else
    failing rows first, the most failed components first."""
    if not quality_profiles(modality):
        return None
    profile = get_profile(modality)
    by = worst_by or profile.score
    directions = {
        m.name: m.direction for m in measures(modality) if m.type in ("integer", "number")
    }
    if by is not None and by not in directions:
        raise ConfigError(f"cannot rank samples by {by!r}: not a numeric {modality} measure")
    wanted = ["file", *profile.components, *([by] if by else [])]
    table = stored_columns(store, dataset_id, wanted)
    judged = judge(table, profile)
    order = _worst_order(table, judged, by, directions.get(by or "", "none"))
    verdict = judged.verdicts
    names = np.array(profile.components, dtype=object)
    files = table.column("file")
    values = table.column(by) if by in table.column_names else None
    worst = [
        WorstSample(
            rank=rank,
            file=files[i].as_py(),
            value=values[i].as_py() if values is not None else None,
            verdict=str(verdict[i]),
            failed=list(names[judged.failed[i]]),
            unknown=list(names[judged.unknown[i]]),
        )
        for rank, i in enumerate(order[:WORST_SAMPLES], start=1)
    ]
    return Verdicts(profile, judged.counts(), judged.component_counts(), by, worst)


def _worst_order(table: pa.Table, judged: Judgement, by: str | None, direction: str) -> list[int]:
    """Row indices, worst first; ties (and rows without a value, last) by file."""
    if by is None:
        severity = -(judged.failed.sum(axis=1) * 2 + (judged.verdicts == "unknown"))
        keys = pa.table({"key": pa.array(severity), "file": table.column("file")})
    else:
        values = (
            table.column(by).cast(pa.float64())
            if by in table.column_names
            else pa.nulls(table.num_rows, pa.float64())
        )
        if direction == "lower_is_better":
            values = pc.negate(values)
        keys = pa.table({"key": values, "file": table.column("file")})
    indices = pc.sort_indices(
        keys, sort_keys=[("key", "ascending", "at_end"), ("file", "ascending", "at_end")]
    )
    return indices.to_pylist()


def _lead(profile: Profile, declared: list[Measure]) -> list[str]:
    """The profile's score, then the measures its thresholds read (a `_scalar` component
    stands for its measure), in that order, each once."""
    names = {m.name for m in declared}
    wanted = [profile.score] if profile.score else []
    wanted += [c.removesuffix(SCALAR_SUFFIX) for c in profile.components]
    return [n for n in dict.fromkeys(wanted) if n in names]


def _thumbnailed(
    outliers: dict[str, Any] | None, duplicates: list[DuplicateGroup], verdicts: Verdicts | None
) -> list[str]:
    files = [w.file for w in verdicts.worst] if verdicts else []
    files += [o["file"] for o in (outliers or {}).get("outliers", [])[:THUMBNAILED_OUTLIERS]]
    for group in duplicates[:THUMBNAILED_GROUPS]:  # identical files need one picture
        files += group.files[: 1 if group.kind == "exact" else THUMBNAILS_PER_GROUP]
    return list(dict.fromkeys(files))


def _thumbnails(files: list[str], dataset_id: str, store: Store, modality: str) -> dict[str, str]:
    """file -> data URI for the files still on disk with the content that was assessed."""
    if not files:
        return {}
    sources = store.sources(dataset_id)
    table = store.table(dataset_id, ["file", "sha256"])
    table = table.filter(pc.is_in(table.column("file"), value_set=pa.array(files)))
    names, hashes = table.column("file").to_pylist(), table.column("sha256").to_pylist()
    digests = dict(zip(names, hashes, strict=True))

    def picture(file: str) -> str | None:
        path = sample_path(sources, file, digests.get(file))
        return thumbnail_uri(path, modality) if path is not None else None

    # Hashing, decoding and encoding release the GIL: a report's 50-odd thumbnails, the larger
    # part of its time, take one core each.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        uris = list(pool.map(picture, files))
    return {file: uri for file, uri in zip(files, uris, strict=True) if uri is not None}


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
