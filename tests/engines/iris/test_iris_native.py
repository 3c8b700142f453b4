"""The native iris kernels against independent answers.

iris_sharpness against a NumPy evaluation of the ISO/IEC 29794-6 formula; iris_measures on
synthetic eyes given their true circles (so localisation plays no part), against the formulas
evaluated on the drawing's known regions; the pupil boundary circularity of an elliptical pupil
against the Fourier coefficients of the ellipse's polar equation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from iris_synthetic import draw_eye
from numpy.lib.stride_tricks import sliding_window_view

from bqat import NativeError, _native

ISO_KERNEL = np.array(
    [
        [0, 1, 1, 2, 2, 2, 1, 1, 0],
        [1, 2, 4, 5, 5, 5, 4, 2, 1],
        [1, 4, 5, 3, 0, 3, 5, 4, 1],
        [2, 5, 3, -12, -24, -12, 3, 5, 2],
        [2, 5, 0, -24, -40, -24, 0, 5, 2],
        [2, 5, 3, -12, -24, -12, 3, 5, 2],
        [1, 4, 5, 3, 0, 3, 5, 4, 1],
        [1, 2, 4, 5, 5, 5, 4, 2, 1],
        [0, 1, 1, 2, 2, 2, 1, 1, 0],
    ],
    np.int64,
)


def sharpness_reference(grey: np.ndarray) -> float:
    """ISO sharpness: the kernel at rows and columns 4, 8, ... where it fits, power over W H."""
    height, width = grey.shape
    windows = sliding_window_view(grey.astype(np.int64), (9, 9))[
        0 : height - 8 : 4, 0 : width - 8 : 4
    ]
    responses = np.einsum("ijkl,kl->ij", windows, ISO_KERNEL).astype(np.float64)
    power = float((responses**2).sum()) / (width * height)
    return 100.0 * power**2 / (power**2 + 180000.0**2)


def test_the_iso_kernel_has_zero_sum():
    assert ISO_KERNEL.sum() == 0


@pytest.mark.parametrize("shape", [(9, 9), (13, 40), (100, 73), (240, 320), (480, 640)])
def test_sharpness_matches_the_iso_formula_on_random_images(shape):
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    grey = rng.integers(0, 256, shape, dtype=np.uint8)
    assert _native.iris_sharpness(grey) == pytest.approx(sharpness_reference(grey), rel=1e-9)


def test_sharpness_reads_strided_views_and_falls_with_blur():
    eye = draw_eye(texture=40.0, blur=0.0, noise=6.0, seed=3)
    wide = np.zeros((eye.image.shape[0], eye.image.shape[1] * 2), np.uint8)
    wide[:, ::2] = eye.image
    view = wide[:, ::2]
    assert _native.iris_sharpness(view) == pytest.approx(sharpness_reference(eye.image), rel=1e-9)
    blurred = draw_eye(texture=40.0, blur=2.5, noise=0.0, seed=3).image
    assert _native.iris_sharpness(blurred) < 0.2 * _native.iris_sharpness(eye.image)


def test_an_image_smaller_than_the_kernel_has_zero_sharpness():
    assert _native.iris_sharpness(np.full((8, 30), 200, np.uint8)) == 0.0


def measured(eye, pupil=None, iris=None) -> dict:
    return _native.iris_measures(eye.image, pupil or eye.pupil, iris or eye.iris)


def test_ratio_concentricity_and_margin_follow_the_circles():
    eye = draw_eye(iris=(300.0, 250.0, 110.0), pupil=(312.0, 243.0, 38.0))
    m = measured(eye)
    assert m["iris_radius"] == 110.0
    assert m["pupil_iris_ratio"] == pytest.approx(100 * 38 / 110)
    assert m["iris_pupil_concentricity"] == pytest.approx(100 * (1 - math.hypot(12, 7) / 110))
    assert m["margin_adequacy"] == 100.0
    # 70 px of image left of the iris edge (0.5 px beyond the last pixel centre): 70.5 / 66
    near = draw_eye(iris=(180.0, 240.0, 110.0), pupil=(184.0, 240.0, 40.0))
    left = (180 + 0.5 - 110) / (0.6 * 110)
    assert measured(near)["margin_adequacy"] == pytest.approx(100 * min(1.0, left))
    top = draw_eye(iris=(320.0, 120.0, 110.0), pupil=(320.0, 120.0, 40.0))
    assert measured(top)["margin_adequacy"] == pytest.approx(100 * (120.5 - 110) / 22)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"upper_lid": 170.0, "lower_lid": 330.0},
        {"upper_lid": 175.0, "lashes": 12},
        {"speculars": ((300.0, 230.0, 7.0), (350.0, 300.0, 5.0), (290.0, 190.0, 4.0))},
        {"upper_lid": 200.0, "lower_lid": 300.0, "noise": 6.0, "seed": 4},
    ],
    ids=["open", "lids", "lashes", "highlights", "narrow-and-noisy"],
)
def test_usable_area_and_contrasts_match_the_drawing(options):
    eye = draw_eye(**options)
    m = measured(eye)
    assert m["errors"] == {}
    assert m["usable_iris_area"] == pytest.approx(eye.usable_iris_area, abs=3.0)

    # The standard's regions, from what was drawn.
    grey = eye.image.astype(np.float64)
    ys, xs = np.mgrid[0 : grey.shape[0], 0 : grey.shape[1]]
    ix, iy, ir = eye.iris
    px, py, pr = eye.pupil
    t = np.hypot(xs - ix, ys - iy)
    lateral = np.abs(ys - iy) <= np.tan(np.pi / 6) * np.abs(xs - ix)
    sclera = np.median(grey[(t >= 1.1 * ir) & (t <= 1.2 * ir) & lateral])
    iris = np.median(grey[eye.visible & (t >= (pr + ir) / 2) & (t <= 0.9 * ir)])
    pupil_core = np.hypot(xs - px, ys - py) <= 0.8 * pr
    pupil = np.median(grey[pupil_core & (grey < m["specular_threshold"])])
    isc = 100 * (sclera - iris) / (sclera + iris - 2 * pupil)
    weber = (iris - pupil) / (20 + pupil)
    assert m["iris_sclera_contrast"] == pytest.approx(isc, abs=1.5)
    assert m["iris_pupil_contrast"] == pytest.approx(100 * weber / (0.75 + weber), abs=1.5)

    values = eye.image[eye.visible]
    p = np.bincount(values, minlength=256) / values.size
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    assert m["grey_scale_utilisation"] == pytest.approx(entropy, abs=0.15)


def test_an_iris_leaving_the_image_counts_the_outside_as_occluded():
    eye = draw_eye(iris=(320.0, 80.0, 110.0), pupil=(322.0, 84.0, 40.0))
    assert eye.usable_iris_area < 93  # the top 30 px of the iris lie above the image
    assert measured(eye)["usable_iris_area"] == pytest.approx(eye.usable_iris_area, abs=3.0)


def ellipse_circularity(a: float, b: float, n: int = 64) -> float:
    """100 (1 - RMS of the 2..16th harmonics of r(theta) / mean r) for an upright ellipse."""
    theta = 2 * np.pi * np.arange(n) / n
    r = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
    c = np.fft.fft(r / r.mean()) / n
    return 100 * (1 - math.sqrt(2 * float((np.abs(c[2:17]) ** 2).sum())))


@pytest.mark.parametrize("axes", [(40.0, 40.0), (44.0, 36.0), (48.0, 32.0)])
def test_pupil_boundary_circularity_of_an_elliptical_pupil(axes):
    eye = draw_eye(pupil=(322.0, 242.0, 40.0), pupil_axes=axes)
    m = measured(eye, pupil=(322.0, 242.0, math.sqrt(axes[0] * axes[1])))
    assert m["pupil_boundary_circularity"] == pytest.approx(ellipse_circularity(*axes), abs=1.0)


def test_a_pupil_hidden_by_an_eyelid_has_no_circularity():
    eye = draw_eye(upper_lid=252.0)  # the upper lid hides the pupil's top half and more
    m = measured(eye)
    assert m["pupil_boundary_circularity"] is None
    assert "fewer than half" in m["errors"]["pupil_boundary_circularity"]


def test_the_pupil_grey_leaves_out_an_eyelid_over_the_pupil():
    # The upper lid covers about 60% of the pupil: the pupil's grey is still the pupil's, so the
    # contrasts stay those of the drawing's levels.
    eye = draw_eye(pupil=(322.0, 242.0, 40.0), upper_lid=250.0)
    m = measured(eye)
    assert m["pupil_grey"] == pytest.approx(eye.levels["pupil"], abs=3.0)
    weber = (m["iris_grey"] - eye.levels["pupil"]) / (20 + eye.levels["pupil"])
    assert m["iris_pupil_contrast"] == pytest.approx(100 * weber / (0.75 + weber), abs=2.0)
    assert m["usable_iris_area"] == pytest.approx(eye.usable_iris_area, abs=4.0)


def test_the_occlusion_grid_marks_the_covered_top():
    eye = draw_eye(upper_lid=170.0)
    mask = measured(eye)["occlusion"]
    assert mask.shape == (256, 32) and mask.dtype == np.uint8
    assert mask[192, -1] == 1  # straight up (270 degrees), outer edge: under the lid
    assert mask[64, :].sum() == 0  # straight down: open


@pytest.mark.parametrize(
    ("pupil", "iris", "message"),
    [
        ((300.0, 240.0, 40.0), (320.0, 240.0, 50.0), "inside the iris"),
        ((300.0, 240.0, 0.0), (320.0, 240.0, 110.0), "positive"),
        ((300.0, 240.0, 30.0), (math.nan, 240.0, 110.0), "finite"),
    ],
)
def test_iris_measures_refuse_impossible_circles(pupil, iris, message):
    with pytest.raises(NativeError, match=message):
        _native.iris_measures(np.zeros((480, 640), np.uint8), pupil, iris)


@pytest.mark.parametrize(
    "kernel", ["iris_locate", "iris_assess", "iris_sharpness", "iris_candidates"]
)
def test_iris_kernels_take_grey_uint8_only(kernel):
    with pytest.raises(NativeError, match="grey"):
        getattr(_native, kernel)(np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(NativeError, match="uint8"):
        getattr(_native, kernel)(np.zeros((40, 40), np.float32))


def test_the_iris_kernels_release_the_gil(main_thread_ran_during):
    """The main thread runs while a worker thread is in the kernels only if they release the GIL
    (the harness of tests/conftest.py)."""
    grey = draw_eye(seed=5).image
    calls = [
        lambda: _native.iris_assess(grey),
        lambda: _native.iris_locate(grey),
        lambda: _native.iris_measures(grey, (324.0, 244.0, 40.0), (320.0, 240.0, 110.0)),
        lambda: _native.iris_sharpness(grey),
    ]
    for call in calls:
        assert main_thread_ran_during(call)
