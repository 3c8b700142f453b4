"""Bad arguments to the native kernels raise bqat.NativeError with a message naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

from bqat import _native
from bqat.exceptions import BqatError, NativeError

IMAGE = np.zeros((20, 30, 3), np.uint8)
GREY = np.zeros((20, 30), np.uint8)
MATRIX = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def letterbox(image=IMAGE, **kwargs):
    return _native.letterbox(image, 16, 16, **kwargs)


def warp_crop(image=IMAGE, matrix=MATRIX, **kwargs):
    return _native.warp_crop(image, matrix, 16, 16, **kwargs)


def grey_stats(image=GREY, **kwargs):
    return _native.grey_stats(image, **kwargs)


def phash(image=GREY):
    return _native.phash(image)


KERNELS = [
    pytest.param(letterbox, id="letterbox"),
    pytest.param(warp_crop, id="warp_crop"),
]
GREY_KERNELS = [pytest.param(grey_stats, id="grey_stats"), pytest.param(phash, id="phash")]
ALL_KERNELS = [*KERNELS, *GREY_KERNELS]


def test_native_error_is_a_value_error_in_the_bqat_tree():
    assert issubclass(NativeError, ValueError)
    assert issubclass(NativeError, BqatError)


@pytest.mark.parametrize("kernel", ALL_KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.int8, np.bool_, np.float64])
def test_kernels_reject_images_that_are_not_uint8(kernel, dtype):
    with pytest.raises(NativeError, match=r"must be uint8, got " + np.dtype(dtype).name):
        kernel(GREY.astype(dtype))


@pytest.mark.parametrize("kernel", ALL_KERNELS)
@pytest.mark.parametrize(
    "shape",
    [(30,), (2, 3, 4, 1), (20, 30, 0)],
    ids=["1-d", "4-d", "no-channels"],
)
def test_kernels_reject_images_of_the_wrong_dimensions(kernel, shape):
    with pytest.raises(NativeError, match=r"got shape \(" + str(shape[0])):
        kernel(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("kernel", KERNELS)
def test_tensor_kernels_reject_five_channel_images(kernel):
    with pytest.raises(NativeError, match=r"C in 1\.\.4, got shape \(20, 30, 5\)"):
        kernel(np.zeros((20, 30, 5), np.uint8))


@pytest.mark.parametrize("kernel", GREY_KERNELS)
@pytest.mark.parametrize("channels", [2, 3, 4])
def test_grey_kernels_reject_colour_images(kernel, channels):
    with pytest.raises(NativeError, match=kernel.__name__ + r": image must be H x W \(grey\)"):
        kernel(np.zeros((20, 30, channels), np.uint8))


@pytest.mark.parametrize("kernel", ALL_KERNELS)
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 5, 3), (0, 0)])
def test_kernels_reject_empty_images(kernel, shape):
    if kernel in (grey_stats, phash) and len(shape) == 3:
        shape = shape[:2]
    with pytest.raises(NativeError, match="empty"):
        kernel(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("layout", ["NCHW", "chw", "", "nchw "])
def test_tensor_kernels_reject_unknown_layouts(kernel, layout):
    with pytest.raises(NativeError, match=r"layout must be 'nchw' or 'nhwc'"):
        kernel(layout=layout)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    "std",
    [
        (1.0, 0.0, 1.0),
        (0.0, 0.0, 0.0),
        (1.0, 1.0, -0.0),
        (1.0, float("nan"), 1.0),
        (float("inf"),) * 3,
    ],
)
def test_tensor_kernels_reject_a_zero_or_non_finite_std(kernel, std):
    with pytest.raises(NativeError, match="std values must be finite and non-zero"):
        kernel(std=std)


@pytest.mark.parametrize("kernel", KERNELS)
def test_tensor_kernels_reject_a_non_finite_mean(kernel):
    with pytest.raises(NativeError, match="mean values must be finite"):
        kernel(mean=(0.0, float("nan"), 0.0))


@pytest.mark.parametrize("size", [(0, 16), (16, 0), (-3, 16)])
def test_tensor_kernels_reject_an_empty_output_size(size):
    with pytest.raises(NativeError, match="output size must be positive"):
        _native.letterbox(IMAGE, *size)
    with pytest.raises(NativeError, match="output size must be positive"):
        _native.warp_crop(IMAGE, MATRIX, *size)


@pytest.mark.parametrize(
    "matrix",
    [np.eye(3), np.eye(2), np.zeros(6), np.zeros((3, 2)), np.zeros((1, 2, 3))],
    ids=["3x3", "2x2", "flat-6", "3x2", "1x2x3"],
)
def test_warp_crop_rejects_a_matrix_that_is_not_2_x_3(matrix):
    with pytest.raises(NativeError, match=r"matrix must be a 2 x 3 affine matrix, got shape"):
        warp_crop(matrix=matrix)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("position", [(0, 0), (0, 2), (1, 1), (1, 2)])
def test_warp_crop_rejects_a_non_finite_matrix(bad, position):
    matrix = MATRIX.copy()
    matrix[position] = bad
    with pytest.raises(NativeError, match="matrix must be finite"):
        warp_crop(matrix=matrix)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.uint8, np.int32])
def test_tensor_kernels_reject_an_out_that_is_not_float32(kernel, dtype):
    with pytest.raises(NativeError, match="out must be float32"):
        kernel(out=np.zeros((2, 3, 16, 16), dtype))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    ("layout", "shape"),
    [
        ("nchw", (2, 16, 16, 3)),
        ("nhwc", (2, 3, 16, 16)),
        ("nchw", (3, 16, 16)),
        ("nchw", (2, 3, 16, 17)),
        ("nchw", (2, 4, 16, 16)),
        ("nhwc", (1, 15, 16, 3)),
    ],
)
def test_tensor_kernels_reject_an_out_of_the_wrong_shape(kernel, layout, shape):
    with pytest.raises(NativeError, match=r"out must have shape .* with H x W = 16 x 16"):
        kernel(layout=layout, out=np.zeros(shape, np.float32))


@pytest.mark.parametrize("kernel", KERNELS)
def test_tensor_kernels_reject_a_non_contiguous_out(kernel):
    out = np.zeros((4, 3, 16, 16), np.float32)[::2]
    with pytest.raises(NativeError, match="C-contiguous"):
        kernel(out=out)
    fortran = np.asfortranarray(np.zeros((2, 3, 16, 16), np.float32))
    with pytest.raises(NativeError, match="C-contiguous"):
        kernel(out=fortran)


@pytest.mark.parametrize("kernel", KERNELS)
def test_tensor_kernels_reject_a_read_only_out(kernel):
    out = np.zeros((2, 3, 16, 16), np.float32)
    out.flags.writeable = False
    with pytest.raises(NativeError, match="writeable"):
        kernel(out=out)


@pytest.mark.parametrize("kernel", KERNELS)
def test_tensor_kernels_reject_an_out_that_is_not_an_array(kernel):
    with pytest.raises(NativeError, match="out must be a NumPy array"):
        kernel(out=[[0.0] * 16] * 16)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("index", [2, 3, -1, -100])
def test_tensor_kernels_reject_an_index_outside_the_batch(kernel, index):
    out = np.zeros((2, 3, 16, 16), np.float32)
    with pytest.raises(NativeError, match=f"index {index} is outside the batch of 2"):
        kernel(out=out, index=index)
    assert np.all(out == 0.0)


@pytest.mark.parametrize("block", [0, -1, -(2**31)])
def test_grey_stats_reject_a_block_below_one(block):
    with pytest.raises(NativeError, match=f"block must be >= 1, got {block}"):
        grey_stats(block=block)


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.float64, np.uint8, ">u8"])
def test_near_pairs_reject_hashes_that_are_not_uint64(dtype):
    with pytest.raises(NativeError, match=r"near_pairs: hashes must be uint64, got "):
        _native.near_pairs(np.zeros(4, dtype), 3)


@pytest.mark.parametrize("shape", [(), (4, 2), (1, 0)], ids=["0-d", "2-d", "2-d-empty"])
def test_near_pairs_reject_hashes_that_are_not_1_d(shape):
    with pytest.raises(NativeError, match=r"near_pairs: hashes must be 1-D, got shape \("):
        _native.near_pairs(np.zeros(shape, np.uint64), 3)


@pytest.mark.parametrize("max_distance", [-1, 33, 64, -(2**31)])
def test_near_pairs_reject_a_max_distance_outside_0_to_32(max_distance):
    with pytest.raises(NativeError, match=f"max_distance must be in 0..32, got {max_distance}"):
        _native.near_pairs(np.zeros(4, np.uint64), max_distance)
