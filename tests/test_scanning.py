"""Scan steps: what is skipped, retried and re-assessed, and how bad files are stored."""

from __future__ import annotations

import shutil
import threading

import cv2
import numpy as np
import pytest

from bqat.ingest import discover
from bqat.scanning import assess_batch, plan
from bqat.store import Store


@pytest.fixture
def folder(tmp_path, samples):
    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(samples / "face" / "268625316_1.jpg", root / "good.jpg")
    shutil.copy(samples / "face" / "269968666_1.jpg", root / "jpeg_named.png")
    (root / "text.jpg").write_text("not an image")
    (root / "empty.png").write_bytes(b"")
    data = (samples / "face" / "271207560_1.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    cv2.imwrite(str(root / "blank.png"), np.full((240, 320, 3), 90, np.uint8))
    return root


@pytest.fixture
def store(tmp_path):
    created = Store(tmp_path / "store")
    created.create_dataset("ds", "face")
    return created


def run(store, folder):
    work = plan(store.stored_hashes("ds"), discover(folder, "face"))
    result = assess_batch(store, "ds", "face", work.work, {})
    return work, result


def test_good_files_become_rows_and_bad_files_error_rows(store, folder):
    work, result = run(store, folder)
    assert (len(work.work), work.skipped, result.assessed, result.failed) == (6, 0, 3, 3)
    rows = {r["file"]: r for r in store.profiles("ds").items}
    assert set(rows) == {"good.jpg", "jpeg_named.png", "blank.png"}
    assert rows["good.jpg"]["face_count"] == 1 and rows["jpeg_named.png"]["face_count"] == 1
    assert rows["blank.png"]["face_count"] == 0
    assert set(rows["good.jpg"]["models"]) == {
        "yunet_s_dynamic",
        "face_mesh",
        "face_landmarker_v2",
        "face_blendshapes_v2",
    }
    assert len(rows["good.jpg"]["sha256"]) == 64
    reasons = {e["file"]: e["reason"] for e in store.errors("ds")}
    assert set(reasons) == {"text.jpg", "empty.png", "truncated.jpg"}
    assert "empty" in reasons["empty.png"] and "not a supported image" in reasons["text.jpg"]


def test_a_rerun_skips_stored_content_retries_errors_and_reassesses_changes(store, folder, samples):
    run(store, folder)
    shutil.copy(samples / "face" / "271207626_1.jpg", folder / "good.jpg")  # changed content
    shutil.copy(samples / "face" / "271207560_1.jpg", folder / "truncated.jpg")  # repaired
    work, result = run(store, folder)
    assert sorted(w.name for w in work.work) == [
        "empty.png",
        "good.jpg",
        "text.jpg",
        "truncated.jpg",
    ]
    assert work.skipped == 2
    assert (result.assessed, result.failed) == (2, 2)
    assert store.profiles("ds").total == 4
    assert {e["file"] for e in store.errors("ds")} == {"text.jpg", "empty.png"}


def test_a_file_over_the_time_limit_is_an_error_row_and_the_batch_goes_on(
    store, folder, set_env, monkeypatch
):
    import bqat.scanning

    set_env(BQAT_FILE_TIMEOUT_S="0.5")
    release = threading.Event()
    real = bqat.scanning.assess_sample

    def slow_on_good(path, modality, **kwargs):
        if kwargs["file"] == "good.jpg":
            release.wait(30)
        return real(path, modality, **kwargs)

    monkeypatch.setattr(bqat.scanning, "assess_sample", slow_on_good)
    try:
        _, result = run(store, folder)
    finally:
        release.set()
    assert (result.assessed, result.failed) == (2, 4)
    reasons = {e["file"]: e["reason"] for e in store.errors("ds")}
    assert "took longer than 0.5 s" in reasons["good.jpg"]
    assert {r["file"] for r in store.profiles("ds").items} == {"jpeg_named.png", "blank.png"}


def test_a_model_failing_on_one_file_is_that_files_error_row(store, folder, monkeypatch):
    """ONNX Runtime refusing one sample's tensor costs that sample, not the scan."""
    import onnxruntime

    from bqat.models.runtime import session

    mesh = session("face_mesh")
    real_run = mesh.run
    failing = {"calls": 0}

    class FailsOnce:
        """The mesh session, except that its first run fails as ONNX Runtime does."""

        def __getattr__(self, name):
            return getattr(mesh, name)

        def run(self, outputs, feeds):
            failing["calls"] += 1
            if failing["calls"] == 1:
                raise onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument("bad tensor")
            return real_run(outputs, feeds)

    monkeypatch.setattr(
        "bqat.models.inference.session",
        lambda name: FailsOnce() if name == "face_mesh" else session(name),
    )
    _, result = run(store, folder)
    assert (result.assessed, result.failed) == (2, 4)
    reasons = {e["file"]: e["reason"] for e in store.errors("ds")}
    failed = set(reasons) - {"text.jpg", "empty.png", "truncated.jpg"}
    assert len(failed) == 1
    assert "model face_mesh: inference failed" in reasons[failed.pop()]


def test_a_corrupt_model_file_stops_the_scan_before_the_first_file(tmp_path, set_env, shared):
    from bqat import ModelError
    from bqat.assessment import check_models

    models = tmp_path / "models"
    shutil.copytree(shared / "models", models)
    (models / "mediapipe_face_landmark.onnx").write_bytes(b"not the model")
    set_env(BQAT_MODEL_DIR=str(models))
    with pytest.raises(ModelError, match=r"face_mesh .*sha256 is"):
        check_models("face")
