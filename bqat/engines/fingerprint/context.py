"""The frozen per-sample context of the fingerprint engine: every stage runs once.

Stages: read the bytes once → decode to 8-bit grey (colour converted) → the resolution policy
(resolution.py) → resample to 500 ppi → NIST's white-frame trim and its size limits → every
NFIQ 2 native feature and our minutiae in one native call → NIST's forest. Measures only read.

NIST's order of refusals is kept: an image that is empty (mean grey level above 250) or uniform
(grey-level std below 1) gets its actionable feedback and no features and no score; a feature
family NIST refuses (FDA on fewer than 10 foreground blocks, a histogram with no values) has its
reason, and without it there is no score either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bqat import _native
from bqat.decode import decode_image
from bqat.engines.fingerprint.forest import forest
from bqat.engines.fingerprint.options import FingerprintOptions
from bqat.engines.fingerprint.resolution import Resolution, choose, header_ppi, to_500ppi
from bqat.exceptions import InputError
from bqat.measures.image import ImageContext

# NFIQ 2's limits on the trimmed image at 500 ppi (FingerJetFX's, which NIST enforces for all).
MAX_WIDTH = 800
MAX_HEIGHT = 1000
# NIST's actionable-feedback thresholds (nfiq2_qualitymeasures_impl.cpp).
EMPTY_ABOVE = 250.0  # EmptyImageOrContrastTooLow: mean grey level
UNIFORM_BELOW = 1.0  # UniformImage: grey-level standard deviation
MINUTIAE_BELOW = 5.0  # FingerprintImageWithMinutiae
FOREGROUND_BELOW = 50000.0  # SufficientFingerprintForeground: ROI pixels

UNIFORM = "UniformImage"
EMPTY = "EmptyImageOrContrastTooLow"
WITH_MINUTIAE = "FingerprintImageWithMinutiae"
FOREGROUND = "SufficientFingerprintForeground"


@dataclass(frozen=True)
class Nfiq2:
    """NFIQ 2 on one sample: native features and feedback under NIST's names, and the score.

    `refused` says why NIST computes no feature (empty or uniform image) and is then also why
    there is no score; `family_errors` are the feature families NIST refuses ({"FDA": reason});
    `failure` is why there is no score (None when there is one).
    """

    features: dict[str, Any]
    feedback: dict[str, float | None]
    minutiae: dict[str, np.ndarray]
    score: int | None = None
    refused: str | None = None
    failure: str | None = None
    family_errors: dict[str, str] = field(default_factory=dict)
    trimmed: tuple[int, int] | None = None  # width, height of the trimmed 500 ppi image


@dataclass(frozen=True)
class FingerprintContext(ImageContext):
    """Everything the fingerprint measures read."""

    resolution: Resolution
    nfiq2: Nfiq2
    options: FingerprintOptions


def fingerprint_context(
    sample: Any, file: str | None, options: FingerprintOptions
) -> FingerprintContext:
    """Decode the sample (path, encoded bytes or array) and run every stage once."""
    image = decode_image(sample, grey=True)
    declared = None if isinstance(sample, np.ndarray) else header_ppi(_header(sample))
    resolution = choose(options.ppi, declared)
    grey = image.pixels
    return FingerprintContext(
        file=file,
        image=image,
        grey=grey,
        resolution=resolution,
        nfiq2=assess_nfiq2(to_500ppi(grey, resolution.ppi)),
        options=options,
    )


def _header(sample: Any) -> bytes:
    """The encoded bytes of a sample decode_image has accepted (so within its size limits):
    a TIFF may keep its resolution tags after the pixels."""
    if isinstance(sample, bytes | bytearray | memoryview):
        return bytes(sample)
    try:
        return Path(sample).read_bytes()
    except OSError:  # gone since it was decoded: no resolution to read
        return b""


def assess_nfiq2(grey: np.ndarray) -> Nfiq2:
    """NFIQ 2 of an 8-bit grey image at 500 ppi."""
    frame = _native.nfiq2_frame(grey)
    if not frame["ok"]:
        if "near-white" not in frame["reason"]:
            raise InputError(f"NFIQ 2 cannot take this image: {frame['reason']}")
        # Nothing but white frame: NIST stops there; the feedback still says why.
        mean, std = float(grey.mean()), float(grey.std())
        return _refused(mean, std, None, f"empty image or contrast too low ({frame['reason']})")
    width = frame["right"] - frame["left"] + 1
    height = frame["bottom"] - frame["top"] + 1
    if width > MAX_WIDTH or height > MAX_HEIGHT:
        raise InputError(
            f"the fingerprint is {width} x {height} px at 500 ppi once its white frame is "
            f"trimmed; NFIQ 2 takes at most {MAX_WIDTH} x {MAX_HEIGHT} px (FingerJetFX's limit)"
        )
    trimmed = grey[frame["top"] : frame["bottom"] + 1, frame["left"] : frame["right"] + 1]
    found = _native.nfiq2_assess(trimmed)
    mean, std = found["Mu"], found["UniformImage"]
    if mean > EMPTY_ABOVE or std < UNIFORM_BELOW:
        return _refused(mean, std, (width, height), None)
    minutiae = found.pop("minutiae")
    errors = found.pop("errors")
    feedback = {
        UNIFORM: std,
        EMPTY: mean,
        WITH_MINUTIAE: found[WITH_MINUTIAE],
        FOREGROUND: found[FOREGROUND],
    }
    failure = None
    score = None
    if errors:
        failure = "NFIQ 2 cannot score this image: " + "; ".join(
            f"{family}: {reason}" for family, reason in sorted(errors.items())
        )
    else:
        score = forest().score(found)
    return Nfiq2(found, feedback, minutiae, score, None, failure, errors, (width, height))


def _refused(mean: float, std: float, trimmed: tuple[int, int] | None, why: str | None) -> Nfiq2:
    if why is None:
        why = (
            f"empty image or contrast too low (mean grey level {mean:.1f} > {EMPTY_ABOVE:g})"
            if mean > EMPTY_ABOVE
            else f"uniform image (grey-level std {std:.2f} < {UNIFORM_BELOW:g})"
        )
    reason = f"{why}: NFIQ 2 computes no features"
    feedback = {UNIFORM: std, EMPTY: mean, WITH_MINUTIAE: None, FOREGROUND: None}
    return Nfiq2({}, feedback, {}, None, reason, reason, {}, trimmed)
