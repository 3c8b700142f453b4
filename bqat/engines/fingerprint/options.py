"""Options of the fingerprint engine: strict (unknown keys refused), typed, documented."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FingerprintOptions(BaseModel):
    """Per-call options of fingerprint assessment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ppi: float | None = Field(
        None,
        ge=100,
        le=5000,
        description="Resolution of the samples in pixels per inch, overriding the file's own "
        "(by default taken from the file when it says 300 to 5000 ppi, else 500 is assumed). "
        "Images not at 500 ppi are resampled to 500 before NFIQ 2.",
    )
