"""Outlier detection on synthetic datasets whose outliers are planted (the known answer)."""

from __future__ import annotations

import numpy as np
import pytest

from bqat import ConfigError
from bqat.measures import quality_columns, specification
from bqat.outliers import DETECTORS, detect, read_outliers, write_outliers
from bqat.store import Store
from bqat.store.schema import row_schema

COLUMNS = ["iso_sharpness", "iso_head_size", "yaw_degree"]
PLANTED = {"planted-a.jpg": 8.0, "planted-b.jpg": -8.0, "planted-c.jpg": (8.0, -8.0, 8.0)}


def row(file: str, values) -> dict:
    return {"file": file, "sha256": "0" * 64, **dict(zip(COLUMNS, values, strict=True))}


@pytest.fixture
def store() -> Store:
    created = Store()
    created.create_dataset("ds", "face")
    rng = np.random.default_rng(11)
    rows = [row(f"{i:03d}.jpg", rng.normal(0.0, 1.0, 3).tolist()) for i in range(300)]
    for name, shift in PLANTED.items():
        rows.append(row(name, np.broadcast_to(np.asarray(shift, dtype=float), 3).tolist()))
    rows.append({**row("gap.jpg", [50.0, 50.0, 50.0]), "iso_head_size": None})
    created.append("ds", rows=rows)
    return created


@pytest.mark.parametrize("detector", list(DETECTORS))
def test_every_detector_ranks_the_planted_rows_first(store, detector):
    result = detect("ds", detector, columns=COLUMNS, contamination=0.01, store=store)
    assert {o.file for o in result.outliers[:3]} == set(PLANTED), result.outliers[:5]
    assert [o.rank for o in result.outliers] == list(range(1, len(result.outliers) + 1))
    scores = [o.score for o in result.outliers]
    assert scores == sorted(scores, reverse=True)
    assert result.outliers[0].values.keys() == set(COLUMNS)


def test_rows_with_missing_values_are_excluded_never_outliers(store):
    result = detect("ds", columns=COLUMNS, contamination=0.01, store=store)
    assert result.excluded == [{"file": "gap.jpg", "reason": "no value for iso_head_size"}]
    assert "gap.jpg" not in {o.file for o in result.outliers}
    assert result.rows == 304


@pytest.mark.parametrize("detector", list(DETECTORS))
def test_three_rows_get_an_answer_and_two_a_reason(detector):
    store = Store()
    store.create_dataset("tiny", "face")
    store.append("tiny", rows=[row(f"{i}.jpg", [i, 2.0 * i, 1.0 - i]) for i in range(3)])
    result = detect("tiny", detector, columns=COLUMNS, store=store)
    assert len(result.outliers) <= 3
    assert result.note is None or "cannot score these 3 rows" in result.note
    store.create_dataset("pair", "face")
    store.append("pair", rows=[row(f"{i}.jpg", [i, i, i]) for i in range(2)])
    pair = detect("pair", detector, columns=COLUMNS, store=store)
    assert pair.outliers == [] and "at least 3" in pair.note


def test_default_columns_are_declared_stored_measures_with_values(store):
    declared, stored = specification("face"), row_schema("face").names
    for column in quality_columns("face"):
        assert column in declared and column in stored, column
    result = detect("ds", store=store)
    assert result.columns == [c for c in quality_columns("face") if c in COLUMNS]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"detector": "LOF"}, "unknown detector"),
        ({"contamination": 0.7}, "contamination"),
        ({"columns": ["yaw_pose"]}, "numeric"),
        ({"columns": ["nope"]}, "not stored columns"),
    ],
)
def test_bad_requests_are_clear_errors(store, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        detect("ds", store=store, **kwargs)


def test_the_latest_result_is_stored_and_read_back(store):
    result = detect("ds", "iforest", columns=COLUMNS, store=store)
    assert result.detector == "IForest"
    write_outliers(result)
    assert read_outliers("ds") == result.to_json()
    assert read_outliers("other") is None
