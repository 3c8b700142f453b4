"""The tools whose results can be imported, and which of their columns mean what ours mean."""

from __future__ import annotations

import re
from dataclasses import dataclass

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

# OFIQ measure -> our measure, and whether our 0-100 component is OFIQ's too (same sigmoid).
# Mapped where our declaration follows OFIQ's definition and scale. Kept as extra columns:
# UnifiedQualityScore (MagFace; we have none), Sharpness and CompressionArtifacts (OFIQ's are
# learned models, ours a Laplacian and JPEG blockiness), BackgroundUniformity and
# ExpressionNeutrality (raw value and component ours), HeadPose* (OFIQ's 3DDFA sign conventions
# are not established to be ours), EyesVisible, MouthOcclusionPrevention,
# FaceOcclusionPrevention and NoHeadCoverings (we have no such measure).
OFIQ_MEASURES: dict[str, tuple[str, bool]] = {
    "InterEyeDistance": ("iso_inter_eye_distance", True),
    "HeadSize": ("iso_head_size", True),
    "LeftwardCropOfTheFaceImage": ("iso_leftward_crop_of_the_face_image", True),
    "RightwardCropOfTheFaceImage": ("iso_rightward_crop_of_the_face_image", True),
    "MarginAboveOfTheFaceImage": ("iso_margin_above_of_the_face_image", True),
    "MarginBelowOfTheFaceImage": ("iso_margin_below_of_the_face_image", True),
    "EyesOpen": ("iso_eyes_open", True),
    "MouthClosed": ("iso_mouth_closed", True),
    "DynamicRange": ("iso_dynamic_range", True),
    "IlluminationUniformity": ("iso_illumination_uniformity", True),
    "SingleFacePresent": ("iso_single_face_present", True),
    "NaturalColour": ("iso_natural_colour", True),
    # The same raw value; our component is a mapping of our own.
    "LuminanceMean": ("iso_luminance_mean", False),
    "LuminanceVariance": ("iso_luminance_variance", False),
    "UnderExposurePrevention": ("iso_under_exposure_prevention", False),
    "OverExposurePrevention": ("iso_over_exposure_prevention", False),
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
        for theirs, (ours, component) in OFIQ_MEASURES.items():
            found[theirs] = ours
            if component:
                found[theirs + OFIQ_SCALAR] = ours + "_scalar"
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
