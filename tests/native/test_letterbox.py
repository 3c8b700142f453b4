"""bqat._native.letterbox against cv2.resize on float32 input and an explicit NumPy sampler."""

from __future__ import annotations

import numpy as np
import pytest
from native_reference import (
    STRIDED_VIEWS,
    letterbox_geometry,
    letterbox_reference,
    random_image,
)

from bqat import _native

MEAN = (104.0, 117.0, 123.0)
STD = (57.0, 57.5, 58.0)

# (image shape, out_height, out_width): grey, H x W x 1, 3 and 4 channels; odd sizes; wide images
# (pad at the bottom), tall ones (pad on the right), exact fits; down- and upscaling.
SHAPES = [
    ((37, 53), 64, 64),
    ((37, 53, 1), 64, 64),
    ((61, 29, 3), 64, 64),
    ((45, 45, 4), 32, 32),
    ((480, 640, 3), 320, 320),
    ((101, 33, 3), 48, 80),
    ((7, 5, 3), 64, 48),
    ((3, 11), 40, 40),
    ((1, 1, 3), 9, 7),
    ((1, 17, 3), 16, 16),
    ((19, 1), 16, 16),
    ((64, 64, 3), 64, 64),
    ((200, 100, 3), 100, 50),
    ((33, 66, 3), 17, 33),
]


def run(image, out_height, out_width, **kwargs):
    tensor, scale = _native.letterbox(image, out_height, out_width, **kwargs)
    assert tensor.dtype == np.float32
    return tensor, scale


@pytest.mark.parametrize(("shape", "out_height", "out_width"), SHAPES)
def test_letterbox_matches_cv2_resize_on_random_images(shape, out_height, out_width):
    image = random_image(shape, seed=sum(shape) + out_width)
    tensor, scale = run(image, out_height, out_width)
    expected, expected_scale = letterbox_reference(image, out_height, out_width)
    assert tensor.shape == (1, 3, out_height, out_width)
    assert scale == pytest.approx(expected_scale, rel=1e-12)
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize(("shape", "out_height", "out_width"), SHAPES[:8])
def test_letterbox_matches_an_explicit_numpy_bilinear_sampler(shape, out_height, out_width):
    image = random_image(shape, seed=len(shape) * 1000 + out_height)
    tensor, _ = run(image, out_height, out_width, pad=17.0)
    expected, _ = letterbox_reference(image, out_height, out_width, pad=17.0, resize="numpy")
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    ("shape", "out_height", "out_width", "filled"),
    [
        ((50, 100, 3), 64, 64, (32, 64)),  # wide: the bottom half is padding
        ((100, 50, 3), 64, 64, (64, 32)),  # tall: the right half is padding
        ((30, 90), 40, 60, (20, 60)),
        ((90, 30, 4), 60, 40, (60, 20)),
        ((100, 100, 3), 40, 60, (40, 40)),
    ],
)
def test_letterbox_pads_right_or_bottom_with_the_normalised_pad_value(
    shape, out_height, out_width, filled
):
    # Pixels are >= 100 so no resized value can be mistaken for the pad (7).
    image = random_image(shape, seed=3) // 2 + 100
    tensor, _ = run(image, out_height, out_width, mean=MEAN, std=STD, pad=7.0, layout="nhwc")
    nh, nw = filled
    assert letterbox_geometry(shape[0], shape[1], out_height, out_width)[1:] == (nh, nw)
    pad = (7.0 - np.array(MEAN)) / np.array(STD)
    sample = tensor[0]
    region = sample[:nh, :nw]
    assert np.all(region > (99.0 - np.array(MEAN)) / np.array(STD))
    np.testing.assert_allclose(
        sample[nh:, :], np.broadcast_to(pad, sample[nh:, :].shape), rtol=1e-6
    )
    np.testing.assert_allclose(
        sample[:, nw:], np.broadcast_to(pad, sample[:, nw:].shape), rtol=1e-6
    )


def test_letterbox_returns_the_fit_scale_for_upscaling_and_downscaling():
    assert run(np.zeros((50, 200, 3), np.uint8), 100, 100)[1] == pytest.approx(0.5)
    assert run(np.zeros((10, 20, 3), np.uint8), 100, 100)[1] == pytest.approx(5.0)
    assert run(np.zeros((30, 10), np.uint8), 60, 100)[1] == pytest.approx(2.0)


