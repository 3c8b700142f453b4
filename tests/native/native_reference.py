"""Slow, independent references for the bqat._native kernels.

Everything here is written from the documented semantics with NumPy (explicit samplers and loops)
or taken from OpenCV; nothing calls the kernels under test.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest
import scipy.fft

Triple = Sequence[float]
ZEROS = (0.0, 0.0, 0.0)
ONES = (1.0, 1.0, 1.0)


def random_image(shape: tuple[int, ...], seed: int, smooth: bool = False) -> np.ndarray:
    """Uniform random uint8 pixels; `smooth` blurs them (for comparisons with cv2.warpAffine)."""
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    if smooth:
        image = cv2.GaussianBlur(image, (0, 0), 3.0).reshape(shape)
        # Stretch the blurred values back to most of the range so differences stay visible.
        low, high = int(image.min()), int(image.max())
        image = ((image.astype(np.float64) - low) * (250.0 / max(1, high - low))).astype(np.uint8)
    return image


def three_channels(image: np.ndarray) -> np.ndarray:
    """H x W x 3 float64 pixels as the kernels see them: grey replicated, alpha dropped."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return pixels[:, :, :3].astype(np.float64)


def to_tensor(
    pixels: np.ndarray,
    mean: Triple = ZEROS,
    std: Triple = ONES,
    swap_rb: bool = False,
    layout: str = "nchw",
) -> np.ndarray:
    """H x W x 3 pixel values -> a 1-sample float64 tensor: swap, normalise, lay out."""
    if swap_rb:
        pixels = pixels[:, :, ::-1]
    values = (pixels - np.asarray(mean, np.float64)) / np.asarray(std, np.float64)
    if layout == "nchw":
        values = values.transpose(2, 0, 1)
    return values[None]


def letterbox_geometry(height: int, width: int, out_height: int, out_width: int):
    """(scale, resized height, resized width) as documented for letterbox."""
    scale = min(out_width / width, out_height / height)
    nw = min(max(int(np.floor(width * scale + 0.5)), 1), out_width)
    nh = min(max(int(np.floor(height * scale + 0.5)), 1), out_height)
    return scale, nh, nw


