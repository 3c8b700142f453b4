"""Options of the speech engine: strict (unknown keys refused), typed, documented defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SpeechOptions(BaseModel):
    """Per-call options of speech assessment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dnsmos: bool = Field(
        True,
        description="Run the DNSMOS models (most of the record's time); false leaves dnsmos_* "
        "null.",
    )
    dnsmos_hop_s: float = Field(
        1.0,
        ge=0.5,
        le=9.01,
        description="Seconds between DNSMOS windows: 1.0 as the reference implementation; up to "
        "9.01 (windows end to end, fewer windows to pool and classify). Multiples of 0.02 s "
        "share the model's convolutions between overlapping windows; other hops run it whole "
        "per window.",
    )
    max_duration_s: float = Field(
        3600.0,
        gt=0,
        le=86400,
        description="Longer recordings are refused from their header, before decoding.",
    )
