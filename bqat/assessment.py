"""`bqat.assess` and `bqat.specification`: one sample, any modality, and the declared schema."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bqat.measures import check_modality
from bqat.measures import specification as declared_specification

if TYPE_CHECKING:
    from bqat.decode import Sample


def assess(sample: Sample, modality: str, **options: Any) -> dict[str, Any]:
    """Measure one sample (a path, encoded bytes or a NumPy array) and return its flat record.

    Undecodable input raises `bqat.InputError`; an unknown option or a modality whose engine is
    not built raises `bqat.ConfigError`.
    """
    check_modality(modality)
    file = str(sample) if isinstance(sample, str | Path) else None
    from bqat.face.engine import assess_face

    return assess_face(sample, file=file, **options)


def specification(modality: str) -> dict[str, dict[str, object]]:
    """Every column of the modality's record: type, unit, range, direction, description, clause."""
    return declared_specification(modality)
