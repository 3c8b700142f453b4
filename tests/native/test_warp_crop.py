"""bqat._native.warp_crop against a slow NumPy bilinear sampler with per-tap borders, and cv2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from native_reference import (
    STRIDED_VIEWS,
    affine,
    random_image,
    three_channels,
    to_tensor,
    warp_reference,
)

from bqat import _native

MEAN = (104.0, 117.0, 123.0)
STD = (57.0, 57.5, 58.0)

# (image shape, matrix, out_height, out_width): rotations, scaling up and down, crops inside,
# partly outside and entirely outside the image, on grey, H x W x 1, 3- and 4-channel images.
CASES = [
    pytest.param((60, 80, 3), affine(), 40, 50, id="identity-crop"),
    pytest.param((60, 80, 3), affine(12.0, 300 / 192, 30.0, 10.0), 32, 32, id="rotate-scale-down"),
    pytest.param((61, 79), affine(-33.0, 0.4, 20.5, 15.25), 48, 40, id="grey-rotate-upscale"),
    pytest.param((45, 45, 1), affine(90.0, 1.0, 44.0, 0.0), 45, 45, id="hxwx1-rotate-90"),
    pytest.param((50, 70, 4), affine(180.0, 1.0, 69.0, 49.0), 50, 70, id="4ch-rotate-180"),
    pytest.param((40, 40, 3), affine(30.0, 1.3, -10.0, -5.0), 37, 41, id="partly-outside-top-left"),
    pytest.param(
        (40, 40, 3), affine(-20.0, 0.9, 25.0, 30.0), 33, 29, id="partly-outside-bottom-right"
    ),
    pytest.param((40, 40, 3), affine(45.0, 2.0, 20.0, -30.0), 30, 30, id="straddling-the-top-edge"),
    pytest.param((30, 30, 3), affine(0.0, 1.0, 200.0, 5.0), 16, 16, id="fully-outside-right"),
    pytest.param(
        (30, 30, 3), affine(10.0, 1.0, -100.0, -100.0), 16, 16, id="fully-outside-top-left"
    ),
    pytest.param((30, 30, 3), affine(0.0, 1.0, 29.5, 29.5), 4, 4, id="last-pixel-half-offset"),
    pytest.param((1, 1, 3), affine(0.0, 0.25, -0.5, -0.5), 8, 8, id="single-pixel-source"),
    pytest.param((23, 17, 3), np.array([[0.7, 0.3, 2.0], [-0.2, 1.1, 1.5]]), 25, 19, id="shear"),
    pytest.param((23, 17), np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), 17, 23, id="transpose"),
]


def run(image, matrix, out_height, out_width, **kwargs):
    tensor = _native.warp_crop(image, matrix, out_height, out_width, **kwargs)
    assert tensor.dtype == np.float32
    return tensor


@pytest.mark.parametrize(("shape", "matrix", "out_height", "out_width"), CASES)
@pytest.mark.parametrize("border", [0.0, 127.5, 255.0])
def test_warp_crop_matches_the_per_tap_border_numpy_sampler(
    shape, matrix, out_height, out_width, border
):
    image = random_image(shape, seed=sum(shape) + out_height)
    tensor = run(image, matrix, out_height, out_width, border=border)
    expected = warp_reference(image, matrix, out_height, out_width, border=border)
    assert tensor.shape == (1, 3, out_height, out_width)
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=2e-3)


@pytest.mark.parametrize("seed", range(24))
def test_warp_crop_matches_the_numpy_sampler_for_random_affine_maps(seed):
    # Random rotations, scales and shifts put the crop anywhere from inside to far outside, so
    # each row's run of fully-inside pixels starts and ends at every kind of place.
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 90)), int(rng.integers(2, 90)), int(rng.choice([1, 3, 4])))
    image = random_image(shape, seed=seed)
    matrix = affine(
        rng.uniform(-180, 180), rng.uniform(0.2, 3.0), *rng.uniform(-0.5, 1.2, 2) * shape[1::-1]
    )
    if seed % 4 == 0:
        matrix[:, :2] += rng.normal(0, 0.3, (2, 2))  # shear as well
    out_height, out_width = int(rng.integers(1, 100)), int(rng.integers(1, 150))
    kwargs = dict(border=float(rng.uniform(0, 255)), layout=["nchw", "nhwc"][seed % 2])
    tensor = run(image, matrix, out_height, out_width, **kwargs)
    expected = warp_reference(image, matrix, out_height, out_width, **kwargs)
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=2e-3)


def test_warp_crop_with_the_identity_is_an_exact_crop():
    image = random_image((30, 40, 3), seed=1)
    tensor = run(image, affine(), 30, 40, layout="nhwc")
    np.testing.assert_array_equal(tensor[0], image.astype(np.float32))


def test_warp_crop_with_an_integer_translation_shifts_and_fills_with_the_border():
    image = random_image((30, 40), seed=2)
    tensor = run(image, affine(tx=25.0, ty=-4.0), 10, 20, border=-3.0)[0, 0]
    expected = np.full((10, 20), -3.0, np.float32)
    expected[4:, :15] = image[0:6, 25:40]
    np.testing.assert_array_equal(tensor, expected)


def test_warp_crop_at_a_half_pixel_offset_averages_the_four_neighbours():
    image = random_image((9, 11, 3), seed=3)
    tensor = run(image, affine(tx=0.5, ty=0.5), 8, 10, layout="nhwc")[0]
    pixels = image.astype(np.float64)
    expected = (pixels[:-1, :-1] + pixels[:-1, 1:] + pixels[1:, :-1] + pixels[1:, 1:]) / 4
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-4)


def test_warp_crop_blends_edge_pixels_with_the_border_per_tap():
    # Sampling half a pixel outside the left edge mixes the edge pixel and the border half-half.
    image = np.full((4, 4), 200, np.uint8)
    tensor = run(image, affine(tx=-0.5), 4, 1, border=100.0)
    np.testing.assert_allclose(tensor[0, :, :, 0], 150.0)
    # Quarter of a pixel past the bottom-right corner: taps inside weigh (0.75 x 0.75).
    tensor = run(image, affine(tx=3.25, ty=3.25), 1, 1, border=0.0)
    np.testing.assert_allclose(tensor[0, :, 0, 0], 200.0 * 0.75 * 0.75, rtol=1e-6)


@pytest.mark.parametrize("huge", [1e40, -1e40, 1e300, -1e300, 1e308])
def test_warp_crop_reads_the_border_for_coordinates_far_outside_the_image(huge):
    # Finite matrices whose coordinates pass float range, int range, or overflow to inf / nan.
    image = random_image((7, 9, 3), seed=4)
    for matrix in (
        np.array([[huge, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        np.array([[1.0, 0.0, 0.0], [0.0, 0.0, huge]]),
        np.array([[1.0, 0.0, huge], [0.0, 1.0, 0.0]]),
        np.array([[huge, -huge, 0.0], [0.0, 1.0, 0.0]]),
    ):
        tensor = run(image, matrix, 3, 4, border=42.0)
        expected = warp_reference(image, matrix, 3, 4, border=42.0)
        assert np.isfinite(tensor).all()
        np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    ("shape", "matrix", "out_height", "out_width"),
    [
        ((120, 160, 3), affine(12.0, 1.5, 40.0, 10.0), 64, 64),
        ((120, 160, 3), affine(-40.0, 0.7, 60.0, 80.0), 96, 80),
        ((100, 100), affine(25.0, 1.2, -20.0, 10.0), 80, 80),
        ((90, 110, 4), affine(170.0, 2.0, 120.0, 110.0), 50, 60),
    ],
)
def test_warp_crop_agrees_with_cv2_warp_affine_on_smooth_images(
    shape, matrix, out_height, out_width
):
    image = random_image(shape, seed=5, smooth=True)
    border = 90.0
    tensor = run(image, matrix, out_height, out_width, border=border, layout="nhwc")
    pixels = three_channels(image).astype(np.float32)
    expected = cv2.warpAffine(
        pixels,
        matrix,
        (out_width, out_height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border, border, border),
    )
    # cv2 rounds source coordinates to 1/32 px: a few grey levels where the image meets the border.
    difference = np.abs(tensor[0] - expected)
    assert difference.max() < 4.0
    assert difference.mean() < 0.1


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("swap_rb", [False, True])
@pytest.mark.parametrize("shape", [(40, 50, 3), (40, 50, 4), (50, 40)])
def test_warp_crop_normalises_swaps_and_lays_out_like_the_reference(layout, swap_rb, shape):
    image = random_image(shape, seed=6)
    matrix = affine(20.0, 0.8, 10.0, 5.0)
    kwargs = dict(mean=MEAN, std=STD, swap_rb=swap_rb, layout=layout, border=114.0)
    tensor = run(image, matrix, 36, 44, **kwargs)
    expected = warp_reference(image, matrix, 36, 44, **kwargs)
    assert tensor.shape == ((1, 3, 36, 44) if layout == "nchw" else (1, 36, 44, 3))
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-4)


def test_warp_crop_normalises_the_border_like_a_pixel():
    image = random_image((10, 10, 3), seed=7)
    tensor = run(image, affine(tx=1000.0), 5, 6, mean=MEAN, std=STD, border=50.0, layout="nhwc")
    expected = to_tensor(np.full((5, 6, 3), 50.0), MEAN, STD, layout="nhwc")
    np.testing.assert_allclose(tensor, expected, rtol=1e-6)


def test_warp_crop_swap_rb_equals_reversing_the_channels_of_the_input():
    image = random_image((33, 47, 3), seed=8)
    matrix = affine(15.0, 1.1, 5.0, 2.0)
    swapped = run(image, matrix, 30, 30, swap_rb=True, mean=MEAN, std=STD)
    reversed_input = run(
        np.ascontiguousarray(image[:, :, ::-1]), matrix, 30, 30, mean=MEAN, std=STD
    )
    np.testing.assert_array_equal(swapped, reversed_input)


def test_warp_crop_ignores_the_alpha_channel():
    image = random_image((20, 30, 4), seed=9)
    other_alpha = image.copy()
    other_alpha[:, :, 3] = 255 - other_alpha[:, :, 3]
    matrix = affine(30.0, 0.9, 10.0, -3.0)
    np.testing.assert_array_equal(run(image, matrix, 16, 16), run(other_alpha, matrix, 16, 16))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("index", [0, 1, 4])
def test_warp_crop_writes_only_sample_index_of_a_preallocated_batch(layout, index):
    image = random_image((50, 70, 3), seed=10)
    matrix = affine(-10.0, 1.4, 5.0, 5.0)
    shape = (5, 3, 24, 20) if layout == "nchw" else (5, 24, 20, 3)
    out = np.full(shape, -7.0, np.float32)
    kwargs = dict(mean=MEAN, std=STD, layout=layout, border=3.0)
    result = run(image, matrix, 24, 20, out=out, index=index, **kwargs)
    assert np.shares_memory(result, out)
    expected = warp_reference(image, matrix, 24, 20, **kwargs)
    np.testing.assert_allclose(out[index], expected[0], rtol=0, atol=1e-4)
    assert np.all(np.delete(out, index, axis=0) == -7.0)


def test_warp_crop_accepts_any_real_matrix_dtype_and_layout():
    image = random_image((30, 30, 3), seed=11)
    matrix = affine(10.0, 1.0, 3.0, 4.0)
    expected = run(image, matrix, 20, 20)
    np.testing.assert_allclose(run(image, matrix.astype(np.float32), 20, 20), expected, atol=1e-3)
    np.testing.assert_array_equal(run(image, np.asfortranarray(matrix), 20, 20), expected)
    np.testing.assert_array_equal(run(image, np.hstack([matrix, matrix])[:, :3], 20, 20), expected)


@pytest.mark.parametrize("view", STRIDED_VIEWS)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_warp_crop_reads_non_contiguous_views_like_their_contiguous_copy(view, layout):
    base = random_image((61, 83, 4), seed=12)
    image = view(base)
    assert not image.flags.c_contiguous
    matrix = affine(25.0, 0.9, 12.0, -4.0)
    kwargs = dict(mean=MEAN, std=STD, swap_rb=True, layout=layout, border=9.0)
    tensor = run(image, matrix, 40, 36, **kwargs)
    np.testing.assert_array_equal(
        tensor, run(np.ascontiguousarray(image), matrix, 40, 36, **kwargs)
    )
    expected = warp_reference(np.ascontiguousarray(image), matrix, 40, 36, **kwargs)
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-4)
