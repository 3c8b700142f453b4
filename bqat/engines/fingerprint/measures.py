"""The fingerprint record: every field declared once, in record order, with its rule.

`nfiq2` is NIST NFIQ 2 v2.3's unified score from NIST's forest over the 69 native features, which
follow under NIST's names in snake_case (CamelCase words split, upper-case runs kept whole:
FDA_Bin10_StdDev -> fda_bin10_std_dev, FingerJetFX_MinCount_COMMinRect200x200 ->
finger_jet_fx_min_count_com_min_rect200x200). Features are taken on the grey image at 500 ppi with
its near-white frame trimmed (NIST's order). Where we differ from NIST: the minutiae features come
from our extractor, not FingerJetFX (counts differ by tens of per cent, the others follow), and a
resampled image is resampled by OpenCV, not NIST's NFIR.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from bqat.engines.fingerprint.context import (
    EMPTY,
    EMPTY_ABOVE,
    FOREGROUND,
    FOREGROUND_BELOW,
    MINUTIAE_BELOW,
    UNIFORM,
    UNIFORM_BELOW,
    WITH_MINUTIAE,
    FingerprintContext,
)
from bqat.engines.fingerprint.forest import FEATURES
from bqat.exceptions import MeasureError
from bqat.measures import Measure
from bqat.measures.common import file_measure
from bqat.measures.image import PIXELS, image_size_measures, phash_measure

MODALITY = "fingerprint"
CLAUSE = "ISO/IEC 29794-4 / NFIQ 2 v2.3"
GREY = "grey level"

# NIST's histogram boundaries; bin i holds the values v with limits[i - 1] <= v < limits[i].
LIMITS: dict[str, tuple[float, ...]] = {
    "FDA": (0.268, 0.304, 0.33, 0.355, 0.38, 0.407, 0.44, 0.50, 1.0),
    "LCS": (0.0, 0.70, 0.74, 0.77, 0.79, 0.81, 0.83, 0.85, 0.87),
    "OCL": (0.337, 0.479, 0.579, 0.655, 0.716, 0.766, 0.81, 0.852, 0.898),
    "OF": (0.01715, 0.035, 0.0557, 0.081, 0.115, 0.1718, 0.2569, 0.4758, 0.748),
    "RVUP": (0.5, 0.667, 0.8, 1.0, 1.25, 1.5, 2.0, 24.0, 30.0),
}

FAMILIES: dict[str, dict[str, Any]] = {
    "FDA": {
        "what": "frequency domain analysis (FDA) of each foreground 32 x 32 block: rotated so "
        "its ridges run across a 32 x 16 window, the ridge profile's strongest non-DC DFT "
        "amplitude plus 0.3 of its two neighbours, over the sum of the first 15 amplitudes "
        "(a clean single ridge frequency scores high)",
        "unit": "blocks",
        "range": (0, None),
        "mean": "higher_is_better",
    },
    "LCS": {
        "what": "local clarity score (LCS) of each foreground 32 x 32 block: 1 minus the mean "
        "share of ridge and valley pixels on the wrong side of the block's ridge-valley line, "
        "0 where the mean ridge or valley width is implausible at 500 ppi",
        "unit": "blocks",
        "range": (0, 1),
        "mean": "higher_is_better",
    },
    "OCL": {
        "what": "orientation certainty level (OCL) of each aligned full 32 x 32 block: "
        "1 - smallest / largest eigenvalue of the grey-level gradient covariance",
        "unit": "blocks",
        "range": (0, 1),
        "mean": "higher_is_better",
    },
    "OF": {
        "what": "orientation flow (OF) of each foreground block whose 8 neighbours are "
        "foreground: the mean absolute difference between its ridge orientation and theirs, "
        "when above 4 degrees, as (difference - 4 deg) / 86 deg",
        "unit": "blocks",
        "range": (0, None),
        "mean": "lower_is_better",
    },
    "RVUP": {
        "what": "ridge-valley uniformity (RVUP): the ratios of successive complete ridge and "
        "valley widths across the ridges of each foreground block (each ridge over its valley)",
        "unit": "ratios",
        "range": (0, None),
        "mean": "closer_to_target_is_better",
    },
}

OTHERS: dict[str, dict[str, Any]] = {
    "FingerJetFX_MinCount_COMMinRect200x200": {
        "type": "integer",
        "unit": "minutiae",
        "range": (0, None),
        "direction": "higher_is_better",
        "description": "Minutiae within the 200 x 200 px box centred on the minutiae's centre of "
        "mass (NIST's FingerJetFX feature; our extractor finds the minutiae).",
    },
    "FingerJetFX_MinutiaeCount": {
        "type": "integer",
        "unit": "minutiae",
        "range": (0, None),
        "direction": "none",
        "description": "Minutiae found (NIST's FingerJetFX feature; our own extractor finds them, "
        "so counts differ from FingerJetFX's by tens of per cent). Same value as minutiae_count.",
    },
    "FJFXPos_Mu_MinutiaeQuality_2": {
        "type": "number",
        "unit": "share",
        "range": (0, 1),
        "direction": "none",
        "description": "Share of the minutiae whose 32 x 32 neighbourhood is darker than the "
        "image mean by at most half its grey-level std: (Mu - local mean) / std in (0, 0.5]. "
        "Null when there are no minutiae.",
    },
    "FJFXPos_OCL_MinutiaeQuality_80": {
        "type": "number",
        "unit": "share",
        "range": (0, 1),
        "direction": "higher_is_better",
        "description": "Share of the minutiae whose 32 x 32 neighbourhood has an orientation "
        "certainty level above 0.80 (rounded to hundredths). Null when there are no minutiae.",
    },
    "ImgProcROIArea_Mean": {
        "type": "number",
        "unit": GREY,
        "range": (0, 255),
        "direction": "none",
        "description": "Mean grey level of the region of interest: NIST's foreground (5 x 5 "
        "erosion, 41 x 41 Gaussian blur, Otsu, 91 x 91 Gaussian blur, Otsu; holes filled; the "
        "component with the largest bounding box).",
    },
    "MMB": {
        "type": "number",
        "unit": GREY,
        "range": (0, 255),
        "direction": "none",
        "description": "Mean of the mean grey levels of the 32 x 32 blocks of the trimmed image.",
    },
    "Mu": {
        "type": "number",
        "unit": GREY,
        "range": (0, 255),
        "direction": "none",
        "description": "Mean grey level of the trimmed image.",
    },
    "OrientationMap_ROIFilter_CoherenceRel": {
        "type": "number",
        "unit": None,
        "range": (0, 1),
        "direction": "higher_is_better",
        "description": "Mean ridge-orientation coherence of the 32 x 32 blocks holding region-of-"
        "interest pixels: |sum of (gx^2 - gy^2, 2 gx gy)| / sum of (gx^2 + gy^2) per block.",
    },
    "OrientationMap_ROIFilter_CoherenceSum": {
        "type": "number",
        "unit": None,
        "range": (0, None),
        "direction": "none",
        "description": "Sum of the ridge-orientation coherence of the 32 x 32 blocks holding "
        "region-of-interest pixels (grows with the fingerprint's area).",
    },
}


def snake_case(name: str) -> str:
    """NIST's feature name in snake_case: FDA_Bin10_StdDev -> fda_bin10_std_dev."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _family(name: str) -> str:
    prefix = name.split("_", 1)[0]
    if prefix in FAMILIES:
        return prefix
    return "minutiae" if prefix in ("FingerJetFX", "FJFXPos") else "image"


