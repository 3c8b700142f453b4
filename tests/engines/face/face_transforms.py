"""Image transforms for the equivariance tests, each with the map it applies to coordinates.

Coordinates are bqat's: continuous, origin at the top-left corner of the top-left pixel, so
pixel (i, j) has its centre at (j + 0.5, i + 0.5). OpenCV's warpAffine indexes pixel centres
instead, which the rotation below converts explicitly.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

PointMap = Callable[[np.ndarray], np.ndarray]


def rotate_expanded(image: np.ndarray, degrees: float) -> tuple[np.ndarray, PointMap]:
    """`image` rotated by `degrees` (counter-clockwise on screen) about its centre, on a canvas
    large enough to hold all of it, and the map of (n, 2) points from `image` to the result."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), degrees, 1.0)
    corners = np.array(
        [[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]]
    )
    placed = corners @ matrix.T
    low = np.floor(placed.min(axis=0))
    matrix[:, 2] -= low
    size = np.ceil(placed.max(axis=0) - low).astype(int) + 1
    rotated = cv2.warpAffine(image, matrix, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)

    def move(points: np.ndarray) -> np.ndarray:
        centres = np.asarray(points, np.float64)[:, :2] - 0.5  # warpAffine's pixel-centre indices
        return centres @ matrix[:, :2].T + matrix[:, 2] + 0.5

    return rotated, move


def mirror(image: np.ndarray) -> tuple[np.ndarray, PointMap]:
    """`image` flipped left to right, and the map of (n, 2) points: x -> width - x."""
    width = image.shape[1]

    def move(points: np.ndarray) -> np.ndarray:
        moved = np.asarray(points, np.float64)[:, :2].copy()
        moved[:, 0] = width - moved[:, 0]
        return moved

    return np.ascontiguousarray(image[:, ::-1]), move


def shrink_by_half(image: np.ndarray) -> tuple[np.ndarray, PointMap]:
    """`image` at half size (area averaging, even sizes only), and the map: x -> x / 2.

    The image is cropped to even sizes first so the halving is exact and the map has no offset.
    """
    height, width = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    half = cv2.resize(
        image[:height, :width], (width // 2, height // 2), interpolation=cv2.INTER_AREA
    )
    return half, lambda points: np.asarray(points, np.float64)[:, :2] / 2.0
