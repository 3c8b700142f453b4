"""Every flow checks its inputs first: a run created through Prefect (here: a process that a
worker started, PREFECT__FLOW_RUN_ID) cannot scan outside the data roots, and no flow accepts a
dataset id that is no safe name."""

from __future__ import annotations

import uuid

import pytest

from bqat.exceptions import AccessError, ConfigError
from bqat.store import Store
from flows.drift import compare_drift
from flows.outliers import detect_outliers
from flows.report import build_report
from flows.scan import scan_dataset


def test_a_worker_run_refuses_a_folder_outside_the_roots_before_any_work(
    tmp_path, set_env, monkeypatch, tally_modality
):
    (tmp_path / "data").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    set_env(BQAT_DATA_ROOT=str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(uuid.uuid4()))
    with pytest.raises(AccessError, match="outside the data roots"):
        scan_dataset(str(outside), tally_modality, dataset_id="stolen")
    assert "stolen" not in {d.dataset_id for d in Store().datasets()}


@pytest.mark.parametrize(
    "run",
    [
        lambda: build_report("../../etc"),
        lambda: detect_outliers("a/b"),
        lambda: compare_drift("ok", "../other"),
    ],
)
def test_no_flow_accepts_a_dataset_id_that_is_no_safe_name(run):
    with pytest.raises(ConfigError, match="invalid dataset id"):
        run()
