"""Outlier detection over a dataset's stored measures (PyOD detectors).

Rows with a missing value in a chosen column are listed apart and never counted as outliers.
The columns are robust-scaled (median and interquartile range) so that no measure dominates by
its unit. The latest result per dataset is kept as JSON beside the dataset's reports.
PyOD (numba) takes ~2 s to import: it is imported when a detection runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from bqat.atomic import atomic_write
from bqat.exceptions import ConfigError
from bqat.measures import quality_columns
from bqat.report_files import outliers_path
from bqat.store import Store

DETECTORS: dict[str, str] = {
    "ECOD": "Empirical-CDF outlier detection: tail probabilities per column (no parameters).",
    "IForest": "Isolation forest: how quickly random splits isolate a row.",
    "COPOD": "Copula-based outlier detection: joint tail probability from empirical copulas.",
    "KNN": "Distance to the k-th nearest neighbour (k = 5, fewer on small datasets).",
    "PCA": "Distance from the principal subspace, weighted by the components' variance.",
    "CBLOF": "Cluster-based local outlier factor over k-means clusters.",
}
DEFAULT_DETECTOR = "ECOD"
DEFAULT_CONTAMINATION = 0.05
MIN_ROWS = 3  # fewer complete rows than this: nothing can stand out


@dataclass(frozen=True)
class Outlier:
    file: str
    score: float
    rank: int
    values: dict[str, Any]


@dataclass(frozen=True)
class OutlierResult:
    """design.md's outlier answer, with what the detection was run on."""

    dataset_id: str
    detector: str
    columns: list[str]
    contamination: float
    rows: int
    outliers: list[Outlier]
    excluded: list[dict[str, str]]
    note: str | None
    computed_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_request(
    detector: str, contamination: float, columns: Sequence[str] | None
) -> tuple[str, float]:
    """The detector's canonical name and the contamination, or ConfigError saying what is wrong."""
    canonical = {name.lower(): name for name in DETECTORS}.get(str(detector).lower())
    if canonical is None:
        raise ConfigError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    if not isinstance(contamination, int | float) or not 0 < contamination <= 0.5:
        raise ConfigError("contamination must be a number in (0, 0.5]")
    if columns is not None and not columns:
        raise ConfigError("columns must name at least one column (or be left out)")
    return canonical, float(contamination)


def check_columns(modality: str, columns: Sequence[str]) -> list[str]:
    """`columns` if each is a stored numeric or boolean column of `modality`; ConfigError naming
    the unknown and the unusable ones otherwise."""
    from bqat.store.schema import row_schema

    schema = row_schema(modality)
    unknown = [c for c in columns if not isinstance(c, str) or c not in schema.names]
    if unknown:
        raise ConfigError(
            f"unknown {modality} columns: {', '.join(map(str, unknown))} "
            "(GET /specification lists them)"
        )
    unusable = [c for c in columns if not _usable(schema.field(c).type)]
    if unusable:
        raise ConfigError(
            f"outlier columns must be numeric or boolean measures: {', '.join(unusable)}"
        )
    return list(columns)


