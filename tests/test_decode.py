"""Decoding: content sniffing, EXIF orientation, modes and depths, limits, and clear refusals.

Expected pixels come from Pillow (an independent decoder) or from synthetic images.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from bqat import InputError
from bqat.decode import _sniff, decode_image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def pillow_bgr(data: bytes) -> np.ndarray:
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    return np.asarray(upright)[:, :, ::-1]


@pytest.fixture
def quadrants() -> Image.Image:
    """An asymmetric 40 x 24 RGB image: every rotation and flip of it is distinguishable."""
    pixels = np.zeros((24, 40, 3), np.uint8)
    pixels[:12, :20] = (255, 0, 0)
    pixels[:12, 20:] = (0, 255, 0)
    pixels[12:, :20] = (0, 0, 255)
    pixels[12:, 20:] = (255, 255, 0)
    pixels[2:5, 2:9] = (255, 255, 255)
    return Image.fromarray(pixels)


def test_every_sample_image_decodes_like_pillow(samples: Path):
    files = [p for d in ("face", "fingerprint", "iris") for p in sorted((samples / d).iterdir())]
    assert len(files) >= 15
    for path in files:
        decoded = decode_image(path)
        expected = pillow_bgr(path.read_bytes())
        assert decoded.pixels.shape == expected.shape, path.name
        assert decoded.pixels.dtype == np.uint8
        # libjpeg versions differ in IDCT rounding by a grey level or two; lossless is exact.
        tolerance = 3 if decoded.format == "JPEG" else 0
        difference = np.abs(decoded.pixels.astype(int) - expected.astype(int))
        assert difference.max() <= tolerance, path.name


def test_a_jpeg_named_png_is_decoded_by_its_content(samples: Path):
    decoded = decode_image(samples / "iris" / "sample_0.png")
    assert decoded.format == "JPEG"
    assert decoded.pixels.ndim == 3


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_is_applied_like_pillow(quadrants, orientation, fmt):
    exif = Image.Exif()
    exif[0x0112] = orientation
    params = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    data = encode(quadrants, fmt, exif=exif, **params)
    decoded = decode_image(data)
    expected = pillow_bgr(data)
    assert decoded.orientation == orientation
    assert decoded.pixels.shape == expected.shape
    assert np.abs(decoded.pixels.astype(int) - expected.astype(int)).max() <= (
        8 if fmt == "JPEG" else 0
    )


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_jpeg_shown_small_is_decoded_at_an_eighth_upright(quadrants, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    large = quadrants.resize((400, 240), Image.Resampling.NEAREST)
    data = encode(large, "JPEG", exif=exif, quality=95)
    decoded = decode_image(data, least_side=40)  # 400 / 8 = 50 still >= 40
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    expected = np.asarray(upright.reduce(8))[:, :, ::-1]  # Pillow's 8 x 8 box average
    assert decoded.pixels.shape == expected.shape
    assert np.abs(decoded.pixels.astype(int) - expected.astype(int)).mean() < 4


def test_a_jpeg_is_reduced_only_as_far_as_its_least_side_allows(quadrants):
    data = encode(quadrants.resize((400, 240)), "JPEG", quality=95)
    assert decode_image(data, least_side=150).pixels.shape == (120, 200, 3)  # a half
    assert decode_image(data, least_side=300).pixels.shape == (240, 400, 3)  # whole
    grey = encode(quadrants.resize((400, 240)).convert("L"), "JPEG", quality=95)
    assert decode_image(grey, least_side=40, grey=True).pixels.shape == (30, 50)
    assert decode_image(grey, least_side=40).pixels.shape == (30, 50, 3)
    png = encode(quadrants.resize((400, 240)), "PNG")
    assert decode_image(png, least_side=40).pixels.shape == (240, 400, 3)  # JPEG only


def test_orientation_6_turns_a_landscape_image_into_a_portrait(quadrants):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated 90 degrees anticlockwise: display turns it clockwise
    decoded = decode_image(encode(quadrants, "PNG", exif=exif))
    assert (decoded.height, decoded.width) == (40, 24)
    # After a clockwise turn the red top-left quadrant lies at the top-right.
    assert tuple(decoded.pixels[15, 15]) == (0, 0, 255)


def test_grey_images_become_three_equal_channels_or_stay_grey_when_asked():
    grey = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    data = encode(grey, "PNG")
    colour = decode_image(data)
    assert colour.pixels.shape == (16, 16, 3)
    assert (colour.pixels == np.asarray(grey)[:, :, None]).all()
    assert (decode_image(data, grey=True).pixels == np.asarray(grey)).all()


def test_transparent_pixels_are_composited_over_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red
    rgba[:2, :, 3] = 255  # opaque top half
    rgba[2:, :, 3] = 0  # transparent bottom half
    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(decoded.pixels[0, 0]) == (0, 0, 200)
    assert tuple(decoded.pixels[3, 3]) == (255, 255, 255)


def test_half_transparent_grey_blends_halfway_to_white():
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 0] = 0
    la[..., 1] = 128
    decoded = decode_image(encode(Image.fromarray(la, "LA"), "PNG"), grey=True)
    assert decoded.pixels.shape == (2, 2)
    assert abs(int(decoded.pixels[0, 0]) - round(255 * (1 - 128 / 255))) <= 1


def test_sixteen_bit_images_scale_to_eight_bit():
    values = np.array([[0, 257 * 10, 257 * 128, 65535]], np.uint16)
    decoded = decode_image(encode(Image.fromarray(values), "PNG"), grey=True)
    assert decoded.pixels.tolist() == [[0, 10, 128, 255]]


def test_arrays_are_taken_as_rgb_and_returned_as_bgr():
    rgb = np.zeros((3, 5, 3), np.uint8)
    rgb[..., 0] = 255
    decoded = decode_image(rgb)
    assert decoded.format == "array"
    assert tuple(decoded.pixels[0, 0]) == (0, 0, 255)


def test_sixteen_bit_arrays_are_accepted():
    decoded = decode_image(np.full((2, 2), 65535, np.uint16), grey=True)
    assert decoded.pixels.tolist() == [[255, 255], [255, 255]]


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.zeros((4, 4), np.float32), "uint8 or uint16"),
        (np.zeros((4, 4, 2), np.uint8), "H x W"),
        (np.zeros(16, np.uint8), "H x W"),
        (np.zeros((0, 4), np.uint8), "no pixels"),
    ],
)
def test_unusable_arrays_are_input_errors(array, reason):
    with pytest.raises(InputError, match=reason):
        decode_image(array)


def test_images_above_the_pixel_limit_are_refused(quadrants):
    with pytest.raises(InputError, match="above the limit of 500"):
        decode_image(encode(quadrants, "PNG"), max_pixels=500)


def test_the_pixel_limit_comes_from_the_settings(quadrants, set_env):
    set_env(BQAT_MAX_IMAGE_PIXELS="100")
    with pytest.raises(InputError, match="BQAT_MAX_IMAGE_PIXELS"):
        decode_image(encode(quadrants, "PNG"))


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header announcing width x height grey pixels, with one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [20_000, 100_000])
def test_a_decompression_bomb_is_refused_from_its_header(side):
    with pytest.raises(InputError, match="limit"):
        decode_image(png_bomb(side, side), max_pixels=10_000_000)


def test_text_named_jpg_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n")
    with pytest.raises(InputError, match="not a supported image"):
        decode_image(path)


def test_an_empty_file_is_an_input_error(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        decode_image(path)


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        decode_image(tmp_path / "absent.jpg")


def test_a_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="directory"):
        decode_image(tmp_path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.98])
def test_truncated_jpeg_data_is_an_input_error(samples: Path, keep):
    data = (samples / "face" / "268625316_1.jpg").read_bytes()
    with pytest.raises(InputError):
        decode_image(data[: int(len(data) * keep)])


def noise_jpeg(mode: str = "RGB") -> bytes:
    """A JPEG of noise (every block codes many bits), without restart markers."""
    pixels = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    return encode(Image.fromarray(pixels).convert(mode), "JPEG", quality=90)


def scan_data(data: bytes) -> tuple[int, int]:
    """(start, end) of the compressed pixels: after the SOS header, up to the end marker."""
    sos = data.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big"), len(data) - 2


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_jpeg_pixels_are_opencvs(mode):
    """Independent reference: OpenCV's own JPEG decoder (the same libjpeg-turbo)."""
    data = noise_jpeg(mode)
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(decode_image(data, grey=mode == "L").pixels, expected)


