"""bqat._native.grey_stats against each statistic computed plainly (NumPy, cv2.Laplacian)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from native_reference import GREY_VIEWS, grey_stats_reference, random_image

from bqat import _native

KEYS = ("mean", "std", "dynamic_range", "laplacian_variance", "block_mean_std", "entropy")


def assert_matches_reference(grey: np.ndarray, block: int) -> dict[str, float]:
    stats = _native.grey_stats(grey, block=block)
    assert set(stats) == set(KEYS)
    expected = grey_stats_reference(grey, block)
    for key in KEYS:
        assert stats[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-9), key
    return stats


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (1, 7), (9, 1), (2, 2), (3, 5), (31, 17), (64, 64), (100, 37), (257, 301), (480, 640)],
)
@pytest.mark.parametrize("block", [1, 3, 32, 1000])
def test_grey_stats_match_the_reference_on_random_images(shape, block):
    assert_matches_reference(random_image(shape, seed=shape[0] * 7 + shape[1]), block)


@pytest.mark.parametrize("shape", [(5, 8), (33, 65), (128, 96)])
@pytest.mark.parametrize("block", [2, 7, 16])
def test_grey_stats_match_the_reference_on_smooth_images(shape, block):
    assert_matches_reference(random_image(shape, seed=block, smooth=True), block)


def test_grey_stats_use_the_default_block_of_32():
    grey = random_image((100, 70), seed=1)
    assert _native.grey_stats(grey) == _native.grey_stats(grey, block=32)
    expected = grey_stats_reference(grey, 32)["block_mean_std"]
    assert _native.grey_stats(grey)["block_mean_std"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("value", [0, 77, 255])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (6, 1), (13, 21)])
def test_grey_stats_of_a_constant_image_have_no_spread(value, shape):
    stats = _native.grey_stats(np.full(shape, value, np.uint8), block=4)
    assert stats["mean"] == value
    assert stats == {
        "mean": float(value),
        "std": 0.0,
        "dynamic_range": 0.0,
        "laplacian_variance": 0.0,
        "block_mean_std": 0.0,
        "entropy": 0.0,
    }


def test_grey_stats_of_a_two_level_image_have_one_bit_of_entropy():
    grey = np.zeros((40, 40), np.uint8)
    grey[:, 20:] = 200  # left half 0, right half 200
    stats = _native.grey_stats(grey, block=20)
    assert stats["entropy"] == pytest.approx(1.0, abs=1e-12)
    assert stats["mean"] == pytest.approx(100.0)
    assert stats["std"] == pytest.approx(100.0)
    assert stats["dynamic_range"] == pytest.approx(200.0)
    assert stats["block_mean_std"] == pytest.approx(100.0)  # tiles are 0, 200, 0, 200


def test_grey_stats_of_all_256_levels_have_eight_bits_of_entropy():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    stats = _native.grey_stats(grey, block=16)
    assert stats["entropy"] == pytest.approx(8.0, abs=1e-12)
    assert stats["mean"] == pytest.approx(127.5)
    assert stats["std"] == pytest.approx(math.sqrt((256**2 - 1) / 12))
    assert stats["block_mean_std"] == 0.0  # a single tile
    # k = max(1, 256 // 100) = 2: (255 + 254) / 2 - (0 + 1) / 2
    assert stats["dynamic_range"] == pytest.approx(254.0)


def test_grey_stats_dynamic_range_averages_the_brightest_and_darkest_one_percent():
    # 1000 pixels, k = 10: the ten darkest are 0 x 5 and 10 x 5, the ten brightest 250 x 10.
    values = np.full(1000, 128, np.uint8)
    values[:5] = 0
    values[5:20] = 10
    values[-10:] = 250
    grey = np.random.default_rng(2).permutation(values).reshape(25, 40)
    assert _native.grey_stats(grey)["dynamic_range"] == pytest.approx(250.0 - 5.0)


def test_grey_stats_laplacian_variance_of_a_checkerboard_is_known():
    # Interior pixels of a 0/1 checkerboard have Laplacian 4 (on 0) or -4 (on 1); the reflect-101
    # border keeps that at the edges too, so the Laplacian is +-4 x scale everywhere.
    board = (np.indices((8, 10)).sum(axis=0) % 2).astype(np.uint8) * 50
    assert _native.grey_stats(board)["laplacian_variance"] == pytest.approx(200.0**2)


@pytest.mark.parametrize(
    ("shape", "block", "expected"),
    [
        ((4, 4), 2, [0, 100, 100, 0]),
        ((5, 5), 2, None),  # partial tiles on the right and at the bottom
        ((3, 7), 4, None),
        ((2, 3), 10, None),  # the block is larger than the image: one tile
    ],
)
def test_grey_stats_block_mean_std_counts_partial_tiles_with_their_own_mean(shape, block, expected):
    if expected is not None:
        grey = np.kron(np.array([[0, 100], [100, 0]], np.uint8), np.ones((2, 2), np.uint8))
    else:
        grey = random_image(shape, seed=block)
    tile_means = []
    for top in range(0, shape[0], block):
        for left in range(0, shape[1], block):
            tile = grey[top : top + block, left : left + block].astype(np.float64)
            tile_means.append(tile.sum() / tile.size)
    if expected is not None:
        assert tile_means == expected
    result = _native.grey_stats(grey, block=block)["block_mean_std"]
    assert result == pytest.approx(np.std(tile_means), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("block", [1000, 2**20, 2**31 - 1])
def test_grey_stats_with_a_block_larger_than_the_image_use_one_tile(block):
    grey = random_image((37, 53), seed=3)
    stats = _native.grey_stats(grey, block=block)
    assert stats["block_mean_std"] == 0.0
    assert stats == _native.grey_stats(grey, block=53)


def test_grey_stats_take_a_grey_h_x_w_x_1_image_like_h_x_w():
    grey = random_image((45, 61), seed=4)
    assert _native.grey_stats(grey[:, :, None], block=8) == _native.grey_stats(grey, block=8)


@pytest.mark.parametrize("view", GREY_VIEWS)
@pytest.mark.parametrize("block", [1, 5, 32])
def test_grey_stats_read_non_contiguous_views_like_their_contiguous_copy(view, block):
    grey = view(random_image((67, 91, 3), seed=5))
    assert not grey.flags.c_contiguous
    copy = np.ascontiguousarray(grey)
    assert _native.grey_stats(grey, block=block) == _native.grey_stats(copy, block=block)
    assert_matches_reference(copy.reshape(copy.shape[:2]), block)
