"""The speech quality profile: a clean recording at the nominal speech level."""

from __future__ import annotations

from bqat.quality_profiles import Profile, Threshold

CLEAN_SPEECH = Profile(
    name="clean-speech",
    modality="speech",
    title="Clean speech at nominal level",
    description="Speech near the nominal active speech level, well above the noise, not "
    "clipped, and of fair or better overall quality as DNSMOS estimates it.",
    thresholds=(
        Threshold(
            "active_speech_level_dbov",
            "ITU-T P.56 level; -26 dBov is the nominal speech level of ITU-T P.800-series "
            "test practice, the ±10 dB window around it is our choice",
            minimum=-36,
            maximum=-16,
        ),
        Threshold("snr_db", "our choice: speech at least 20 dB above the noise", minimum=20),
        Threshold(
            "clipping_ratio",
            "our choice: at most 0.1 % of the samples at full scale",
            maximum=0.001,
        ),
        Threshold(
            "dnsmos_ovrl",
            "our choice: 3 is 'fair' on the ITU-T P.835 overall scale that DNSMOS estimates",
            minimum=3.0,
        ),
    ),
    score="dnsmos_ovrl",
    presence=Threshold(
        "speech_activity",
        "our choice: speech is active in at least 5 % of the recording (ITU-T P.56)",
        minimum=0.05,
    ),
)

PROFILES = (CLEAN_SPEECH,)