def _usable(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def detect(
    dataset_id: str,
    detector: str = DEFAULT_DETECTOR,
    columns: Sequence[str] | None = None,
    contamination: float = DEFAULT_CONTAMINATION,
    store: Store | None = None,
) -> OutlierResult:
    """Score every complete row; the `contamination` share with the highest scores are outliers.

    Default columns: the modality's quality measures that hold a value in at least one row.
    """
    detector, contamination = check_request(detector, contamination, columns)
    store = store or Store()
    modality = store.dataset(dataset_id).modality
    wanted = list(columns) if columns else quality_columns(modality)
    table = store.table(dataset_id, ["file", *wanted])
    if not columns:
        wanted = [c for c in wanted if table.column(c).null_count < table.num_rows]
    unusable = [c for c in wanted if not _usable(table.schema.field(c).type)]
    if unusable:
        raise ConfigError(
            f"outlier columns must be numeric or boolean measures: {', '.join(unusable)}"
        )
    files = table.column("file").to_pylist()
    raw = {c: table.column(c).to_pylist() for c in wanted}
    matrix = np.empty((len(files), len(wanted)))
    for j, column in enumerate(wanted):  # nulls become NaN, booleans 0/1
        matrix[:, j] = table.column(column).cast(pa.float64()).to_numpy(zero_copy_only=False)
    missing = ~np.isfinite(matrix)
    excluded = [
        {"file": files[i], "reason": "no value for " + ", ".join(np.array(wanted)[missing[i]])}
        for i in np.flatnonzero(missing.any(axis=1))
    ]
    complete = np.flatnonzero(~missing.any(axis=1))
    outliers: list[Outlier] = []
    note = None
    if not wanted:
        note = "no column holds a value: nothing to compare"
    elif len(complete) < MIN_ROWS:
        note = f"{len(complete)} complete rows: at least {MIN_ROWS} are needed to find outliers"
    else:
        try:
            scores, flagged = _scores(detector, _robust_scaled(matrix[complete]), contamination)
        except ValueError as exc:  # e.g. CBLOF finds no cluster separation in a few rows
            note = f"{detector} cannot score these {len(complete)} rows ({exc}); ECOD can"
            scores, flagged = np.empty(0), np.zeros(0, dtype=bool)
        order = sorted(np.flatnonzero(flagged), key=lambda i: -scores[i])
        outliers = [
            Outlier(
                file=files[complete[i]],
                score=float(scores[i]),
                rank=rank,
                values={c: raw[c][complete[i]] for c in wanted},
            )
            for rank, i in enumerate(order, start=1)
        ]
    return OutlierResult(
        dataset_id=dataset_id,
        detector=detector,
        columns=wanted,
        contamination=contamination,
        rows=len(files),
        outliers=outliers,
        excluded=excluded,
        note=note,
        computed_at=datetime.now(UTC).isoformat(),
    )


def write_outliers(result: OutlierResult) -> None:
    path = outliers_path(result.dataset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(result.to_json()))


def read_outliers(dataset_id: str) -> dict[str, Any] | None:
    """The latest stored detection of the dataset, as JSON, or None."""
    path = outliers_path(dataset_id)
    return json.loads(path.read_text()) if path.is_file() else None


def _robust_scaled(matrix: np.ndarray) -> np.ndarray:
    """(x - median) / IQR per column; a column without spread is only centred."""
    median = np.median(matrix, axis=0)
    spread = np.subtract(*np.percentile(matrix, [75, 25], axis=0))
    return (matrix - median) / np.where(spread > 0, spread, 1.0)


def _scores(
    detector: str, matrix: np.ndarray, contamination: float
) -> tuple[np.ndarray, np.ndarray]:
    """Outlier scores (higher = more outlying) and the contamination share flagged."""
    rows = len(matrix)
    if detector == "ECOD":
        from pyod.models.ecod import ECOD

        model: Any = ECOD(contamination=contamination)
    elif detector == "COPOD":
        from pyod.models.copod import COPOD

        model = COPOD(contamination=contamination)
    elif detector == "IForest":
        from pyod.models.iforest import IForest

        model = IForest(contamination=contamination, random_state=0)
    elif detector == "KNN":
        from pyod.models.knn import KNN

        model = KNN(contamination=contamination, n_neighbors=min(5, rows - 1))
    elif detector == "PCA":
        from pyod.models.pca import PCA

        model = PCA(
            contamination=contamination, n_components=min(matrix.shape) - 1 or None, random_state=0
        )
    else:
        from pyod.models.cblof import CBLOF

        model = CBLOF(
            contamination=contamination,
            n_clusters=max(2, min(8, rows // 2)),
            random_state=0,
            check_estimator=False,
        )
    model.fit(matrix)
    return np.asarray(model.decision_scores_, dtype=np.float64), np.asarray(model.labels_) == 1