def _feature(name: str, integer: bool) -> Callable[[FingerprintContext], Any]:
    family = _family(name)

    def compute(ctx: FingerprintContext) -> Any:
        result = ctx.nfiq2
        if result.refused is not None:
            return None  # NIST computes no feature of an empty or uniform image
        if family in result.family_errors:
            raise MeasureError(result.family_errors[family])
        value = result.features.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None  # no minutiae: NIST's share is 0 / 0
        return int(value) if integer else float(value)

    return compute


def _bin_range(limits: tuple[float, ...], i: int) -> str:
    low = f"{limits[i - 1]:g}" if i > 0 else "-inf"
    high = f"{limits[i]:g}" if i < len(limits) else "inf"
    return f"[{low}, {high})"


def _native_measures() -> list[Measure]:
    out = []
    for name in FEATURES:
        family = _family(name)
        if family in FAMILIES:
            info = FAMILIES[family]
            stat = name.rsplit("_", 1)[1]
            if stat == "Mean":
                kind, unit, direction = "number", None, info["mean"]
                text = f"Mean of the {info['what']}."
                value_range = info["range"]
            elif stat == "StdDev":
                kind, unit, direction, value_range = "number", None, "none", (0, None)
                text = f"Population standard deviation of the {info['what']}."
                if family == "RVUP":
                    direction = "lower_is_better"
            else:
                i = int(stat)
                kind, unit, direction, value_range = "integer", info["unit"], "none", (0, None)
                text = (
                    f"Histogram bin {i} of the {info['what']}: how many values lie in "
                    f"{_bin_range(LIMITS[family], i)}."
                )
            out.append(
                Measure(
                    name=snake_case(name),
                    modality=MODALITY,
                    type=kind,
                    description=text + f" NFIQ 2 feature {name}.",
                    unit=unit,
                    range=value_range,
                    direction=direction,
                    clause=f"{CLAUSE} {family}",
                    compute=_feature(name, kind == "integer"),
                )
            )
        else:
            info = OTHERS[name]
            out.append(
                Measure(
                    name=snake_case(name),
                    modality=MODALITY,
                    type=info["type"],
                    description=info["description"] + f" NFIQ 2 feature {name}.",
                    unit=info["unit"],
                    range=info["range"],
                    direction=info["direction"],
                    clause=CLAUSE,
                    compute=_feature(name, info["type"] == "integer"),
                )
            )
    return out


