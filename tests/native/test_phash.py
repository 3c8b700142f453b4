"""bqat._native.phash and near_pairs against NumPy references and answers derived by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from native_reference import (
    GREY_VIEWS,
    near_pairs_reference,
    phash_reference,
    random_hashes,
    random_image,
)

from bqat import _native

ALL_BITS = 2**64 - 1


def bit(row: int, col: int) -> int:
    """The hash bit of DCT coefficient (row, col): row-major, the first coefficient highest."""
    return 1 << (63 - (8 * row + col))


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def assert_phash_matches_reference(grey: np.ndarray) -> int:
    """Asserts the bits the reference decides; returns the mask of those bits."""
    value = _native.phash(grey)
    assert isinstance(value, int)
    assert 0 <= value <= ALL_BITS
    copy = np.ascontiguousarray(grey).reshape(grey.shape[:2])
    expected, decided = phash_reference(copy)
    assert value & decided == expected & decided, f"{value:016x} != {expected:016x}"
    return decided


@pytest.mark.parametrize(
    "shape",
    [(32, 32), (64, 64), (31, 33), (100, 37), (257, 301), (480, 640), (7, 13), (13, 7), (5, 5)],
)
def test_phash_matches_the_reference_on_random_images(shape):
    # Random pixels leave no coefficient near the median: every bit is decided, so all must agree.
    grey = random_image(shape, seed=shape[0] * 7 + shape[1])
    assert assert_phash_matches_reference(grey) == ALL_BITS


@pytest.mark.parametrize("shape", [(1, 40), (40, 1), (2, 3), (3, 2), (4, 9), (2, 2)])
def test_phash_matches_the_reference_where_blocky_images_leave_exact_zeros(shape):
    # Few source rows or columns make whole rows of coefficients exactly 0 in the kernel and
    # rounding noise in scipy; only the bits the reference can decide are compared.
    decided = assert_phash_matches_reference(random_image(shape, seed=shape[0] + 5 * shape[1]))
    assert decided.bit_count() >= 8


@pytest.mark.parametrize("view", GREY_VIEWS)
def test_phash_reads_non_contiguous_views_like_their_contiguous_copy(view):
    grey = view(random_image((97, 131, 3), seed=5))
    assert not grey.flags.c_contiguous
    assert _native.phash(grey) == _native.phash(np.ascontiguousarray(grey))
    assert assert_phash_matches_reference(grey) == ALL_BITS


@pytest.mark.parametrize(
    ("rows", "cols"),
    [(1, 3), (5, 1), (4, 7), pytest.param(2**20, 1, id="taller-than-the-uint32-column-sums")],
)
def test_phash_of_an_image_enlarged_by_whole_factors_is_unchanged(rows, cols):
    # Each box then covers the same pixels in the same proportions: the box sums scale by
    # rows x cols exactly, and so does the area they are divided by. At 2^20 x 37 rows the
    # weighted column sums of a box would pass 2^32, so the kernel folds them part-way.
    grey = random_image((37, 2), seed=rows + cols)
    enlarged = np.repeat(np.repeat(grey, rows, axis=0), cols, axis=1)
    assert _native.phash(enlarged) == _native.phash(grey)


def test_phash_takes_a_grey_h_x_w_x_1_image_like_h_x_w():
    grey = random_image((45, 61), seed=4)
    assert _native.phash(grey[:, :, None]) == _native.phash(grey)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (6, 1), (7, 13), (32, 32), (100, 37)])
@pytest.mark.parametrize("value", [1, 77, 255])
def test_phash_of_a_constant_image_sets_only_the_dc_bit(shape, value):
    # Only the DC coefficient is non-zero: the median of 63 zeros and one positive value is 0,
    # and only the DC coefficient exceeds it.
    assert _native.phash(np.full(shape, value, np.uint8)) == bit(0, 0) == 0x8000000000000000


def test_phash_of_a_black_image_is_zero():
    assert _native.phash(np.zeros((20, 30), np.uint8)) == 0


def half_bright(side: str) -> np.ndarray:
    """A 40 x 30 image, 255 on the given half and 0 on the other."""
    grey = np.zeros((40, 30), np.uint8)
    halves = {"top": np.s_[:20], "bottom": np.s_[20:], "left": np.s_[:, :15]}
    grey[halves[side]] = 255
    return grey


# Bright over dark: the box average is 16 rows of 255 over 16 rows of 0, so column 0 of the DCT is
# a positive multiple of sum_{n < 16} cos(pi k (2n + 1) / 64) = sin(pi k / 2) / (2 sin(pi k / 64))
# for k > 0: 0 for even k, positive for k = 1 and 5, negative for 3 and 7. Every other column is
# 0, so the median is 0 and the bits are the DC and the positive ones.
@pytest.mark.parametrize(
    ("side", "expected"),
    [
        ("top", bit(0, 0) | bit(1, 0) | bit(5, 0)),
        ("bottom", bit(0, 0) | bit(3, 0) | bit(7, 0)),
        ("left", bit(0, 0) | bit(0, 1) | bit(0, 5)),
    ],
)
def test_phash_of_a_half_bright_image_is_known(side, expected):
    assert _native.phash(half_bright(side)) == expected


def test_phash_hex_digits_read_the_coefficients_row_by_row():
    # As imagehash's phash string: digit 1 holds coefficients (0, 0..3), digit 3 (1, 0..3).
    assert f"{_native.phash(half_bright('top')):016x}" == "8080000000800000"
    assert f"{_native.phash(half_bright('left')):016x}" == "c400000000000000"


@pytest.mark.parametrize("frequency", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("sign", [1, -1])
def test_phash_of_a_vertical_cosine_marks_its_frequency(frequency, sign):
    # 64 rows, two per sample of cos(pi k (2n + 1) / 64): the box average is that cosine (rounded
    # to uint8), so its energy sits in coefficient (k, 0); the rows are constant, so every column
    # but column 0 is exactly 0 and the median is 0.
    n = np.arange(64) // 2
    rows = np.rint(128 + sign * 100 * np.cos(np.pi * frequency * (2 * n + 1) / 64))
    grey = np.repeat(rows[:, None], 48, axis=1).astype(np.uint8)
    value = _native.phash(grey)
    assert value & bit(0, 0)
    assert bool(value & bit(frequency, 0)) == (sign > 0)
    assert value & ~sum(bit(k, 0) for k in range(8)) == 0
    assert_phash_matches_reference(grey)
    # The same pattern across the columns marks the transposed coefficient.
    across = _native.phash(grey.T)
    assert bool(across & bit(0, frequency)) == (sign > 0)
    assert across & ~sum(bit(0, k) for k in range(8)) == 0


@pytest.mark.parametrize("seed", range(6))
def test_phash_survives_resizing_and_jpeg_but_tells_unrelated_images_apart(seed):
    grey = random_image((240, 320), seed=seed, smooth=True)
    value = _native.phash(grey)
    half = cv2.resize(grey, (160, 120), interpolation=cv2.INTER_AREA)
    double = cv2.resize(grey, (640, 480), interpolation=cv2.INTER_LINEAR)
    ok, jpeg = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    recompressed = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
    for copy in (half, double, recompressed):
        assert distance(value, _native.phash(copy)) <= 4
    other = random_image((240, 320), seed=seed + 100, smooth=True)
    assert distance(value, _native.phash(other)) >= 16


def planted_hashes(seed: int, max_distance: int) -> np.ndarray:
    """~2000 random hashes with near copies (0..max_distance bits flipped) and exact repeats."""
    rng = np.random.default_rng(seed)
    hashes = list(random_hashes(1500, seed))
    for source in rng.choice(1500, 300, replace=False):
        flips = rng.choice(64, rng.integers(0, max_distance + 1), replace=False)
        hashes.append(hashes[source] ^ np.uint64(sum(1 << int(f) for f in flips)))
    hashes += [hashes[i] for i in rng.choice(len(hashes), 150)]
    hashes += [hashes[7]] * 5
    return rng.permutation(np.array(hashes, np.uint64))


def assert_pairs_match_reference(hashes: np.ndarray, max_distance: int) -> int:
    """Asserts the kernel lists the brute-force pairs exactly; returns how many there are."""
    first, second, dist = _native.near_pairs(hashes, max_distance)
    assert (first.dtype, second.dtype, dist.dtype) == (np.int64, np.int64, np.uint8)
    expected = near_pairs_reference(np.ascontiguousarray(hashes), max_distance)
    np.testing.assert_array_equal(first, expected[0])
    np.testing.assert_array_equal(second, expected[1])
    np.testing.assert_array_equal(dist, expected[2])
    return len(first)


@pytest.mark.parametrize("max_distance", [0, 1, 3, 6, 10, 32])
def test_near_pairs_match_brute_force(max_distance):
    hashes = planted_hashes(max_distance, max_distance)
    # At least the 300 near copies, the 150 repeats and the 5 extra copies of one hash.
    assert assert_pairs_match_reference(hashes, max_distance) >= 455


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(lambda h: h[::3], id="every-third"),
        pytest.param(lambda h: h[::-1], id="reversed"),
        pytest.param(
            lambda h: np.frombuffer(b"\0" + h.tobytes(), np.uint64, offset=1), id="unaligned"
        ),
    ],
)
def test_near_pairs_read_views_like_their_contiguous_copy(view):
    hashes = view(planted_hashes(11, 4))
    assert not (hashes.flags.c_contiguous and hashes.flags.aligned)
    assert assert_pairs_match_reference(hashes, 4) > 0


@pytest.mark.parametrize("count", [0, 1])
def test_near_pairs_of_fewer_than_two_hashes_are_empty(count):
    first, second, dist = _native.near_pairs(random_hashes(count, 1), 5)
    assert (first.dtype, second.dtype, dist.dtype) == (np.int64, np.int64, np.uint8)
    assert first.shape == second.shape == dist.shape == (0,)


def test_near_pairs_of_one_value_repeated_pair_every_position():
    first, second, dist = _native.near_pairs(np.full(40, 12345, np.uint64), 0)
    expected = np.triu_indices(40, 1)
    np.testing.assert_array_equal(first, expected[0])
    np.testing.assert_array_equal(second, expected[1])
    assert not dist.any()


def test_near_pairs_at_the_largest_distance_stop_at_32_bits():
    # Low half set, all set, high half set: 32 bits from their neighbours, 64 from the opposite.
    hashes = np.array([0, 2**32 - 1, 2**64 - 1, 2**64 - 2**32], np.uint64)
    first, second, dist = _native.near_pairs(hashes, 32)
    assert list(zip(first.tolist(), second.tolist(), dist.tolist(), strict=True)) == [
        (0, 1, 32),
        (0, 3, 32),
        (1, 2, 32),
        (2, 3, 32),
    ]


def test_near_pairs_find_exactly_the_planted_pairs_among_many_random_hashes():
    # Two random hashes fall within 4 bits with probability ~4e-14: among 200 000 of them the
    # only near pairs are the planted ones, which brute force could not check in a test's time.
    rng = np.random.default_rng(3)
    hashes = random_hashes(200_000, 3)
    sources = rng.choice(199_000, 1000, replace=False)
    planted = {}
    for target, source in zip(range(199_000, 200_000), sources, strict=True):
        flips = rng.choice(64, rng.integers(1, 5), replace=False)
        hashes[target] = hashes[source] ^ np.uint64(sum(1 << int(f) for f in flips))
        planted[(int(source), target)] = len(flips)
    first, second, dist = _native.near_pairs(hashes, 4)
    found = {(int(i), int(j)): int(d) for i, j, d in zip(first, second, dist, strict=True)}
    assert found == planted
