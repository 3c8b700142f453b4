"""Our minutiae extractor on synthetic ridges with minutiae at known places (known answers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fingerprint_synthetic import oval_print, spirals, straight_ridges

from bqat import _native

ENDING, BIFURCATION = 1, 2


def found(image: np.ndarray) -> list[tuple[int, int, int]]:
    m = _native.minutiae_extract(image)
    return list(zip(m["x"].tolist(), m["y"].tolist(), m["kind"].tolist(), strict=True))


@pytest.mark.parametrize(("sign", "kind"), [(1, BIFURCATION), (-1, ENDING)])
def test_one_minutia_is_found_where_it_is(sign, kind):
    image = spirals(220, 240, 9.0, [(120, 110, sign)], seed=sign + 5)
    (x, y, got), *others = found(image)
    assert not others
    assert math.hypot(x - 120, y - 110) <= 5
    assert got == kind


def test_two_minutiae_apart_are_both_found():
    """Opposite spirals 100 px apart bound one extra ridge: two endings of the same kind."""
    image = spirals(220, 280, 9.0, [(90, 110, 1), (190, 110, -1)], seed=3)
    minutiae = found(image)
    assert len(minutiae) == 2
    for cx in (90, 190):
        assert any(math.hypot(x - cx, y - 110) <= 5 for x, y, _ in minutiae)
    assert minutiae[0][2] == minutiae[1][2]


@pytest.mark.parametrize("angle", [0.3, 1.2, 2.5])
def test_clean_parallel_ridges_have_no_minutiae(angle):
    noisy = straight_ridges(200, 200, 9.0, angle).astype(float)
    noisy += np.random.default_rng(1).normal(0, 15, noisy.shape)
    assert found(np.clip(noisy, 0, 255).astype(np.uint8)) == []


def test_minutiae_lie_inside_the_print_with_a_quality():
    image = oval_print(300, 240, 9.0, seed=4)
    m = _native.minutiae_extract(image)
    assert len(m["x"]) > 0
    for x, y in zip(m["x"], m["y"], strict=True):
        assert 8 <= x < image.shape[1] - 8 and 8 <= y < image.shape[0] - 8
        assert image[y - 3 : y + 4, x - 3 : x + 4].min() < 200  # on ridges, not the background
    assert np.all((m["quality"] >= 0) & (m["quality"] <= 100))
    assert np.all((m["angle"] >= 0) & (m["angle"] < 2 * math.pi))
