"""Image decoding by content, never by extension, with limits checked before any pixel is decoded.

Pillow reads only the header (format, size, EXIF orientation); OpenCV decodes the pixels, and
refuses truncated data instead of returning a half-grey image. JPEG goes through libjpeg-turbo
itself (simplejpeg), which says when the compressed data is corrupt: OpenCV's decoder keeps
libjpeg's warnings to itself and returns the image, grey or garbled from the damage on. Every
failure is an `InputError` whose message says why, so a scan can store it as that file's error
and go on.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from bqat.exceptions import InputError
from bqat.settings import get_settings

Sample = str | Path | bytes | np.ndarray

_EXIF_ORIENTATION = 0x0112
_WSQ_SOI = b"\xff\xa0\xff"  # WSQ: start of image, then the first marker
_PREFIX = 16  # bytes Pillow's format checks look at
# Most bytes per pixel any supported encoding can take (16-bit RGBA, uncompressed), plus room
# for metadata: a larger file cannot hold an image within the pixel limit.
_BYTES_PER_PIXEL = 8
_METADATA_BYTES = 16 * 1024 * 1024
# libjpeg's warnings that sound files give too: bytes skipped before a marker (some encoders pad
# before the end marker), an unknown JFIF version, a thumbnail of the wrong size. A file showing
# only these is decoded, so damage that shows as skipped bytes alone still passes. Any other
# warning means the compressed data broke off, and the pixels from there on are grey or garbage.
_PASSABLE_JPEG_WARNINGS = (
    "extraneous bytes before marker",
    "unknown JFIF revision",
    "thumbnail image size does not match",
)


@dataclass(frozen=True)
class DecodedImage:
    """Decoded pixels, upright, 8-bit: H x W x 3 BGR, or H x W grey when asked for grey."""

    pixels: np.ndarray
    format: str
    orientation: int
    source_mode: str

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def decode_image(
    sample: Sample, *, grey: bool = False, max_pixels: int | None = None, least_side: int = 0
) -> DecodedImage:
    """Decode a path, encoded bytes or a NumPy array into an upright 8-bit image.

    Files are sniffed by content (a JPEG named `.png` decodes). EXIF orientation is applied.
    Grey, grey+alpha, RGBA and 16-bit inputs become 8-bit BGR (or grey): 16-bit values are
    scaled by 255/65535 and transparent pixels are composited over white. NumPy arrays are taken
    as grey (H x W) or RGB(A) (H x W x 3|4), uint8 or uint16. Images with more than `max_pixels`
    (default: BQAT_MAX_IMAGE_PIXELS) pixels are refused before they are decoded.

    With `least_side`, a JPEG is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling,
    a fraction of the work of a full decode) when its longer side stays at least `least_side`
    pixels: for pictures that are shown small, never for measures.
    """
    limit = max_pixels if max_pixels is not None else get_settings().max_image_pixels
    if isinstance(sample, np.ndarray):
        return _from_array(sample, grey=grey, limit=limit)
    data = _read(sample, limit)
    fmt, mode, orientation, (width, height) = _sniff(data, limit)
    longer = max(width, height)
    reduced = next((f for f in (8, 4, 2) if longer // f >= least_side), 1) if least_side else 1
    if fmt == "WSQ":
        decoded = _decode_wsq(data)
    elif fmt == "JPEG":
        # Exactly 1/reduced: libjpeg-turbo's smallest scale whose sides (rounded up) reach these.
        least = {"min_width": -(-width // reduced), "min_height": -(-height // reduced)}
        decoded = _decode_jpeg(data, grey_source=mode in ("L", "LA"), size=least)
    else:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise InputError(f"cannot decode the {fmt} data: the file is corrupt or truncated")
    pixels = _to_8bit(decoded, channels_are_bgr=True, grey=grey)
    return DecodedImage(_upright(pixels, orientation), fmt, orientation, mode)


def _read(sample: str | Path | bytes, limit: int) -> bytes:
    """The encoded bytes. A file is read whole only after its first bytes look like an image
    and its size could hold one within the pixel limit: a huge file of anything else costs a
    few bytes of reading, not its size in memory."""
    if isinstance(sample, bytes | bytearray | memoryview):
        data = bytes(sample)
        if data:
            _check_prefix(data[:_PREFIX])
    else:
        path = Path(sample)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                prefix = handle.read(_PREFIX)
                if prefix:
                    _check_prefix(prefix)
                    _check_size(size, limit)
                data = prefix + handle.read()
        except FileNotFoundError:
            raise InputError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise InputError(f"is a directory, not a file: {path}") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise InputError("the file is empty")
    return data


def _check_prefix(prefix: bytes) -> None:
    """InputError unless the first bytes are WSQ's or match one of Pillow's image formats."""
    if _is_wsq(prefix):
        return
    Image.init()
    for factory_accept in list(Image.OPEN.values()):
        accept = factory_accept[1]
        try:
            result = accept(prefix) if accept is not None else False
        except (IndexError, TypeError, ValueError, struct.error):
            continue
        if result and not isinstance(result, str):  # a str is Pillow's "maybe, unsupported"
            return
    raise InputError(
        f"not a supported image: the content matches no image format (starts with {prefix[:8]!r})"
    )


def _check_size(size: int, limit: int) -> None:
    most = limit * _BYTES_PER_PIXEL + _METADATA_BYTES
    if size > most:
        raise InputError(
            f"the file has {size} bytes, more than an image within the limit of {limit} pixels "
            f"(BQAT_MAX_IMAGE_PIXELS) can take ({most} bytes); it was not read"
        )


def _sniff(data: bytes, limit: int) -> tuple[str, str, int, tuple[int, int]]:
    """Format, mode, EXIF orientation and (width, height) as stored, from the header alone; refuses
    oversized images."""
    if _is_wsq(data):
        _register_wsq()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                header = Image.open(io.BytesIO(data))
            except Image.DecompressionBombError:
                # Pillow's own limit (twice Image.MAX_IMAGE_PIXELS) refused it: read the header
                # without that check, so that our limit decides, with our message.
                header = _open_unchecked(data)
            with header:
                width, height = header.size
                fmt, mode = header.format or "unknown", header.mode
                orientation = _orientation(header, data)
    except UnidentifiedImageError:
        raise InputError(
            f"not a supported image: the content matches no image format (starts with {data[:8]!r})"
        ) from None
    except (OSError, SyntaxError, ValueError, struct.error, IndexError, TypeError) as exc:
        raise InputError(f"unreadable image header: {exc}") from None
    _check_pixels(width, height, limit)
    return fmt, mode, orientation, (width, height)


def _is_wsq(prefix: bytes) -> bool:
    """WSQ (FBI fingerprint compression): SOI, then a table, frame or comment marker."""
    return len(prefix) >= 4 and prefix.startswith(_WSQ_SOI) and 0xA2 <= prefix[3] <= 0xA8


def _register_wsq() -> None:
    """Make Pillow read WSQ through the `wsq` plugin (CeCILL-C, NBIS's codec)."""
    try:
        import wsq  # noqa: F401  (registers the plugin with Pillow on import)
    except ImportError:
        raise InputError("WSQ images need the wsq package (pip install wsq)") from None


def _decode_jpeg(data: bytes, *, grey_source: bool, size: dict[str, int]) -> np.ndarray:
    """JPEG pixels (BGR, or grey for a grey JPEG) at the least DCT scale of at least `size`
    (`min_width`, `min_height`), as OpenCV's decoder gives them (both are libjpeg-turbo); data
    that libjpeg reports corrupt is an `InputError` naming its warning."""
    colorspace = "GRAY" if grey_source else "BGR"
    try:
        return simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=True, **size)
    except ValueError as exc:
        warning = str(exc)
    if not any(passable in warning for passable in _PASSABLE_JPEG_WARNINGS):
        raise InputError(
            f"cannot decode the JPEG data: the file is corrupt or truncated ({warning})"
        )
    try:
        return simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=False, **size)
    except ValueError as exc:
        raise InputError(f"cannot decode the JPEG data: {exc}") from None


