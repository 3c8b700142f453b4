"""bqat.assess(..., "iris"): the record of design.md through the engine interface."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import bqat
from bqat.engines import get_engine
from bqat.engines.iris.measures import ISO_MEASURES

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "samples" / "iris"
ISO_NAMES = [
    "usable_iris_area",
    "iris_sclera_contrast",
    "iris_pupil_contrast",
    "pupil_boundary_circularity",
    "grey_scale_utilisation",
    "iris_radius",
    "pupil_iris_ratio",
    "iris_pupil_concentricity",
    "margin_adequacy",
    "sharpness",
]
EYE_FIELDS = ["iris_center_x", "iris_center_y", "pupil_center_x", "pupil_center_y", "pupil_radius"]


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return {path.name: bqat.assess(path, "iris") for path in sorted(SAMPLES.iterdir())}


def test_the_record_has_the_fields_of_the_design_in_declared_order(records):
    spec = bqat.specification("iris")
    for record in records.values():
        assert list(record) == [*spec, "measure_errors"]
    for name in ["quality", *ISO_NAMES, *EYE_FIELDS, "phash"]:
        assert name in spec
    for name in ISO_NAMES:
        assert spec[name]["clause"].startswith("ISO/IEC 29794-6")
        assert spec[name + "_scalar"]["range"] == [0, 100]


def test_every_sample_is_measured_in_full(records):
    for name, record in records.items():
        assert record["measure_errors"] == {}, name
        assert 0 <= record["quality"] <= 100 and isinstance(record["quality"], int)
        for field in ISO_NAMES:
            assert isinstance(record[field], float), (name, field)
        assert len(record["phash"]) == 16


def test_quality_is_the_product_of_the_iso_components(records):
    for record in records.values():
        product = math.prod(record[f"{m.name}_scalar"] / 100 for m in ISO_MEASURES)
        assert record["quality"] == math.floor(100 * product + 0.5)


def test_a_jpeg_named_png_and_colour_input_are_read(records):
    assert (SAMPLES / "sample_0.png").read_bytes()[:2] == b"\xff\xd8"  # JPEG data
    assert records["sample_0.png"]["iris_radius"] == pytest.approx(116.6, abs=3)
    colour = cv2.imread(str(SAMPLES / "iris_480_480.png"))
    assert colour.ndim == 3
    from_array = bqat.assess(cv2.cvtColor(colour, cv2.COLOR_BGR2RGB), "iris")
    assert from_array["pupil_radius"] == records["iris_480_480.png"]["pupil_radius"]


@pytest.mark.parametrize("side", [200, 2000])
def test_any_size_from_200_to_2000_px_is_assessed(side):
    source = cv2.imread(str(SAMPLES / "iris_480_480.png"))
    resized = cv2.resize(source, (side, side), interpolation=cv2.INTER_AREA)
    _, data = cv2.imencode(".png", resized)
    record = bqat.assess(data.tobytes(), "iris")
    scale = side / 480
    assert record["image_width"] == side and record["measure_errors"] == {}
    assert record["iris_radius"] == pytest.approx(114.9 * scale, rel=0.05)
    assert record["pupil_radius"] == pytest.approx(34.5 * scale, rel=0.08)


def test_an_image_without_an_eye_gives_null_circles_and_reasons():
    record = bqat.assess(np.full((240, 320), 90, np.uint8), "iris")
    for field in ["quality", *ISO_NAMES[:-1], *EYE_FIELDS]:
        assert record[field] is None
        assert record["measure_errors"][field].startswith("no eye found: ")
    assert record["sharpness"] == 0.0 and "sharpness" not in record["measure_errors"]
    assert record["image_width"] == 320


def test_a_measure_that_cannot_be_computed_fails_alone_and_fails_quality(monkeypatch):
    from bqat.engines.iris import context

    real = context._native.iris_assess

    def circularity_fails(grey):
        result = real(grey)
        result["measures"]["pupil_boundary_circularity"] = None
        result["measures"]["errors"]["pupil_boundary_circularity"] = "hidden pupil boundary"
        return result

    monkeypatch.setattr(context._native, "iris_assess", circularity_fails)
    record = bqat.assess(SAMPLES / "sample_1.png", "iris")
    assert record["pupil_boundary_circularity"] is None
    assert record["pupil_boundary_circularity_scalar"] is None
    assert record["measure_errors"] == {
        "pupil_boundary_circularity": "hidden pupil boundary",
        "quality": "pupil_boundary_circularity could not be computed: hidden pupil boundary",
    }
    assert record["iris_radius"] == pytest.approx(122.5, abs=2)


def test_the_engine_declares_no_models_and_refuses_unknown_options():
    engine = get_engine("iris")
    assert engine.models == () and ".bmp" in engine.extensions
    with pytest.raises(bqat.ConfigError, match="iris options"):
        bqat.assess(SAMPLES / "sample_1.png", "iris", confidence=0.5)
