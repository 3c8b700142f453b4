"""Options of the face engine: strict (unknown keys refused), typed, documented defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FaceOptions(BaseModel):
    """Per-call options of face assessment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confidence: float = Field(0.6, ge=0.0, le=1.0, description="Minimum face detector score.")
    yaw_threshold: float = Field(
        5.0, gt=0, le=90, description="|yaw| in degrees above which yaw_pose is Left/Right."
    )
    pitch_threshold: float = Field(
        5.0, gt=0, le=90, description="|pitch| in degrees above which pitch_pose is Up/Down."
    )
    roll_threshold: float = Field(
        8.0,
        gt=0,
        le=90,
        description="|roll| in degrees above which roll_pose is Anticlockwise/Clockwise.",
    )
