"""The fingerprint engine through bqat: the record, refusals, the resolution policy, formats,
limits, options, and a scan's steps into the store."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import bqat
from bqat.decode import decode_image
from bqat.engines.fingerprint.forest import FEATURES
from bqat.engines.fingerprint.measures import snake_case
from bqat.engines.fingerprint.resolution import wsq_ppi
from bqat.ingest import discover
from bqat.measures import quality_columns
from bqat.phash import image_phash
from bqat.report import write_report
from bqat.scanning import assess_batch, plan
from bqat.store import Store
from bqat.store.schema import row_schema

DESIGN_FIELDS = (
    "nfiq2",
    "uniform_image",
    "empty_image_or_contrast_too_low",
    "fingerprint_image_with_minutiae",
    "sufficient_fingerprint_foreground",
    "minutiae_count",
    "image_width",
    "image_height",
    "ppi",
    "edge_std",
    "phash",
    "measure_errors",
)


@pytest.fixture(scope="module")
def bmp(fingerprint_dir: Path) -> Path:
    return fingerprint_dir / "00007_01.bmp"


@pytest.fixture(scope="module")
def baseline(bmp: Path) -> dict:
    return bqat.assess(bmp, "fingerprint")


def png_bytes(grey: np.ndarray, dpi: float | None = None) -> bytes:
    out = io.BytesIO()
    params = {"dpi": (dpi, dpi)} if dpi else {}
    Image.fromarray(grey).save(out, "PNG", **params)
    return out.getvalue()


def test_the_record_has_the_design_fields_and_every_native_feature(baseline, bmp):
    assert set(DESIGN_FIELDS) <= set(baseline)
    for name in FEATURES:
        assert snake_case(name) in baseline
    assert snake_case("FDA_Bin10_StdDev") == "fda_bin10_std_dev"
    assert snake_case("FingerJetFX_MinCount_COMMinRect200x200") == (
        "finger_jet_fx_min_count_com_min_rect200x200"
    )
    assert snake_case("SufficientFingerprintForeground") == "sufficient_fingerprint_foreground"
    grey = decode_image(bmp, grey=True).pixels
    assert (baseline["image_width"], baseline["image_height"]) == (240, 320)
    assert baseline["ppi"] == 500.0  # the header says 96 dpi: implausible, 500 assumed
    assert baseline["phash"] == image_phash(grey)
    edge = (grey[:, 0].std() + grey[:, -1].std()) / 2
    assert baseline["edge_std"] == pytest.approx(edge)
    assert isinstance(baseline["nfiq2"], int) and isinstance(baseline["fda_bin10_0"], int)


def test_the_specification_and_store_schema_come_from_the_declarations():
    spec = bqat.specification("fingerprint")
    assert spec["nfiq2"]["range"] == [0, 100] and spec["nfiq2"]["clause"].startswith("ISO/IEC")
    assert "[0.268, 0.304)" in spec["fda_bin10_1"]["description"]
    schema = row_schema("fingerprint")
    assert str(schema.field("nfiq2").type) == "int64"
    assert str(schema.field("lcs_bin10_mean").type) == "double"
    defaults = quality_columns("fingerprint")
    assert "nfiq2" in defaults and "lcs_bin10_mean" in defaults
    assert not any("_bin10_" in c and c[-1].isdigit() for c in defaults)  # no histogram bins


@pytest.mark.parametrize(
    ("value", "why"), [(255, "empty image or contrast too low"), (128, "uniform image")]
)
def test_blank_and_uniform_images_get_the_feedback_and_no_score(value, why):
    record = bqat.assess(np.full((300, 260), value, np.uint8), "fingerprint")
    assert record["nfiq2"] is None
    assert why in record["measure_errors"]["nfiq2"]
    assert set(record["measure_errors"]) == {"nfiq2"}
    assert record["uniform_image"] == 0.0
    assert record["empty_image_or_contrast_too_low"] == float(value)
    assert record["fingerprint_image_with_minutiae"] is None
    assert record["fda_bin10_mean"] is None and record["mu"] is None


def test_too_little_foreground_is_a_reason_not_a_crash():
    image = np.full((60, 60), 250, np.uint8)
    image[20:40, 20:40] = np.random.default_rng(0).integers(0, 200, (20, 20), dtype=np.uint8)
    record = bqat.assess(image, "fingerprint")
    assert record["nfiq2"] is None
    assert "FDA" in record["measure_errors"]["nfiq2"]
    assert "fda_bin10_mean" in record["measure_errors"]


@pytest.mark.parametrize("sample", ["00007_01.bmp", "00007_02.bmp", "stateless_finger.png"])
def test_a_gaussian_blur_lowers_the_score(fingerprint_dir, sample):
    grey = decode_image(fingerprint_dir / sample, grey=True).pixels
    blurred = cv2.GaussianBlur(grey, (0, 0), 1.5)
    sharp = bqat.assess(grey, "fingerprint")["nfiq2"]
    assert bqat.assess(blurred, "fingerprint")["nfiq2"] < sharp


def test_a_declared_resolution_is_resampled_to_500_ppi(fingerprint_dir, baseline):
    grey = decode_image(fingerprint_dir / "00007_01.bmp", grey=True).pixels
    doubled = cv2.resize(grey, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    from_file = bqat.assess(png_bytes(doubled, dpi=1000), "fingerprint")
    assert from_file["ppi"] == 1000.0 and from_file["image_width"] == 480
    assert abs(from_file["nfiq2"] - baseline["nfiq2"]) <= 6
    # The option overrides the file; a PNG without resolution is taken as 500 ppi.
    from_option = bqat.assess(png_bytes(doubled), "fingerprint", ppi=1000)
    assert from_option["nfiq2"] == from_file["nfiq2"] and from_option["ppi"] == 1000.0
    assert bqat.assess(png_bytes(grey), "fingerprint")["ppi"] == 500.0
    for implausible in (96, 200, 20000):
        assert bqat.assess(png_bytes(grey, dpi=implausible), "fingerprint")["ppi"] == 500.0


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP", "JPEG2000"])
def test_each_format_decodes_with_the_resolution_it_declares(fingerprint_dir, baseline, fmt):
    grey = Image.open(fingerprint_dir / "00007_01.bmp").convert("L")
    out = io.BytesIO()
    declared = fmt != "JPEG2000"  # Pillow writes no resolution into JPEG 2000
    grey.save(out, fmt, **({"dpi": (400, 400)} if declared else {}))
    record = bqat.assess(out.getvalue(), "fingerprint")
    assert record["ppi"] == (400.0 if declared else 500.0)
    assert record["image_width"] == 240 and record["measure_errors"] == {}
    if not declared:
        assert record["nfiq2"] == baseline["nfiq2"]  # lossless


def test_colour_is_converted_to_grey(fingerprint_dir, baseline):
    grey = decode_image(fingerprint_dir / "00007_01.bmp", grey=True).pixels
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    record = bqat.assess(rgb, "fingerprint")
    assert record["nfiq2"] == baseline["nfiq2"]
    assert record["lcs_bin10_mean"] == baseline["lcs_bin10_mean"]


def test_wsq_is_read_with_its_declared_resolution(fingerprint_dir, baseline, tmp_path):
    import wsq  # noqa: F401

    grey = Image.open(fingerprint_dir / "00007_01.bmp").convert("L")
    out = io.BytesIO()
    grey.save(out, "WSQ")
    data = out.getvalue()
    assert wsq_ppi(data) == 500.0
    path = tmp_path / "print.wsq"
    path.write_bytes(data)
    record = bqat.assess(path, "fingerprint")
    assert record["ppi"] == 500.0 and record["image_width"] == 240
    assert abs(record["nfiq2"] - baseline["nfiq2"]) <= 6  # WSQ is lossy
    declared_400 = data.replace(b"\nPPI 500\n", b"\nPPI 400\n", 1)
    assert wsq_ppi(declared_400) == 400.0
    assert bqat.assess(declared_400, "fingerprint")["ppi"] == 400.0


def test_an_image_beyond_nfiq2s_size_limit_is_an_input_error():
    wide = np.tile(np.uint8([40, 200]), (300, 450))  # 900 px of ridges after trimming
    with pytest.raises(bqat.InputError, match="at most 800 x 1000"):
        bqat.assess(wide, "fingerprint")


def test_options_are_strict():
    image = np.full((50, 50), 100, np.uint8)
    with pytest.raises(bqat.ConfigError, match="fingerprint options"):
        bqat.assess(image, "fingerprint", dpi=500)
    with pytest.raises(bqat.ConfigError):
        bqat.assess(image, "fingerprint", ppi=50)


def test_a_scan_stores_rows_and_errors_and_the_report_shows_prints(tmp_path, fingerprint_dir):
    root = tmp_path / "prints"
    root.mkdir()
    for name in ("00007_01.bmp", "00007_02.bmp", "00007_03.bmp", "stateless_finger.png"):
        shutil.copy(fingerprint_dir / name, root / name)
    shutil.copy(fingerprint_dir / "00007_01.bmp", root / "copy.bmp")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    store = Store()
    store.create_dataset("prints", "fingerprint", source=root)
    work = plan(store.stored_hashes("prints"), discover(root, "fingerprint"))
    result = assess_batch(store, "prints", "fingerprint", work.work, {})
    assert (result.assessed, result.failed) == (5, 1)
    rows = {r["file"]: r for r in store.profiles("prints").items}
    assert (
        rows["00007_01.bmp"]["nfiq2"] == bqat.assess(root / "00007_01.bmp", "fingerprint")["nfiq2"]
    )
    assert set(rows["00007_01.bmp"]["models"]) == {"nfiq2_forest"}
    assert [e["file"] for e in store.errors("prints")] == ["broken.png"]
    html = write_report("prints").read_text()
    assert "NFIQ 2 unified quality score" in html  # the declared descriptions caption the columns
    assert "data:image/jpeg;base64," in html  # the duplicate pair is shown with thumbnails
