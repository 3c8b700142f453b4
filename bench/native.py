"""Times each native kernel against its NumPy/OpenCV reference on realistic sizes, in one process.

Run: make bench-native   (or .venv/bin/python bench/native.py)
Prints the median time of each and the speed-up ratio (reference / native).
Targets: >= 3x for the tensor path, >= 2x for the one-pass statistics and the perceptual hash,
>= 10x for the near-pair search, whose all-pairs reference is timed on a subset and extrapolated.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import scipy.fft

from bqat import _native

MEAN = np.array([104.0, 117.0, 123.0], np.float32)
STD = np.array([57.0, 57.0, 58.0], np.float32)
HASHES = 100_000
SUBSET = 5_000  # hashes the all-pairs reference is timed on


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def letterbox_reference(image: np.ndarray, size: int) -> np.ndarray:
    """The usual path into a detector: cv2.resize, pad, swap, normalise, transpose."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = int(np.floor(w * scale + 0.5)), int(np.floor(h * scale + 0.5))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[:nh, :nw] = resized
    rgb = canvas[:, :, ::-1].astype(np.float32)
    return np.ascontiguousarray(((rgb - MEAN) / STD).transpose(2, 0, 1))[None]


def crop_reference(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The usual landmark-model path: cv2.warpAffine, swap, scale to 0..1, NHWC."""
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    return (crop[:, :, ::-1].astype(np.float32) / 255.0)[None]


def stats_reference(grey: np.ndarray, block: int) -> dict[str, float]:
    """The separate NumPy/OpenCV calls the one-pass kernel replaces."""
    flat = grey.ravel()
    k = max(1, flat.size // 100)
    part = np.partition(flat, (k, flat.size - k))
    hist = np.bincount(flat, minlength=256) / flat.size
    nz = hist[hist > 0]
    h, w = grey.shape
    tiles = grey[: h - h % block, : w - w % block].reshape(h // block, block, w // block, block)
    return {
        "mean": float(grey.mean()),
        "std": float(grey.std()),
        "dynamic_range": float(part[-k:].mean() - part[:k].mean()),
        "laplacian_variance": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        "block_mean_std": float(tiles.mean(axis=(1, 3)).std()),
        "entropy": float(-(nz * np.log2(nz)).sum()),
    }


def phash_reference(grey: np.ndarray) -> int:
    """The usual NumPy path: cv2.resize INTER_AREA to 32 x 32, dct both ways, median, pack bits."""
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float64)
    low = scipy.fft.dct(scipy.fft.dct(small, axis=0), axis=1)[:8, :8]
    return int.from_bytes(np.packbits(low > np.median(low)).tobytes(), "big")


def near_pairs_reference(
    hashes: np.ndarray, max_distance: int, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair compared once, a block of rows against the hashes from that block on."""
    first, second = [], []
    for start in range(0, len(hashes), block):
        rows = hashes[start : start + block]
        i, j = np.nonzero(np.bitwise_count(rows[:, None] ^ hashes[None, start:]) <= max_distance)
        keep = i < j
        first.append(i[keep] + start)
        second.append(j[keep] + start)
    return np.concatenate(first), np.concatenate(second)


def main() -> None:
    rng = np.random.default_rng(7)
    image = cv2.GaussianBlur(rng.integers(0, 256, (1000, 1000, 3), dtype=np.uint8), (5, 5), 0)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    angle = np.deg2rad(12.0)
    side = 300.0 / 192
    matrix = np.array(
        [
            [side * np.cos(angle), -side * np.sin(angle), 350.0],
            [side * np.sin(angle), side * np.cos(angle), 300.0],
        ]
    )
    photo = cv2.GaussianBlur(rng.integers(0, 256, (1200, 1600), dtype=np.uint8), (5, 5), 0)
    hashes = np.frombuffer(rng.bytes(8 * HASHES), np.uint64)
    subset = hashes[:SUBSET]
    # All-pairs work grows as n (n - 1): the reference's time on the subset, scaled to all n.
    extrapolate = HASHES * (HASHES - 1) / (SUBSET * (SUBSET - 1))
    cases = [
        (
            "letterbox 1000x1000x3 -> 1x3x640x640 float32",
            lambda: _native.letterbox(
                image, 640, 640, mean=tuple(MEAN), std=tuple(STD), swap_rb=True
            ),
            lambda: letterbox_reference(image, 640),
            3.0,
            1.0,
        ),
        (
            "warp_crop 1000x1000x3 -> 1x192x192x3 float32",
            lambda: _native.warp_crop(
                image, matrix, 192, 192, std=(255.0,) * 3, swap_rb=True, layout="nhwc"
            ),
            lambda: crop_reference(image, matrix, 192),
            None,
            1.0,
        ),
        (
            "grey_stats 1000x1000 (6 statistics)",
            lambda: _native.grey_stats(grey, block=32),
            lambda: stats_reference(grey, 32),
            2.0,
            1.0,
        ),
        (
            "phash 1200x1600",
            lambda: _native.phash(photo),
            lambda: phash_reference(photo),
            2.0,
            1.0,
        ),
        (
            f"near_pairs {HASHES:,} hashes, max_distance 6",
            lambda: _native.near_pairs(hashes, 6),
            lambda: near_pairs_reference(subset, 6),
            10.0,
            extrapolate,
        ),
    ]
    print(f"{'kernel':48} {'native ms':>10} {'reference ms':>13} {'ratio':>7}  target")
    for name, native, reference, target, scale in cases:
        native_ms = median_ms(native, 60)
        reference_ms = median_ms(reference, 60) * scale
        ratio = reference_ms / native_ms
        verdict = (
            "" if target is None else f">= {target:.0f}x " + ("ok" if ratio >= target else "MISSED")
        )
        print(f"{name:48} {native_ms:10.3f} {reference_ms:13.3f} {ratio:6.2f}x  {verdict}")
        if scale != 1.0:
            print(f"{'':48} (reference extrapolated from {SUBSET:,} hashes, x{scale:.0f})")


if __name__ == "__main__":
    main()
