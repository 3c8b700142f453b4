"""The perceptual hash every image record carries, for duplicate detection across a dataset."""

from __future__ import annotations

import numpy as np

from bqat import _native

PHASH_COLUMN = "phash"
PHASH_DESCRIPTION = (
    "64-bit perceptual hash of the grey image (sign of the 8 x 8 lowest DCT frequencies of "
    "the 32 x 32 box-averaged image against their median), 16 hex digits. Copies that are "
    "re-encoded, resized or lightly edited differ in few bits."
)


def image_phash(grey: np.ndarray) -> str:
    """The stored form of a grey image's perceptual hash: 16 lower-case hex digits."""
    return f"{_native.phash(grey):016x}"
