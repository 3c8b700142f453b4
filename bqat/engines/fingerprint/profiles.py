"""The fingerprint quality profile: NFIQ 2 at least 35 and NFIQ 2's actionable feedback."""

from __future__ import annotations

from bqat.quality_profiles import Profile, Threshold

_FEEDBACK = "NFIQ 2 actionable feedback threshold (usnistgov/NFIQ2 v2.2 quality features)"

NFIQ2_35 = Profile(
    name="nfiq2-35",
    modality="fingerprint",
    title="NFIQ 2 ≥ 35",
    description="A plain 500 ppi impression usable for matching: NFIQ 2 (ISO/IEC 29794-4 "
    "unified quality score) at least 35, and none of NFIQ 2's actionable feedback raised.",
    thresholds=(
        Threshold(
            "nfiq2",
            "our choice: NIST publishes no universal pass mark (NFIQ 2 predicts recognition "
            "performance; each application sets its own); 35 is a common operational cut",
            minimum=35,
        ),
        Threshold("uniform_image", f"{_FEEDBACK}: grey-level standard deviation ≥ 1", minimum=1.0),
        Threshold(
            "empty_image_or_contrast_too_low",
            f"{_FEEDBACK}: mean grey level ≤ 250 (above: empty or contrast too low)",
            maximum=250.0,
        ),
        Threshold(
            "fingerprint_image_with_minutiae", f"{_FEEDBACK}: at least 5 minutiae", minimum=5
        ),
        Threshold(
            "sufficient_fingerprint_foreground",
            f"{_FEEDBACK}: at least 50 000 foreground pixels",
            minimum=50_000,
        ),
    ),
    score="nfiq2",
    presence=Threshold(
        "fingerprint_image_with_minutiae",
        f"{_FEEDBACK}: a fingerprint shows at least 5 minutiae",
        minimum=5,
    ),
)

PROFILES = (NFIQ2_35,)