def _score(ctx: FingerprintContext) -> int:
    if ctx.nfiq2.score is None:
        raise MeasureError(ctx.nfiq2.failure or "no score")
    return ctx.nfiq2.score


def _feedback(name: str, integer: bool) -> Callable[[FingerprintContext], Any]:
    def compute(ctx: FingerprintContext) -> Any:
        value = ctx.nfiq2.feedback.get(name)
        if value is None:
            return None
        return int(value) if integer else float(value)

    return compute


def _minutiae_count(ctx: FingerprintContext) -> int | None:
    return _feedback(WITH_MINUTIAE, True)(ctx)


def _edge_std(ctx: FingerprintContext) -> float:
    """Mean of the grey-level std of the image's first and last columns (as BQAT upstream)."""
    grey = ctx.grey
    return float((grey[:, 0].std() + grey[:, -1].std()) / 2)


FINGERPRINT_MEASURES: list[Measure] = [
    file_measure(MODALITY),
    Measure(
        name="nfiq2",
        modality=MODALITY,
        type="integer",
        description="NFIQ 2 unified quality score: how many of the 100 trees of NIST's NFIQ 2 "
        "v2.3 random forest vote for good utility, given the native features below. Null, with "
        "the reason, when NIST would not score the image (empty or uniform image, too little "
        "foreground).",
        unit="score",
        range=(0, 100),
        direction="higher_is_better",
        clause=CLAUSE,
        compute=_score,
    ),
    *_native_measures(),
    Measure(
        name=snake_case(UNIFORM),
        modality=MODALITY,
        type="number",
        description="Grey-level standard deviation of the trimmed image (NFIQ 2 actionable "
        f"feedback UniformImage: below {UNIFORM_BELOW:g} the image is uniform and not scored).",
        unit=GREY,
        range=(0, 128),
        direction="higher_is_better",
        clause=CLAUSE,
        compute=_feedback(UNIFORM, False),
    ),
    Measure(
        name=snake_case(EMPTY),
        modality=MODALITY,
        type="number",
        description="Mean grey level of the trimmed image (NFIQ 2 actionable feedback "
        f"EmptyImageOrContrastTooLow: above {EMPTY_ABOVE:g} the image is empty or too faint "
        "and not scored).",
        unit=GREY,
        range=(0, 255),
        direction="none",
        clause=CLAUSE,
        compute=_feedback(EMPTY, False),
    ),
    Measure(
        name=snake_case(WITH_MINUTIAE),
        modality=MODALITY,
        type="integer",
        description="Minutiae found (NFIQ 2 actionable feedback FingerprintImageWithMinutiae: "
        f"below {MINUTIAE_BELOW:g}, too few). Null when the image is not scored as empty or "
        "uniform.",
        unit="minutiae",
        range=(0, None),
        direction="none",
        clause=CLAUSE,
        compute=_feedback(WITH_MINUTIAE, True),
    ),
    Measure(
        name=snake_case(FOREGROUND),
        modality=MODALITY,
        type="integer",
        description="Pixels of the region of interest at 500 ppi (NFIQ 2 actionable feedback "
        f"SufficientFingerprintForeground: below {FOREGROUND_BELOW:g}, too little fingerprint). "
        "Null when the image is not scored as empty or uniform.",
        unit=PIXELS,
        range=(0, None),
        direction="higher_is_better",
        clause=CLAUSE,
        compute=_feedback(FOREGROUND, True),
    ),
    Measure(
        name="minutiae_count",
        modality=MODALITY,
        type="integer",
        description="Minutiae found by our extractor (orientation-guided enhancement, "
        "binarisation, thinning, crossing number; border and spurious minutiae removed).",
        unit="minutiae",
        range=(0, None),
        direction="higher_is_better",
        compute=_minutiae_count,
    ),
    *image_size_measures(MODALITY),
    Measure(
        name="ppi",
        modality=MODALITY,
        type="number",
        description="Resolution the sample was taken at, in pixels per inch: the `ppi` option, "
        "else the file's own when it says 300 to 5000, else 500 assumed. Other resolutions are "
        "resampled to 500 ppi before NFIQ 2.",
        unit="ppi",
        range=(100, 5000),
        compute=lambda c: round(c.resolution.ppi, 1),
    ),
    Measure(
        name="edge_std",
        modality=MODALITY,
        type="number",
        description="Mean of the grey-level standard deviations of the image's first and last "
        "columns: high when something other than background touches the side edges.",
        unit=GREY,
        range=(0, 128),
        direction="lower_is_better",
        compute=_edge_std,
    ),
    phash_measure(MODALITY),
]
