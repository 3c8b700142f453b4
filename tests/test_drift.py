"""Drift between two datasets, on synthetic columns whose answer is known."""

from __future__ import annotations

import json
import re
import warnings
from functools import partial

import numpy as np
import pytest
from scipy.stats import ks_2samp

from bqat import ConfigError, NotFoundError
from bqat.drift import compare, read_drift, write_drift
from bqat.measures import quality_columns
from bqat.report_files import drift_paths
from bqat.store import Store
from flows.checks import check_drift

COLUMNS = ["iso_sharpness", "yaw_degree", "brightness_variance", "iso_head_size"]


def rows(values: dict[str, np.ndarray]) -> list[dict]:
    count = len(next(iter(values.values())))
    return [
        {"file": f"{i:04d}.jpg", "sha256": "0" * 64, **{k: float(v[i]) for k, v in values.items()}}
        for i in range(count)
    ]


@pytest.fixture
def store() -> Store:
    created = Store()
    rng = np.random.default_rng(3)
    base = {name: rng.normal(10.0, 2.0, 300) for name in COLUMNS}
    for dataset_id, shifted in (("reference", []), ("two", COLUMNS[:2]), ("one", COLUMNS[:1])):
        created.create_dataset(dataset_id, "face")
        values = {k: (v + 6.0 if k in shifted else v) for k, v in base.items()}
        created.append(dataset_id, rows=rows(values))
    return created


def test_shifted_columns_drift_and_identical_ones_do_not(store):
    summary, html = compare("two", "reference", COLUMNS, store=store)
    assert {c for c, d in summary.columns.items() if d.drifted} == set(COLUMNS[:2])
    assert summary.share_drifted == 0.5 and summary.drifted
    for name in COLUMNS[2:]:
        assert summary.columns[name].score == pytest.approx(1.0)  # the very same values
    assert "<html" in html.lower()


def test_the_score_is_the_two_sample_ks_p_value(store):
    summary, _ = compare("one", "reference", COLUMNS, store=store)
    current = store.table("one", [COLUMNS[0]]).column(0).to_numpy()
    reference = store.table("reference", [COLUMNS[0]]).column(0).to_numpy()
    drift = summary.columns[COLUMNS[0]]
    assert drift.method == "K-S p_value"
    assert drift.score == pytest.approx(ks_2samp(reference, current).pvalue, rel=1e-6, abs=1e-300)
    assert (summary.share_drifted, summary.drifted) == (0.25, False)


def test_columns_without_values_are_excluded_with_a_reason(store):
    summary, _ = compare("one", "reference", [*COLUMNS, "iso_eyes_open"], store=store)
    assert summary.excluded == {"iso_eyes_open": "no values in the dataset or the reference"}
    assert "iso_eyes_open" not in summary.columns


def test_the_default_columns_are_the_quality_measures(store):
    summary, _ = compare("two", "reference", store=store)
    assert set(summary.columns) | set(summary.excluded) == set(quality_columns("face"))
    assert set(summary.columns) == set(COLUMNS)


def test_bad_requests_are_clear_errors(store):
    with pytest.raises(ConfigError, match="not stored columns: nope"):
        compare("two", "reference", ["nope"], store=store)
    with pytest.raises(ConfigError, match="nothing to compare"):
        compare("two", "reference", ["iso_eyes_open"], store=store)


def test_the_report_is_stored_offline_and_the_summary_reads_back(store):
    summary, path = write_drift("two", "reference", COLUMNS)
    html = path.read_text()
    external = re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["']?https?://""", html)
    assert external == []
    assert read_drift("two", "reference") == summary
    stored = json.loads(path.with_suffix(".json").read_text())
    assert set(stored) >= {"dataset_id", "reference_id", "drifted", "share_drifted", "columns"}
    assert stored["columns"]["iso_sharpness"]["drifted"] is True
    assert read_drift("one", "reference") is None


def test_drift_against_a_past_snapshot_of_the_same_dataset(store):
    """A monthly audit: `reference` re-scanned with two columns shifted, compared with itself
    as it was before; a time names the same snapshot, and the report says which it was."""
    before = store.history("reference")[-1]
    shifted = {name: store.table("reference", [name]).column(0).to_numpy() for name in COLUMNS}
    shifted.update({name: shifted[name] + 6.0 for name in COLUMNS[:2]})
    store.append("reference", rows=rows(shifted))
    at = f"reference@{before['snapshot']}"

    summary, path = write_drift("reference", at, COLUMNS)
    assert {c for c, d in summary.columns.items() if d.drifted} == set(COLUMNS[:2])
    assert (summary.reference_id, summary.reference_snapshot) == (at, before["snapshot"])
    assert summary.reference_time == before["time"]
    assert f"against reference as of snapshot {before['snapshot']}" in path.read_text()
    assert path == drift_paths("reference", at)[0] and read_drift("reference", at) == summary

    by_time, _ = compare("reference", f"reference@{before['time']}", COLUMNS, store=store)
    assert by_time.reference_id == at
    latest, _ = compare("reference", "reference", COLUMNS, store=store)
    assert latest.reference_snapshot is None and not any(d.drifted for d in latest.columns.values())


def test_malformed_references_are_refused_before_any_lookup(store):
    malformed = ["reference@", "reference@yesterday", "reference@1@2", "reference@\u00b2", "@1"]
    for reference in [*malformed, "../x@1"]:
        for check in (check_drift, drift_paths, partial(compare, columns=COLUMNS, store=store)):
            with pytest.raises(ConfigError, match=r"invalid dataset id|neither a snapshot id nor"):
                check("two", reference)


def test_a_snapshot_that_does_not_exist_is_not_found(store):
    with pytest.raises(NotFoundError, match="no snapshot 999999"):
        compare("two", "reference@999999", COLUMNS, store=store)
    with pytest.raises(NotFoundError, match="no snapshot at or before"):
        compare("two", "reference@2000-01-01T00:00:00Z", COLUMNS, store=store)
    first = store.history("reference")[0]["snapshot"]
    with pytest.raises(NotFoundError, match="unknown dataset two at snapshot"):
        compare("reference", f"two@{first}", COLUMNS, store=store)


def test_a_constant_column_compares_without_numpy_warnings():
    """A measure equal on every row (common on small datasets) is compared like any other; the
    correlations Evidently computes on the side must not spill division warnings into the logs."""
    created = Store()
    rng = np.random.default_rng(4)
    for dataset_id in ("flat", "flat-reference"):
        created.create_dataset(dataset_id, "face")
        values = {"iso_sharpness": rng.normal(10.0, 2.0, 50), "yaw_degree": np.zeros(50)}
        created.append(dataset_id, rows=rows(values))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        summary, _ = compare(
            "flat", "flat-reference", ["iso_sharpness", "yaw_degree"], store=created
        )
    assert not summary.columns["yaw_degree"].drifted
