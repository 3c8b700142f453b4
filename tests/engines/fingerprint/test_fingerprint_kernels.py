"""The native NFIQ 2 building blocks against independent references: OpenCV's own calls (which
NIST makes), the OpenCV 4.6 warp transcribed in NumPy, a Python walk of the forest, and known
answers for thinning and crossing numbers."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from fingerprint_reference import crop_white_frame, rotated

from bqat import NativeError, _native
from bqat.engines.fingerprint.forest import FEATURES, forest


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(12)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (30, 50), (100, 7), (97, 45), (140, 210)])
@pytest.mark.parametrize("ksize", [9, 41, 91])
def test_gaussian_blur_is_opencvs_bit_exact_blur(rng, shape, ksize):
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(
        _native.nfiq2_gaussian_blur(image, ksize), cv2.GaussianBlur(image, (ksize, ksize), 0)
    )


@pytest.mark.parametrize("shape", [(1, 1), (30, 50), (140, 210)])
def test_the_run_length_row_pass_of_a_binary_image_gives_the_same_blur(rng, shape):
    blobs = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (9, 9), 0)
    binary = np.where(blobs > 127, 255, 0).astype(np.uint8)
    expected = cv2.GaussianBlur(binary, (91, 91), 0)
    assert np.array_equal(_native.nfiq2_gaussian_blur(binary, 91, binary=True), expected)
    with pytest.raises(NativeError, match="binary"):
        _native.nfiq2_gaussian_blur(blobs, 91, binary=True)


def test_gaussian_blur_refuses_kernels_opencv_tabulates():
    with pytest.raises(NativeError, match="ksize"):
        _native.nfiq2_gaussian_blur(np.zeros((8, 8), np.uint8), 5)


@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (64, 33), (150, 200)])
def test_erosion_and_otsu_are_opencvs(rng, shape):
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(_native.nfiq2_erode5(image), cv2.erode(image, np.ones((5, 5), np.uint8)))
    smooth = cv2.GaussianBlur(image, (9, 9), 0)
    assert _native.nfiq2_otsu(smooth) == cv2.threshold(smooth, 0, 255, cv2.THRESH_OTSU)[0]


def test_rotated_windows_are_opencv_46s_nearest_neighbour_warp(rng):
    image = rng.integers(0, 256, (80, 90), dtype=np.uint8)
    for _ in range(60):
        top, left = int(rng.integers(-4, 60)), int(rng.integers(-4, 70))
        angle = float(rng.uniform(-math.pi, math.pi))
        for pad in (False, True):
            ours = _native.nfiq2_rotated_window(image, top, left, angle, pad)
            assert np.array_equal(ours, rotated(image, top + 2, left + 2, angle, pad))


def test_the_white_frame_is_trimmed_as_nist_does(rng):
    image = np.full((60, 80), 255, np.uint8)
    image[10:50, 5:70] = rng.integers(0, 200, (40, 65), dtype=np.uint8)
    image[0, :] = 0  # a dark row at the edge is not frame (mean 0)
    frame = _native.nfiq2_frame(image)
    assert frame["ok"]
    expected = crop_white_frame(image)
    got = image[frame["top"] : frame["bottom"] + 1, frame["left"] : frame["right"] + 1]
    assert np.array_equal(got, expected)


def test_an_all_white_image_has_no_fingerprint_left():
    frame = _native.nfiq2_frame(np.full((40, 40), 252, np.uint8))
    assert not frame["ok"] and "near-white" in frame["reason"]


def _walk(arrays: dict[str, np.ndarray], x: np.ndarray) -> int:
    """The forest walked in Python: left when x[var] <= thr (float32), votes of leaf class 1."""
    votes = 0
    for t in range(len(arrays["tree_off"])):
        base, node = int(arrays["tree_off"][t]), 0
        while arrays["var"][base + node] >= 0:
            i = base + node
            go_left = x[arrays["var"][i]] <= arrays["thr"][i]
            node = int(arrays["left"][i] if go_left else arrays["right"][i])
        votes += int(arrays["value"][base + node] == 1)
    return votes


def test_the_native_forest_walk_equals_a_python_walk(rng, nist):
    model = forest()
    base = np.array([float(nist["00007_01.bmp"][n]) for n in FEATURES], np.float32)
    for _ in range(30):
        x = (base * rng.uniform(0.5, 1.5, base.size)).astype(np.float32)
        assert model.walker.votes(x) == _walk(model.arrays, x)


def test_the_forest_refuses_arrays_that_point_outside():
    arrays = dict(forest().arrays)
    with pytest.raises(NativeError, match="feature"):
        _native.Nfiq2Forest(**arrays, features=10)
    broken = dict(arrays, left=arrays["left"].copy())
    broken["left"][0] = 10**6
    with pytest.raises(NativeError, match="child"):
        _native.Nfiq2Forest(**broken, features=len(FEATURES))
    with pytest.raises(NativeError, match="69 features"):
        forest().walker.votes(np.zeros(10, np.float32))


def test_thinning_leaves_a_one_pixel_line_along_a_thick_bar():
    bits = np.zeros((30, 60), np.uint8)
    bits[10:16, 5:55] = 1
    thin = _native.minutiae_thin(bits)
    columns = thin[:, 10:50].sum(axis=0)
    assert np.all(columns == 1)  # exactly one pixel per column away from the ends
    rows = np.nonzero(thin[:, 30])[0]
    assert 12 <= rows[0] <= 13  # on the middle of the bar


def test_crossing_numbers_of_an_ending_a_line_and_a_bifurcation():
    bits = np.zeros((11, 11), np.uint8)
    bits[5, 1:10] = 1  # a horizontal ridge
    bits[1:5, 5] = 1  # a branch meeting it from above at (5, 5)
    cn = _native.minutiae_crossing_numbers(bits)
    assert cn[5, 1] == 1 and cn[5, 9] == 1 and cn[1, 5] == 1  # endings
    assert cn[5, 3] == 2 and cn[3, 5] == 2  # plain ridge
    assert cn[5, 5] == 3  # the bifurcation
