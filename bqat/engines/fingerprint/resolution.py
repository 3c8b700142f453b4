"""The resolution policy: NFIQ 2 is defined on 8-bit grey images at 500 ppi.

- The `ppi` option, when given, is the resolution of the sample.
- Otherwise the file's own, when it is plausible for a fingerprint (300 to 5000 ppi): PNG pHYs,
  JPEG JFIF/EXIF density, TIFF and BMP resolution as Pillow reads them, WSQ's NISTCOM `PPI`
  (read here, since the WSQ plugin drops it).
- Otherwise 500 ppi is assumed: most scanners write no resolution or a display default (the
  sample BMPs say 96 dpi while their ridge spacing says 500).

A sample within 1 % of 500 ppi is taken as it is; any other is resampled to 500 ppi (area
averaging when reducing, bicubic when enlarging). NIST's tool resamples with its own library
(NFIR), so resampled images can differ from NIST by a point or two of score.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

TARGET_PPI = 500.0
PLAUSIBLE_PPI = (300.0, 5000.0)
TOLERANCE = 0.01  # within 1 % of 500 ppi: no resampling

_NISTCOM_PPI = re.compile(rb"(?:^|\n)PPI[ \t]+(-?\d+)")


@dataclass(frozen=True)
class Resolution:
    """The resolution a sample is taken at and where that value came from."""

    ppi: float
    source: str  # "option", "file" or "assumed"


def choose(option: float | None, header: float | None) -> Resolution:
    """The policy above: option, else a plausible header value, else 500."""
    if option is not None:
        return Resolution(float(option), "option")
    if header is not None and PLAUSIBLE_PPI[0] <= header <= PLAUSIBLE_PPI[1]:
        return Resolution(float(header), "file")
    return Resolution(TARGET_PPI, "assumed")


def header_ppi(data: bytes) -> float | None:
    """The horizontal resolution the encoded image declares, in ppi; None when it declares none."""
    if data[:2] == b"\xff\xa0":
        return wsq_ppi(data)
    if data[:2] == b"BM" and len(data) >= 42 and int.from_bytes(data[14:18], "little") >= 40:
        # BITMAPINFOHEADER and later: horizontal pixels per metre (read here: Pillow would
        # build the whole palette to say it)
        per_metre = int.from_bytes(data[38:42], "little", signed=True)
        return per_metre * 0.0254 if per_metre > 0 else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                dpi = image.info.get("dpi")
    except Exception:  # the decoder has accepted the file; a header we cannot read has no ppi
        return None
    if not dpi:
        return None
    try:
        value = float(dpi[0])
    except (TypeError, ValueError, IndexError):
        return None
    return value if value > 0 else None


def wsq_ppi(data: bytes) -> float | None:
    """`PPI n` of the NISTCOM comment (marker FFA8) of a WSQ file, scanning only the markers
    before the first block of coded data; None when absent or -1 (unknown)."""
    pos = 2  # after SOI
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xA3,):  # start of block: coded data follows
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            break
        if marker == 0xA8:
            found = _NISTCOM_PPI.search(data[pos + 4 : pos + 2 + length])
            if found and data[pos + 4 : pos + 12] == b"NIST_COM":
                value = int(found.group(1))
                return float(value) if value > 0 else None
        pos += 2 + length
    return None


def to_500ppi(grey: np.ndarray, ppi: float) -> np.ndarray:
    """`grey` resampled from `ppi` to 500 ppi (unchanged within 1 %)."""
    scale = TARGET_PPI / ppi
    if abs(scale - 1.0) <= TOLERANCE:
        return grey
    height = max(1, round(grey.shape[0] * scale))
    width = max(1, round(grey.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(grey, (width, height), interpolation=interpolation)
