"""Small thumbnails of stored samples, as data URIs for self-contained reports.

Images are scaled down (JPEG); a modality whose samples are not images has its engine draw one
(speech: the waveform, PNG), through the same entry point.

A stored row names its file relative to the folder it was scanned from; the dataset remembers
those folders. A file is shown only when it still has the content that was assessed (same
sha256): a thumbnail of a file changed since would show what was not measured.
"""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np

from bqat.confinement import is_inside
from bqat.decode import decode_image
from bqat.engines import get_engine
from bqat.exceptions import InputError
from bqat.hashing import file_sha256

THUMBNAIL_SIDE = 112
JPEG_QUALITY = 80
_MIME = {".jpg": "image/jpeg", ".png": "image/png"}


def sample_path(sources: list[Path], file: str, sha256: str | None) -> Path | None:
    """The file named `file` in one of `sources` whose content hashes to `sha256`, or None."""
    if sha256 is None:
        return None
    for source in reversed(sources):  # the latest scan is the likeliest to still hold it
        candidate = source / file
        if not is_inside(candidate, [source]):  # loop-safe: a link may have replaced the file
            continue
        try:
            if candidate.is_file() and file_sha256(candidate) == sha256:
                return candidate
        except OSError:
            continue
    return None


def thumbnail_uri(path: Path, modality: str, side: int = THUMBNAIL_SIDE) -> str | None:
    """A picture of the `modality` sample at `path` within `side` x `side`, as a data URI: the
    image scaled down (JPEG), or what the engine draws of it (PNG); None if unreadable."""
    draw = get_engine(modality).thumbnail
    try:
        if draw is not None:
            return _data_uri(".png", draw(path, side), [])
        pixels = decode_image(path, least_side=side).pixels
    except (InputError, OSError):
        return None
    scale = min(1.0, side / max(pixels.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    return _data_uri(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


def _data_uri(extension: str, pixels: np.ndarray, parameters: list[int]) -> str | None:
    ok, encoded = cv2.imencode(extension, pixels, parameters)
    if not ok:
        return None
    mime = _MIME[extension]
    return f"data:{mime};base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
