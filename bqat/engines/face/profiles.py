"""The face quality profiles: an ICAO 9303 / ISO/IEC 29794-5 portrait (the default).

Where ICAO Doc 9303 Part 3 and ISO/IEC 39794-5 Annex D (the ICAO portrait) give a number, the
raw measure is checked against it. ISO/IEC 29794-5 defines the 0-100 quality components but no
pass mark, so each of those is checked at 50 on the component (OFIQ's default mapping): that
cut is our choice, said in each source.
"""

from __future__ import annotations

from bqat.quality_profiles import Profile, Threshold

_ANNEX_D = "ICAO Doc 9303 Part 3 / ISO/IEC 39794-5 Annex D (ICAO portrait)"
_HALF = (
    "ISO/IEC 29794-5 component on OFIQ's default mapping; the standard sets no pass mark, "
    "the cut at 50 (half quality) is our choice"
)


def _component(measure: str, requirement: str) -> Threshold:
    return Threshold(f"iso_{measure}_scalar", f"{requirement}: {_HALF}", minimum=50)


ICAO_PORTRAIT = Profile(
    name="icao-portrait",
    modality="face",
    title="ICAO 9303 / ISO/IEC 29794-5 portrait",
    description="A passport-style portrait: one frontal face, large enough, eyes open, mouth "
    "closed, neutral, sharp, evenly lit on a plain background, with margins around the head.",
    thresholds=(
        Threshold("face_count", f"{_ANNEX_D}: exactly one face", minimum=1, maximum=1),
        Threshold(
            "iso_inter_eye_distance",
            f"{_ANNEX_D}: at least 90 px between the eye centres (120 px recommended)",
            minimum=90,
        ),
        Threshold("iso_head_pose_yaw", f"{_ANNEX_D}: yaw within ±5°", minimum=-5, maximum=5),
        Threshold("iso_head_pose_pitch", f"{_ANNEX_D}: pitch within ±5°", minimum=-5, maximum=5),
        Threshold("iso_head_pose_roll", f"{_ANNEX_D}: roll within ±8°", minimum=-8, maximum=8),
        _component("eyes_open", "eyes open"),
        _component("mouth_closed", "mouth closed"),
        _component("expression_neutrality", "neutral expression"),
        _component("head_size", "head size"),
        _component("leftward_crop_of_the_face_image", "margin left of the face"),
        _component("rightward_crop_of_the_face_image", "margin right of the face"),
        _component("margin_above_of_the_face_image", "margin above the head"),
        _component("margin_below_of_the_face_image", "margin below the chin"),
        _component("sharpness", "in focus"),
        _component("under_exposure_prevention", "not under-exposed"),
        _component("over_exposure_prevention", "not over-exposed"),
        _component("dynamic_range", "dynamic range"),
        _component("illumination_uniformity", "evenly lit face"),
        _component("background_uniformity", "plain background"),
        _component("natural_colour", "natural colour"),
        _component("compression_artifacts", "no visible compression"),
    ),
    presence=Threshold(
        "face_count", "our choice: a face was found (face_count 0 or null: none)", minimum=1
    ),
)

PROFILES = (ICAO_PORTRAIT,)
