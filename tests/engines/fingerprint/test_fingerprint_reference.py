"""Every native NFIQ 2 feature against the slow NumPy/OpenCV transcription of NIST's definitions
(fingerprint_reference.py) on synthetic ridges with a known orientation field and period, and
known answers where the geometry gives one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fingerprint_reference import (
    FDA_LIMITS,
    OCL_LIMITS,
    crop_white_frame,
    histogram,
    minutiae_quality_features,
    mu_features,
    ocl_values,
    offset_block_features,
    roi_features,
    roi_mask,
)
from fingerprint_synthetic import circular_ridges, framed, oval_print, straight_ridges

from bqat import _native

PERIOD = 9.0


@pytest.fixture(scope="module")
def synthetic() -> dict[str, np.ndarray]:
    """Trimmed synthetic prints: an oval of circular ridges with noise, noisy circles filling
    the image, and a finer oval."""
    images = {
        "oval": oval_print(300, 240, PERIOD, seed=1),
        "circles": circular_ridges(200, 230, PERIOD, (60.0, 250.0), seed=2, noise=20),
        "fine_oval": oval_print(260, 200, 7.0, seed=3),
    }
    return {name: crop_white_frame(framed(image, 6)) for name, image in images.items()}


@pytest.fixture(scope="module")
def computed(synthetic) -> dict[str, tuple[dict, dict]]:
    """(native with details, reference) for each synthetic image."""
    return {
        name: (_native.nfiq2_assess(image, details=True), offset_block_features(image))
        for name, image in synthetic.items()
    }


def _close(a, b, rel=1e-9, abs_=1e-9):
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=rel, atol=abs_)


@pytest.mark.parametrize("name", ["oval", "circles", "fine_oval"])
def test_block_maps_equal_the_reference(computed, name):
    native, ref = computed[name]
    assert np.array_equal(native["foreground"], ref["_seg"])
    assert _close(native["orientation"], ref["_orient"], abs_=1e-12)


@pytest.mark.parametrize("name", ["oval", "circles", "fine_oval"])
@pytest.mark.parametrize("family", ["FDA", "LCS", "RVUP", "OF"])
def test_local_features_equal_the_reference_block_by_block(computed, name, family):
    native, ref = computed[name]
    key = family.lower()
    assert _close(native[f"{family}_values"], ref[f"_{key}_values"])
    for i in range(10):
        assert native[f"{family}_Bin10_{i}"] == ref[key][f"bin{i}"]
    if ref[f"_{key}_values"]:
        assert native[f"{family}_Bin10_Mean"] == pytest.approx(ref[key]["mean"], rel=1e-9)
        assert native[f"{family}_Bin10_StdDev"] == pytest.approx(ref[key]["std"], rel=1e-6)


@pytest.mark.parametrize("name", ["oval", "circles", "fine_oval"])
def test_ocl_contrast_roi_and_coherence_equal_the_reference(computed, synthetic, name):
    native, _ = computed[name]
    image = synthetic[name]
    ocl = ocl_values(image)
    assert _close(native["OCL_values"], ocl)
    h = histogram(ocl, OCL_LIMITS)
    assert [native[f"OCL_Bin10_{i}"] for i in range(10)] == [h[f"bin{i}"] for i in range(10)]
    mu = mu_features(image)
    assert native["Mu"] == pytest.approx(mu["mu"], rel=1e-12)
    assert native["MMB"] == pytest.approx(mu["mmb"], rel=1e-12)
    assert native["UniformImage"] == pytest.approx(mu["sigma"], rel=1e-9)
    assert np.array_equal(native["roi_mask"].astype(bool), roi_mask(image))
    roi = roi_features(image)
    assert native["SufficientFingerprintForeground"] == roi["roi_pixels"]
    assert native["ImgProcROIArea_Mean"] == pytest.approx(roi["roi_mean"], rel=1e-12)
    assert native["OrientationMap_ROIFilter_CoherenceSum"] == pytest.approx(
        roi["coherence_sum"], rel=1e-9
    )
    assert native["OrientationMap_ROIFilter_CoherenceRel"] == pytest.approx(
        roi["coherence_rel"], rel=1e-9
    )


@pytest.mark.parametrize("name", ["00007_01.bmp", "stateless_finger.png"])
def test_minutiae_position_features_equal_the_reference(trimmed, name):
    image = trimmed[name]
    native = _native.nfiq2_assess(image)
    found = native["minutiae"]
    xy = list(zip(found["x"].tolist(), found["y"].tolist(), strict=True))
    assert xy
    ref = minutiae_quality_features(image, xy)
    assert native["FingerJetFX_MinutiaeCount"] == len(xy)
    assert native["FingerJetFX_MinCount_COMMinRect200x200"] == ref["com200"]
    assert native["FJFXPos_Mu_MinutiaeQuality_2"] == pytest.approx(ref["mu_q"])
    assert native["FJFXPos_OCL_MinutiaeQuality_80"] == pytest.approx(ref["ocl_q"])


@pytest.mark.parametrize("angle", [0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4])
def test_straight_ridges_give_their_orientation_period_and_certainty(angle):
    """Across-ridge direction at 0, 45, 90 and 135 degrees: NIST's ridgeorient returns it
    exactly there (its c is not doubled, so other angles are biased), FDA finds the period in
    every block, OCL is about 1, and the orientation never changes so no block has flow."""
    image = straight_ridges(164, 164, 8.0, angle)
    found = _native.nfiq2_assess(image, details=True)
    expected = math.atan2(math.sin(2 * angle), math.cos(2 * angle)) / 2  # in (-pi/2, pi/2]
    assert np.allclose(found["orientation"], expected, atol=1e-9)
    periods = found["fda_period"][found["foreground"] == 1]
    assert np.allclose(periods, 8.0, atol=0.25)  # the spectrum peak, refined between bins
    assert min(found["OCL_values"]) > 0.97
    assert found["OF_values"] == [] and "OF" in found["errors"]
    assert found["FDA_Bin10_Mean"] == pytest.approx(np.mean(found["FDA_values"])) and found[
        "FDA_Bin10_9"
    ] + found["FDA_Bin10_8"] == len(found["FDA_values"])
    assert all(v >= FDA_LIMITS[7] for v in found["FDA_values"])  # a single clean frequency


def test_a_constant_image_has_no_foreground_and_no_local_values():
    found = _native.nfiq2_assess(np.full((120, 120), 90, np.uint8))
    assert found["UniformImage"] == 0.0
    assert {"FDA", "LCS", "RVUP", "OF"} <= set(found["errors"])
