"""The iris quality profile: the recommended values of ISO/IEC 29794-6:2015.

The components of the iris record (`<measure>_scalar`) reach 100 at these same values; the
profile checks the raw measures against them.
"""

from __future__ import annotations

from bqat.quality_profiles import Profile, Threshold

_ISO = "ISO/IEC 29794-6:2015"


def _recommended(measure: str, clause: str, **bounds: float) -> Threshold:
    return Threshold(measure, f"{_ISO} {clause}, recommended value", **bounds)


ISO_29794_6 = Profile(
    name="iso-29794-6",
    modality="iris",
    title="ISO/IEC 29794-6 recommended values",
    description="An iris image as ISO/IEC 29794-6 recommends for enrolment: enough unoccluded "
    "iris at a sufficient resolution, normal dilation, well-centred pupil, contrast, grey-scale "
    "spread, margins and focus.",
    thresholds=(
        _recommended("usable_iris_area", "6.2.1", minimum=70),
        _recommended("iris_sclera_contrast", "6.2.2", minimum=5),
        _recommended("iris_pupil_contrast", "6.2.3", minimum=30),
        _recommended("grey_scale_utilisation", "6.2.5", minimum=6),
        _recommended("iris_radius", "6.2.6", minimum=80),
        _recommended("pupil_iris_ratio", "6.2.7", minimum=20, maximum=70),
        _recommended("iris_pupil_concentricity", "6.2.8", minimum=90),
        _recommended("margin_adequacy", "6.2.9", minimum=80),
        Threshold(
            "sharpness",
            f"{_ISO} 6.2.10 gives no recommended value; 10, where the record's sharpness "
            "component reaches 100, is our choice",
            minimum=10,
        ),
    ),
    score="quality",
    presence=Threshold(
        "iris_radius", "our choice: an iris was located (iris_radius null: none)", minimum=0
    ),
)

PROFILES = (ISO_29794_6,)