def _decode_wsq(data: bytes) -> np.ndarray | None:
    """WSQ pixels through Pillow (OpenCV has no WSQ codec); None when the data is corrupt."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return np.asarray(image.convert("L"))
    except Exception:  # the codec's own errors are untyped; the file is unusable either way
        return None


def _open_unchecked(data: bytes) -> Image.Image:
    """The image header as `Image.open` reads it, without its decompression-bomb check."""
    prefix = data[:_PREFIX]
    for fmt in list(Image.ID):
        factory, accept = Image.OPEN[fmt]
        try:
            result = accept(prefix) if accept is not None else False
            if not result or isinstance(result, str):
                continue
            return factory(io.BytesIO(data), None)  # type: ignore[no-any-return]
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue
    raise UnidentifiedImageError("no image format accepts the data")


def _orientation(header: Image.Image, data: bytes) -> int:
    if header.format == "PNG" and b"eXIf" not in data:
        # No EXIF chunk: Pillow's getexif() would decode every pixel looking for one after IDAT.
        return 1
    try:
        value = int(header.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1  # a damaged EXIF block does not make the pixels unusable
    return value if 1 <= value <= 8 else 1


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"image has no pixels ({width} x {height})")
    if width * height > limit:
        raise InputError(
            f"image is {width} x {height} = {width * height} pixels, above the limit of {limit} "
            "(BQAT_MAX_IMAGE_PIXELS)"
        )


def _from_array(array: np.ndarray, *, grey: bool, limit: int) -> DecodedImage:
    if array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"array must be uint8 or uint16, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))):
        raise InputError(
            f"array must be H x W, H x W x 1, H x W x 3 or H x W x 4, got {array.shape}"
        )
    _check_pixels(array.shape[1], array.shape[0], limit)
    pixels = _to_8bit(array, channels_are_bgr=False, grey=grey)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[1 if array.ndim == 2 else array.shape[2]]
    return DecodedImage(pixels, "array", 1, mode)


def _to_8bit(pixels: np.ndarray, *, channels_are_bgr: bool, grey: bool) -> np.ndarray:
    """8-bit, alpha composited over white, then BGR or grey."""
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise InputError(f"unsupported sample type {pixels.dtype}: only 8- and 16-bit images")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        pixels = _over_white(pixels)
    if pixels.ndim == 2:
        return pixels if grey else cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if grey:
        code = cv2.COLOR_BGR2GRAY if channels_are_bgr else cv2.COLOR_RGB2GRAY
        return cv2.cvtColor(pixels, code)
    return pixels if channels_are_bgr else np.ascontiguousarray(pixels[:, :, ::-1])


def _over_white(pixels: np.ndarray) -> np.ndarray:
    colour, alpha = pixels[:, :, :-1].astype(np.float32), pixels[:, :, -1:].astype(np.float32) / 255
    blended = colour * alpha + 255.0 * (1.0 - alpha)
    out = np.rint(blended).astype(np.uint8)
    return out[:, :, 0] if out.shape[2] == 1 else out


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation 2-8 (the transform that makes the stored pixels upright)."""
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: a.swapaxes(0, 1)[::-1],
    }
    if orientation == 1:
        return pixels
    return np.ascontiguousarray(transforms[orientation](pixels))


def require_bgr(image: object) -> np.ndarray:
    """`image` itself if it is a non-empty uint8 H x W x 3 array (BGR), else `InputError`."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a NumPy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise InputError(
            f"image must be uint8 H x W x 3 (BGR, as decode_image gives), "
            f"got {image.dtype} with shape {image.shape}"
        )
    return image
