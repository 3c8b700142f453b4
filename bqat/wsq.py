"""WSQ encoding of our own, for preprocessing's `format: wsq`.

The `wsq` package (NBIS's codec) stays our WSQ decoder, but its encoder fixes the bit rate and
records 500 ppi whatever the image. Ours (bqat._native, FBI IAFIS-IC-0110 v3.1) takes the bit
rate asked for and meets it in file size, and records the image's own resolution in the NISTCOM
comment, where readers (NBIS, bqat.engines.fingerprint.resolution) find it.
"""

from __future__ import annotations

import numpy as np

from bqat import _native

DEFAULT_BITRATE = 0.75  # bits per pixel: the FBI's usual rate, about 15:1
MIN_BITRATE, MAX_BITRATE = _native.WSQ_BITRATE_RANGE


def encode_wsq(pixels: np.ndarray, *, ppi: float, bitrate: float = DEFAULT_BITRATE) -> bytes:
    """The WSQ file of grey 8-bit `pixels` (H x W, 49 to 65535 px a side) at `bitrate` bits per
    pixel (the whole file within about 1 % of that size where the image allows), recording `ppi`
    (rounded to an integer). bqat.NativeError (a ValueError) for anything outside those ranges."""
    return _native.wsq_encode(pixels, bitrate=float(bitrate), ppi=float(ppi))
