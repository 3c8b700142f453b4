"""Iris samples go through the scan steps into the store and the report with nothing iris-specific
outside bqat/engines/iris (the Prefect flow around these steps is covered by the scan tests)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np

import bqat
from bqat.ingest import discover
from bqat.report import build_report
from bqat.scanning import assess_batch, plan
from bqat.store import Store


def test_iris_samples_are_scanned_stored_and_reported(tmp_path, samples):
    folder = tmp_path / "irises"
    shutil.copytree(samples / "iris", folder)
    cv2.imwrite(str(folder / "blank.png"), np.full((240, 320), 90, np.uint8))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("not a sample")

    store = Store()
    store.create_dataset("irises", "iris")
    work = plan(store.stored_hashes("irises"), discover(folder, "iris"))
    result = assess_batch(store, "irises", "iris", work.work, {})
    assert (result.assessed, result.failed) == (5, 1)

    rows = {row["file"]: row for row in bqat.profiles("irises")}
    assert set(rows) == {
        "blank.png",
        "iris_480_480.png",
        "sample_0.png",
        "sample_1.png",
        "stateless_iris.bmp",
    }
    assert rows["sample_1.png"]["measure_errors"] == {}
    assert 0 <= rows["sample_1.png"]["quality"] <= 100
    assert rows["blank.png"]["iris_radius"] is None
    assert rows["blank.png"]["measure_errors"]["iris_radius"].startswith("no eye found")
    assert [e["file"] for e in bqat.errors("irises")] == ["broken.png"]

    html = build_report("irises", store)
    assert "Share of the iris annulus" in html and "<code>usable_iris_area</code>" in html
