"""Our WSQ encoder (bqat.wsq) against references that are not our code: NBIS's decoder (the `wsq`
package, through Pillow) reads every file back, NBIS's encoder in the same package sets the error
to match at equal size, and a NumPy filter bank written here checks one analysis level."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import wsq  # noqa: F401  (registers NBIS's codec with Pillow)
from PIL import Image

from bqat import _native
from bqat.engines.fingerprint.resolution import wsq_ppi
from bqat.wsq import DEFAULT_BITRATE, encode_wsq

# The standard's analysis filters, outermost tap first (as published, symmetric).
LOW = np.array([0.03782845550699546, -0.02384946501938000, -0.11062440441842342,
                0.37740285561265380, 0.85269867900940344, 0.37740285561265380,
                -0.11062440441842342, -0.02384946501938000, 0.03782845550699546])  # fmt: skip
HIGH = np.array([0.06453888262893845, -0.04068941760955844, -0.41809227322221221,
                 0.78848561640566439, -0.41809227322221221, -0.04068941760955844,
                 0.06453888262893845])  # fmt: skip


def ridges(height: int, width: int, noise: float = 8.0) -> np.ndarray:
    """A ridge pattern (period 9 px), with Gaussian noise of that standard deviation."""
    rows, cols = np.indices((height, width))
    wave = 127.5 + 100 * np.sin(2 * np.pi * (rows + 0.6 * cols) / 9)
    noise = np.random.default_rng(height * width).normal(0, noise, (height, width))
    return np.clip(wave + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def sample(samples: Path) -> np.ndarray:
    """A real plain impression, 240 x 320 at about 500 ppi."""
    with Image.open(samples / "fingerprint" / "00007_01.bmp") as image:
        return np.asarray(image.convert("L"))


def decoded(data: bytes) -> np.ndarray:
    """NBIS's reconstruction, checked to be a grey image."""
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode) == ("WSQ", "L")
        return np.asarray(image, dtype=float)


def rmse(data: bytes, image: np.ndarray) -> float:
    back = decoded(data)
    assert back.shape == image.shape
    return float(np.sqrt(np.mean((back - image) ** 2)))


def nbis_encoded(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="WSQ")
    return buffer.getvalue()


def bits_per_pixel(data: bytes, image: np.ndarray) -> float:
    return len(data) * 8 / image.size


