"""Options of the iris engine: strict (unknown keys refused); there is nothing to tune yet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class IrisOptions(BaseModel):
    """Per-call options of iris assessment (none yet: every threshold is part of a measure's
    documented definition)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
