"""The tools whose results can be imported, and which of their columns mean what ours mean."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from bqat.measures import specification


@dataclass(frozen=True)
class Format:
    """How one tool writes its results: separator, file column, modality (None: any)."""

    source: str
    delimiter: str
    file_column: str
    modality: str | None


FORMATS = {
    "bqat": Format("bqat", ",", "file", None),  # GET /scan/{id}/profiles?format=csv|parquet
    "ofiq": Format("ofiq", ";", "Filename", "face"),  # OFIQSampleApp -o
    "nfiq2": Format("nfiq2", ",", "Filename", "fingerprint"),  # nfiq2 -a -v
}
SOURCES = tuple(FORMATS)


class OfiqMeasure(NamedTuple):
    """Our measure for one of OFIQ's, and which of its two columns mean ours: the raw value
    (`raw`) and the 0-100 component (`component`: the same mapping, OFIQ's `.scalar`)."""

    ours: str
    raw: bool = True
    component: bool = True


# OFIQ measure -> our measure: mapped where our declaration follows OFIQ's definition and
# scale (OFIQ-Project 1.0.3, OFIQlib/modules/measures/src). Kept as extra columns:
# UnifiedQualityScore (MagFace; we have none), Sharpness and CompressionArtifacts (OFIQ's are
# learned models, ours a Laplacian and JPEG blockiness), BackgroundUniformity and
# ExpressionNeutrality (raw value and component ours), HeadPose* (OFIQ's 3DDFA sign conventions
# are not established to be ours), EyesVisible, MouthOcclusionPrevention,
# FaceOcclusionPrevention and NoHeadCoverings (we have no such measure), and
# IlluminationUniformity: OFIQ intersects 256-bin histograms of CIE luminance Y (linearised
# sRGB) in two squares of 0.3 IED on the cheeks, below each eye, and scores round(100 x^0.3);
# ours intersects 32-bin grey histograms of the whole left and right halves of the face and
# scores round(100 x). SingleFacePresent's raw value is kept too: OFIQ's is the ratio f of the
# second-largest to the largest face area (0 for one face), ours 1 - f; its component,
# round(100 (1 - f)), is ours.
OFIQ_MEASURES: dict[str, OfiqMeasure] = {
    "InterEyeDistance": OfiqMeasure("iso_inter_eye_distance"),
    "HeadSize": OfiqMeasure("iso_head_size"),
    "LeftwardCropOfTheFaceImage": OfiqMeasure("iso_leftward_crop_of_the_face_image"),
    "RightwardCropOfTheFaceImage": OfiqMeasure("iso_rightward_crop_of_the_face_image"),
    "MarginAboveOfTheFaceImage": OfiqMeasure("iso_margin_above_of_the_face_image"),
    "MarginBelowOfTheFaceImage": OfiqMeasure("iso_margin_below_of_the_face_image"),
    "EyesOpen": OfiqMeasure("iso_eyes_open"),
    "MouthClosed": OfiqMeasure("iso_mouth_closed"),
    "DynamicRange": OfiqMeasure("iso_dynamic_range"),
    "SingleFacePresent": OfiqMeasure("iso_single_face_present", raw=False),
    "NaturalColour": OfiqMeasure("iso_natural_colour"),
    # The same raw value; our component is a mapping of our own.
    "LuminanceMean": OfiqMeasure("iso_luminance_mean", component=False),
    "LuminanceVariance": OfiqMeasure("iso_luminance_variance", component=False),
    "UnderExposurePrevention": OfiqMeasure("iso_under_exposure_prevention", component=False),
    "OverExposurePrevention": OfiqMeasure("iso_over_exposure_prevention", component=False),
}
OFIQ_SCALAR = ".scalar"  # OFIQ's column of a measure's 0-100 component; -1 when it failed

# NIST's score and actionable feedback; the native features map by the NFIQ 2 name that each
# of our fingerprint declarations gives ("... NFIQ 2 feature FDA_Bin10_0.").
NFIQ2_COLUMNS = {
    "QualityScore": "nfiq2",
    "UniformImage": "uniform_image",
    "EmptyImageOrContrastTooLow": "empty_image_or_contrast_too_low",
    "FingerprintImageWithMinutiae": "fingerprint_image_with_minutiae",
    "SufficientFingerprintForeground": "sufficient_fingerprint_foreground",
}
NFIQ2_ERROR = "OptionalError"  # NIST's reason when it gave no score
_NFIQ2_FEATURE = re.compile(r"NFIQ 2 feature ([A-Za-z0-9_]+)")


def mapping(source: str, modality: str) -> dict[str, str]:
    """The declared mapping {their column: our column} of `source` for `modality` (our own
    export needs none: its columns are ours)."""
    if source == "ofiq":
        found = {}
        for theirs, measure in OFIQ_MEASURES.items():
            if measure.raw:
                found[theirs] = measure.ours
            if measure.component:
                found[theirs + OFIQ_SCALAR] = measure.ours + "_scalar"
        return found
    if source == "nfiq2":
        features = {
            match[1]: name
            for name, entry in specification(modality).items()
            if (match := _NFIQ2_FEATURE.search(str(entry.get("description") or "")))
        }
        return {**NFIQ2_COLUMNS, **features}
    return {}


def extra_name(source: str, column: str) -> str:
    """Where another tool's unmapped column is kept: `<source>_<snake case>`, as BQAT's
    camel_to_snake names it (`Sharpness.scalar` -> `ofiq_sharpness_scalar`)."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", column).lower().replace(".", "_")
    return f"{source}_{re.sub(r'[^a-z0-9_]+', '_', snake).strip('_') or 'column'}"