@pytest.mark.parametrize("damage", ["end marker", "restart marker"])
def test_jpeg_data_that_breaks_off_is_refused_where_opencv_returns_an_image(damage):
    """A marker inside the compressed pixels ends them early: libjpeg fills the rest (grey),
    warns "premature end of data segment", and OpenCV returns that image without a word."""
    data = noise_jpeg()
    start, end = scan_data(data)
    middle = (start + end) // 2
    marker = b"\xff\xd9" if damage == "end marker" else b"\xff\xd3"
    broken = data[:middle] + marker + data[middle:]
    assert cv2.imdecode(np.frombuffer(broken, np.uint8), cv2.IMREAD_UNCHANGED) is not None
    warning = r"\(Corrupt JPEG data: premature end of data segment\)"
    with pytest.raises(InputError, match=r"corrupt or truncated " + warning):
        decode_image(broken)


def test_bytes_padded_before_the_end_marker_leave_the_image_as_it_is():
    """Some encoders pad before the end marker; libjpeg warns of extraneous bytes, and the
    pixels are all there."""
    data = noise_jpeg()
    padded = data[:-2] + b"\x00\x00\x00" + data[-2:]
    assert np.array_equal(decode_image(padded).pixels, decode_image(data).pixels)


def test_corrupt_png_data_is_an_input_error(quadrants):
    data = bytearray(encode(quadrants, "PNG"))
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = bytes(20)
    with pytest.raises(InputError):
        decode_image(bytes(data))


