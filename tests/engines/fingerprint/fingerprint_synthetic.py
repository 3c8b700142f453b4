"""Synthetic fingerprints with a known orientation field and ridge period (test helpers)."""

from __future__ import annotations

import math

import numpy as np


def straight_ridges(
    height: int, width: int, period: float, angle: float, *, contrast: float = 100.0
) -> np.ndarray:
    """Parallel dark ridges of `period` px; `angle` is the direction across them (the grey-level
    gradient), radians, x right and y down."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = 2 * math.pi / period * (x * math.cos(angle) + y * math.sin(angle))
    return np.clip(np.rint(128 + contrast * np.cos(phase)), 0, 255).astype(np.uint8)


def circular_ridges(
    height: int,
    width: int,
    period: float,
    centre: tuple[float, float],
    *,
    seed: int = 0,
    noise: float = 8.0,
) -> np.ndarray:
    """Concentric ridges around `centre` (x, y), with Gaussian noise: the ridge direction at a
    point is perpendicular to the radius, and the period is `period` everywhere."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = np.hypot(x - centre[0], y - centre[1])
    image = 128 + 90 * np.cos(2 * math.pi * r / period)
    image += np.random.default_rng(seed).normal(0, noise, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def framed(image: np.ndarray, margin: int, value: int = 255) -> np.ndarray:
    """`image` inside a uniform frame (a white frame is what NIST trims)."""
    return np.pad(image, margin, constant_values=value)


def oval_print(height: int, width: int, period: float, *, seed: int = 0) -> np.ndarray:
    """Circular ridges inside an elliptical finger on a white background."""
    ridges = circular_ridges(height, width, period, (width * 0.45, height * 0.4), seed=seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    inside = ((x - width / 2) / (width * 0.42)) ** 2 + (
        (y - height / 2) / (height * 0.45)
    ) ** 2 <= 1
    return np.where(inside, ridges, 250).astype(np.uint8)


def spirals(
    height: int,
    width: int,
    period: float,
    points: list[tuple[float, float, int]],
    *,
    noise: float = 10.0,
    seed: int = 0,
) -> np.ndarray:
    """Horizontal ridges with one minutia at each (x, y, sign): a phase spiral of +-1 turn adds a
    ridge on one side of the point (sign +1 forks a ridge, -1 ends one, for these dark ridges)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = 2 * math.pi * y / period
    for x0, y0, sign in points:
        phase += sign * np.arctan2(y - y0, x - x0)
    image = 128 + 90 * np.cos(phase) + np.random.default_rng(seed).normal(0, noise, phase.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
