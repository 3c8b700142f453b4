"""`reduce_grey`: the reduced image and its `factor` describe the same geometry.

Independent reference: a linear ramp. Area averaging and bilinear resampling both reproduce a
linear function exactly away from the borders, so a reduced pixel whose centre lies at u + 0.5
(reduced coordinates) must read the ramp at (u + 0.5) / factor in original coordinates, where
original pixel j (centre j + 0.5) holds 2 j, exactly (even values keep every block mean whole,
so rounding to 8 bits adds no bias). Every reduced pixel must then hold its value within 0.75
grey levels (0.5 of them the rounding to 8 bits); a shift by half an original pixel moves them
by 1, and a factor off by one original pixel in 120 (a size rounded per axis, or the other
axis's factor) moves the far ones by 1.7.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bqat.engines.face.context import reduce_grey

SIZES = [(101, 117), (100, 116), (125, 127)]
SCALES = [0.6, 0.45, 0.3, 0.2, 0.15]


@pytest.mark.parametrize("height, width", SIZES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("axis", [0, 1])
def test_the_reduced_image_reads_the_original_where_its_factor_maps(height, width, scale, axis):
    values = 2 * np.arange((height, width)[axis])
    grey = np.broadcast_to(values[:, None] if axis == 0 else values[None, :], (height, width))
    reduced = reduce_grey(np.ascontiguousarray(grey, np.uint8), scale)

    profile = reduced.grey.astype(np.float64).mean(axis=1 - axis)
    original = (np.arange(profile.size) + 0.5) / reduced.factor
    expected = 2.0 * (original - 0.5)
    inner = slice(2, profile.size - 2)  # bilinear resampling replicates the border pixels
    assert np.abs(profile[inner] - expected[inner]).max() <= 0.75


def test_no_reduction_at_or_above_scale_one():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    reduced = reduce_grey(grey, 1.0)
    assert reduced.factor == 1.0 and reduced.grey is grey


def test_an_image_thinner_than_one_block_still_reduces():
    grey = np.full((3, 400), 77, np.uint8)
    reduced = reduce_grey(grey, 0.1)  # a 10 x 10 block is taller than the image
    assert reduced.grey.shape == (1, 40) and reduced.factor == pytest.approx(0.1)
    assert np.all(reduced.grey == 77)


@pytest.mark.parametrize("scale", [0.45, 0.3, 0.2])
def test_a_partial_last_block_changes_no_reduced_pixel(scale, samples):
    """The same photo one column and one row wider (less than one block) reduces to the same
    pixels: the filter is the same everywhere, whatever the size. An area resize to a size that
    is not a whole fraction drifts its windows across the image (a 1227 px side halved to 613
    blurred the middle by half a pixel: Laplacian variance -10 %)."""
    photo = cv2.imread(str(sorted((samples / "face").glob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE)
    step = int(1.0 / scale)
    height, width = (side - side % step - step for side in photo.shape)
    exact = reduce_grey(np.ascontiguousarray(photo[:height, :width]), scale)
    wider = reduce_grey(np.ascontiguousarray(photo[: height + 1, : width + 1]), scale)
    assert wider.grey.shape == exact.grey.shape
    assert np.array_equal(wider.grey, exact.grey)