def test_wsq_decodes_to_its_grey_pixels_through_the_plugin():
    import wsq  # noqa: F401  (the Pillow plugin, a runtime dependency)

    ridges = np.tile((127 + 100 * np.sin(np.arange(96) / 1.5)).astype(np.uint8), (80, 1))
    data = encode(Image.fromarray(ridges), "WSQ")
    assert data[:2] == b"\xff\xa0"
    decoded = decode_image(data, grey=True)
    assert decoded.format == "WSQ" and decoded.pixels.shape == (80, 96)
    # WSQ is lossy: close to the original, and exactly what the codec returns through Pillow.
    assert np.abs(decoded.pixels.astype(int) - ridges).mean() < 6
    assert np.array_equal(decoded.pixels, np.asarray(Image.open(io.BytesIO(data))))


def test_corrupt_wsq_is_an_input_error_naming_it():
    with pytest.raises(InputError, match="WSQ"):
        decode_image(b"\xff\xa0\xff\xa8" + bytes(100))


def test_above_pillows_own_limit_the_refusal_is_ours():
    """Pillow refuses images over twice Image.MAX_IMAGE_PIXELS (~179 Mpx) with its own
    message; the refusal is ours, with the size and the setting, and a limit set above
    Pillow's is honoured."""
    with pytest.raises(
        InputError, match=r"30000 x 30000 = 900000000 pixels.*BQAT_MAX_IMAGE_PIXELS"
    ):
        decode_image(png_bomb(30_000, 30_000), max_pixels=100_000_000)
    assert _sniff(png_bomb(20_000, 10_000), 1_000_000_000) == ("PNG", "L", 1, (20_000, 10_000))


def test_a_huge_file_that_is_no_image_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "huge.jpg"
    with open(big, "wb") as handle:  # 1 GiB, sparse: costs no disk
        handle.truncate(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="not a supported image"):
            decode_image(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_a_file_too_large_for_any_image_within_the_limit_is_refused_unread(tmp_path):
    big = tmp_path / "huge.jpg"
    with open(big, "wb") as handle:
        handle.write(b"\xff\xd8\xff\xe0" + bytes(12))
        handle.truncate(64 << 20)
    with pytest.raises(InputError, match="it was not read"):
        decode_image(big, max_pixels=1_000)


def test_mp3_bytes_are_not_an_image():
    mp3 = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x64" * 100
    with pytest.raises(InputError, match="not a supported image"):
        decode_image(mp3)