def test_letterbox_of_an_image_already_at_the_output_size_is_an_exact_copy():
    image = random_image((24, 40, 3), seed=5)
    tensor, scale = run(image, 24, 40, layout="nhwc")
    assert scale == 1.0
    np.testing.assert_array_equal(tensor[0], image.astype(np.float32))


def test_letterbox_of_a_constant_image_is_constant_inside_and_pad_outside():
    image = np.full((13, 31, 3), 200, np.uint8)
    tensor, _ = run(image, 50, 50, pad=-1.0)
    _, nh, nw = letterbox_geometry(13, 31, 50, 50)
    assert np.all(tensor[0, :, :nh, :nw] == pytest.approx(200.0, abs=1e-4))
    assert np.all(tensor[0, :, nh:, :] == -1.0)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("swap_rb", [False, True])
@pytest.mark.parametrize("shape", [(45, 70, 3), (45, 70, 4), (70, 45)])
def test_letterbox_normalises_swaps_and_lays_out_like_the_reference(layout, swap_rb, shape):
    image = random_image(shape, seed=11)
    kwargs = dict(mean=MEAN, std=STD, swap_rb=swap_rb, layout=layout, pad=114.0)
    tensor, _ = run(image, 56, 56, **kwargs)
    expected, _ = letterbox_reference(image, 56, 56, **kwargs)
    expected_shape = (1, 3, 56, 56) if layout == "nchw" else (1, 56, 56, 3)
    assert tensor.shape == expected_shape
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-4)


def test_letterbox_swap_rb_equals_reversing_the_channels_of_the_input():
    image = random_image((33, 47, 3), seed=12)
    swapped, _ = run(image, 40, 40, swap_rb=True, mean=MEAN, std=STD)
    reversed_input, _ = run(np.ascontiguousarray(image[:, :, ::-1]), 40, 40, mean=MEAN, std=STD)
    np.testing.assert_array_equal(swapped, reversed_input)


def test_letterbox_nhwc_is_the_transpose_of_nchw():
    image = random_image((33, 47, 3), seed=13)
    nchw, _ = run(image, 40, 48, mean=MEAN, std=STD, layout="nchw")
    nhwc, _ = run(image, 40, 48, mean=MEAN, std=STD, layout="nhwc")
    np.testing.assert_array_equal(nchw.transpose(0, 2, 3, 1), nhwc)


def test_letterbox_ignores_the_alpha_channel():
    image = random_image((20, 30, 4), seed=14)
    other_alpha = image.copy()
    other_alpha[:, :, 3] = 255 - other_alpha[:, :, 3]
    np.testing.assert_array_equal(run(image, 32, 32)[0], run(other_alpha, 32, 32)[0])
    np.testing.assert_array_equal(run(image, 32, 32)[0], run(image[:, :, :3].copy(), 32, 32)[0])


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("index", [0, 2, 3])
def test_letterbox_writes_only_sample_index_of_a_preallocated_batch(layout, index):
    image = random_image((50, 70, 3), seed=15)
    shape = (4, 3, 32, 32) if layout == "nchw" else (4, 32, 32, 3)
    out = np.full(shape, -7.0, np.float32)
    result, _ = run(image, 32, 32, mean=MEAN, std=STD, layout=layout, pad=3.0, out=out, index=index)
    assert np.shares_memory(result, out)
    expected, _ = letterbox_reference(image, 32, 32, mean=MEAN, std=STD, layout=layout, pad=3.0)
    np.testing.assert_allclose(out[index], expected[0], rtol=0, atol=1e-4)
    others = np.delete(out, index, axis=0)
    assert np.all(others == -7.0)


@pytest.mark.parametrize("view", STRIDED_VIEWS)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_letterbox_reads_non_contiguous_views_like_their_contiguous_copy(view, layout):
    base = random_image((61, 83, 4), seed=16)
    image = view(base)
    assert not image.flags.c_contiguous
    kwargs = dict(mean=MEAN, std=STD, swap_rb=True, layout=layout, pad=9.0)
    tensor, scale = run(image, 48, 40, **kwargs)
    copy_tensor, copy_scale = run(np.ascontiguousarray(image), 48, 40, **kwargs)
    assert scale == copy_scale
    np.testing.assert_array_equal(tensor, copy_tensor)
    expected, _ = letterbox_reference(np.ascontiguousarray(image), 48, 40, **kwargs)
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=1e-4)