def split_reference(x: np.ndarray, inverted: bool) -> np.ndarray:
    """One 9/7 analysis step along the last axis: low-pass at the even samples, high-pass at the
    odd ones, whole-sample symmetric extension (NumPy's 'reflect'), low half first unless
    inverted."""
    n = x.shape[-1]
    padded = np.pad(x.astype(float), [(0, 0)] * (x.ndim - 1) + [(4, 4)], mode="reflect")
    low = sum(LOW[k + 4] * padded[..., 4 + k : 4 + k + n : 2] for k in range(-4, 5))
    high = sum(HIGH[k + 3] * padded[..., 5 + k : 5 + k + 2 * (n // 2) : 2] for k in range(-3, 4))
    return np.concatenate([high, low] if inverted else [low, high], axis=-1)


@pytest.mark.parametrize("shape", [(9, 14), (16, 7), (4, 5), (2, 3)])
@pytest.mark.parametrize(("invert_x", "invert_y"), [(False, False), (True, False), (False, True)])
def test_one_analysis_level_equals_the_numpy_filter_bank(shape, invert_x, invert_y):
    plane = np.random.default_rng(sum(shape)).normal(0, 50, shape).astype(np.float32)
    expected = split_reference(split_reference(plane, invert_x).T, invert_y).T
    ours = _native.wsq_analyse(plane, invert_x=invert_x, invert_y=invert_y)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-3)


def test_the_filters_pass_a_constant_to_the_low_band_only():
    ours = _native.wsq_analyse(np.full((6, 8), 10.0, np.float32))
    np.testing.assert_allclose(ours[:3, :4], 20.0, rtol=1e-6)  # gain sqrt(2) on each axis
    np.testing.assert_allclose(ours[3:, :], 0.0, atol=1e-5)
    np.testing.assert_allclose(ours[:, 4:], 0.0, atol=1e-5)


@pytest.mark.parametrize("real", [True, False], ids=["sample", "ridges"])
def test_nbis_decodes_ours_no_worse_than_its_own_at_equal_size(sample, real):
    image = sample if real else ridges(257, 311)
    theirs = nbis_encoded(image)
    ours = encode_wsq(image, ppi=500, bitrate=bits_per_pixel(theirs, image))
    assert len(ours) == pytest.approx(len(theirs), rel=0.02)
    # measured: sample 5.845 (ours) vs 5.866 (NBIS), noisy ridges 8.357 vs 8.357
    assert rmse(ours, image) <= 1.05 * rmse(theirs, image)


def test_the_file_meets_the_bit_rate_and_more_bits_cost_less_error(sample):
    image = sample
    errors = []
    for bitrate in (0.5, 0.75, 1.5, 2.25):
        data = encode_wsq(image, ppi=500, bitrate=bitrate)
        assert bits_per_pixel(data, image) == pytest.approx(bitrate, rel=0.02)  # measured 0.5 %
        errors.append(rmse(data, image))
    assert errors == sorted(errors, reverse=True)
    assert errors[0] < 8 and errors[-1] < 2  # measured 6.9 and 1.7


def test_the_default_rate_is_the_fbis_usual():
    image = ridges(300, 260)
    assert DEFAULT_BITRATE == 0.75
    assert bits_per_pixel(encode_wsq(image, ppi=500), image) == pytest.approx(0.75, rel=0.02)


@pytest.mark.parametrize("ppi", [500, 381, 1000])
def test_the_nistcom_records_the_resolution_given(ppi):
    image = ridges(120, 100)
    data = encode_wsq(image, ppi=ppi + 0.4, bitrate=1.5)
    assert wsq_ppi(data) == ppi
    comment = data[data.index(b"NIST_COM") : data.index(b"\xff\xa4")].decode()
    assert comment.split("\n") == [
        "NIST_COM 9",
        "PIX_WIDTH 100",
        "PIX_HEIGHT 120",
        "PIX_DEPTH 8",
        f"PPI {ppi}",
        "LOSSY 1",
        "COLORSPACE GRAY",
        "COMPRESSION WSQ",
        "WSQ_BITRATE 1.500000",
    ]


def test_a_constant_image_comes_back_exact():
    image = np.full((64, 80), 77, np.uint8)
    assert np.array_equal(decoded(encode_wsq(image, ppi=500)), image)


@pytest.mark.parametrize("shape", [(257, 311), (311, 257), (49, 49), (49, 200)])
def test_odd_and_smallest_sizes_decode_within_the_codecs_error(shape):
    image = ridges(*shape, noise=0.0)  # noise would land in the diagonal quarter WSQ drops
    data = encode_wsq(image, ppi=500, bitrate=8.0)
    assert rmse(data, image) < 2.5  # measured 0.3 to 1.3


def test_any_strides_give_the_same_file_as_a_contiguous_copy(sample):
    view = sample[::2, ::-1]
    assert encode_wsq(view, ppi=250) == encode_wsq(np.ascontiguousarray(view), ppi=250)


@pytest.mark.parametrize(
    ("image", "options", "message"),
    [
        (ridges(64, 64), {"bitrate": 0.05}, "bitrate must be 0.1 to 8 bits per pixel, got 0.05"),
        (ridges(64, 64), {"bitrate": 9.0}, "bitrate must be 0.1 to 8 bits per pixel, got 9"),
        (ridges(64, 64), {"bitrate": float("nan")}, "bitrate must be 0.1 to 8"),
        (ridges(64, 64), {"ppi": 0.0}, "ppi must be 1 to 100000, got 0"),
        (ridges(64, 64), {"ppi": float("inf")}, "ppi must be 1 to 100000, got inf"),
        (ridges(48, 64), {}, "49 to 65535 pixels on each side, got 64 x 48"),
        (ridges(64, 64).astype(np.float32), {}, "image must be uint8, got float32"),
        (np.zeros((64, 64, 3), np.uint8), {}, "image must be H x W (grey)"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(image, options, message):
    with pytest.raises(ValueError, match="wsq_encode: ") as raised:
        encode_wsq(image, **{"ppi": 500, **options})
    assert message in str(raised.value)


def test_encoding_releases_the_gil(main_thread_ran_during):
    image = ridges(1000, 1000)
    assert main_thread_ran_during(lambda: encode_wsq(image, ppi=500))