def resize_bilinear(pixels: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
    """cv2.INTER_LINEAR's half-pixel bilinear resize, written out with explicit index arithmetic."""
    height, width = pixels.shape[:2]

    def taps(out_size: int, in_size: int):
        first, second, weight = [], [], []
        for i in range(out_size):
            f = (i + 0.5) * in_size / out_size - 0.5
            s = int(np.floor(f))
            w = f - s
            if s < 0:
                s, w = 0, 0.0
            if s >= in_size - 1:
                s, w = in_size - 1, 0.0
            first.append(s)
            second.append(min(s + 1, in_size - 1))
            weight.append(w)
        return np.array(first), np.array(second), np.array(weight)

    y0, y1, wy = taps(out_height, height)
    x0, x1, wx = taps(out_width, width)
    wx = wx[None, :, None]
    top = pixels[y0][:, x0] * (1 - wx) + pixels[y0][:, x1] * wx
    bottom = pixels[y1][:, x0] * (1 - wx) + pixels[y1][:, x1] * wx
    return top * (1 - wy[:, None, None]) + bottom * wy[:, None, None]


def letterbox_reference(
    image: np.ndarray,
    out_height: int,
    out_width: int,
    *,
    mean: Triple = ZEROS,
    std: Triple = ONES,
    swap_rb: bool = False,
    layout: str = "nchw",
    pad: float = 0.0,
    resize: str = "cv2",
) -> tuple[np.ndarray, float]:
    """The letterboxed tensor: cv2.resize on float32 (or the NumPy sampler), then the pad."""
    height, width = image.shape[:2]
    scale, nh, nw = letterbox_geometry(height, width, out_height, out_width)
    pixels = three_channels(image)
    if resize == "cv2":
        resized = cv2.resize(pixels.astype(np.float32), (nw, nh), interpolation=cv2.INTER_LINEAR)
        resized = resized.reshape(nh, nw, 3).astype(np.float64)
    else:
        resized = resize_bilinear(pixels, nh, nw)
    canvas = np.full((out_height, out_width, 3), pad, np.float64)
    canvas[:nh, :nw] = resized
    return to_tensor(canvas, mean, std, swap_rb, layout), scale


def warp_reference(
    image: np.ndarray,
    matrix: np.ndarray,
    out_height: int,
    out_width: int,
    *,
    mean: Triple = ZEROS,
    std: Triple = ONES,
    swap_rb: bool = False,
    layout: str = "nchw",
    border: float = 0.0,
) -> np.ndarray:
    """Bilinear samples of the source at M @ [x, y, 1]; taps outside the image read `border`."""
    src = three_channels(image)
    height, width = src.shape[:2]
    m = np.asarray(matrix, np.float64)
    ys, xs = np.mgrid[0:out_height, 0:out_width].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        sx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        sy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        x0, y0 = np.floor(sx), np.floor(sy)
        # A coordinate that overflowed (inf, nan) is outside: its taps read the border.
        wx = np.where(np.isfinite(sx), sx - x0, 0.0)[:, :, None]
        wy = np.where(np.isfinite(sy), sy - y0, 0.0)[:, :, None]

    def tap(tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
        values = np.full((out_height, out_width, 3), border, np.float64)
        inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
        values[inside] = src[ty[inside].astype(np.int64), tx[inside].astype(np.int64)]
        return values

    top = tap(x0, y0) * (1 - wx) + tap(x0 + 1, y0) * wx
    bottom = tap(x0, y0 + 1) * (1 - wx) + tap(x0 + 1, y0 + 1) * wx
    return to_tensor(top * (1 - wy) + bottom * wy, mean, std, swap_rb, layout)


def affine(angle_deg: float = 0.0, scale: float = 1.0, tx: float = 0.0, ty: float = 0.0):
    """Output -> source map: rotate by `angle_deg`, scale by `scale`, then translate by (tx, ty)."""
    a = np.deg2rad(angle_deg)
    return np.array(
        [
            [scale * np.cos(a), -scale * np.sin(a), tx],
            [scale * np.sin(a), scale * np.cos(a), ty],
        ]
    )


def grey_stats_reference(grey: np.ndarray, block: int) -> dict[str, float]:
    """Each statistic computed separately and plainly from its definition."""
    grey = np.ascontiguousarray(grey)
    values = grey.astype(np.float64)
    height, width = grey.shape
    ordered = np.sort(grey.ravel()).astype(np.float64)
    k = max(1, ordered.size // 100)
    means = []
    for top in range(0, height, block):
        for left in range(0, width, block):
            means.append(values[top : top + block, left : left + block].mean())
    hist = np.bincount(grey.ravel(), minlength=256) / grey.size
    p = hist[hist > 0]
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "dynamic_range": float(ordered[-k:].mean() - ordered[:k].mean()),
        "laplacian_variance": float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        "block_mean_std": float(np.std(means)),
        "entropy": float(-(p * np.log2(p)).sum()),
    }


def box_average_reference(grey: np.ndarray, size: int = 32) -> np.ndarray:
    """size x size box means of `grey`, each pixel weighted by the fraction of a box it covers."""

    def coverage(n: int) -> np.ndarray:
        weights = np.zeros((size, n))
        for box in range(size):
            begin, end = box * n / size, (box + 1) * n / size
            for pixel in range(int(np.floor(begin)), int(np.ceil(end))):
                weights[box, pixel] = min(end, pixel + 1) - max(begin, pixel)
        return weights / (n / size)

    height, width = grey.shape
    return coverage(height) @ grey.astype(np.float64) @ coverage(width).T


def phash_reference(grey: np.ndarray) -> tuple[int, int]:
    """(hash, decided): the DCT hash via scipy.fft.dct, and a mask of the bits it can vouch for.

    A coefficient within 1e-9 (relative to the largest) of the median is a tie that rounding may
    settle either way, so its bit is left out of `decided`.
    """
    low = scipy.fft.dct(scipy.fft.dct(box_average_reference(grey), axis=0), axis=1)[:8, :8].ravel()
    median = np.median(low)
    ties = np.abs(low - median) <= 1e-9 * np.abs(low).max()
    value = sum(1 << (63 - i) for i in range(64) if low[i] > median)
    decided = sum(1 << (63 - i) for i in range(64) if not ties[i])
    return value, decided


def random_hashes(count: int, seed: int) -> np.ndarray:
    """`count` uniformly random uint64 values."""
    return np.frombuffer(np.random.default_rng(seed).bytes(8 * count), np.uint64).copy()


def near_pairs_reference(
    hashes: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j in row-major order, their Hamming distances counted bit by bit, filtered."""
    first, second = np.triu_indices(len(hashes), 1)
    xor = (hashes[first] ^ hashes[second]).astype("<u8")
    distance = np.unpackbits(xor.view(np.uint8)).reshape(-1, 64).sum(axis=1)
    near = distance <= max_distance
    return first[near], second[near], distance[near].astype(np.uint8)


# Non-contiguous views of a 4-channel image: kernels must read them like their contiguous copy.
STRIDED_VIEWS = [
    pytest.param(lambda im: im[::2, 1:-1], id="every-other-row-cropped-columns"),
    pytest.param(lambda im: im[:, :, ::-1], id="channel-reversed"),
    pytest.param(lambda im: im[::-1, ::-3], id="flipped-strided"),
    pytest.param(lambda im: im.transpose(1, 0, 2), id="transposed"),
    pytest.param(lambda im: im[5:40, 7:60, :3], id="crop-of-4-channels"),
    pytest.param(lambda im: im[:, :, 1], id="one-channel-as-grey"),
    pytest.param(lambda im: im[:, :, 2:3], id="one-channel-hxwx1"),
]

# Non-contiguous grey views of a 3-channel image, for the kernels that take grey images.
GREY_VIEWS = [
    pytest.param(lambda im: im[::2, 1:-1, 0], id="every-other-row-cropped-columns"),
    pytest.param(lambda im: im[::-1, ::-3, 1], id="flipped-strided"),
    pytest.param(lambda im: im[:, :, 2], id="one-channel-of-colour"),
    pytest.param(lambda im: im[:, :, 0].T, id="transposed"),
    pytest.param(lambda im: im[3:50:3, ::5, 1:2], id="strided-hxwx1"),
]
