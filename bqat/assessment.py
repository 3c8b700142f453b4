"""`bqat.assess` and `bqat.specification`: one sample, any modality, and the declared schema."""

from __future__ import annotations

from collections.abc import Callable
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
    file = str(sample) if isinstance(sample, str | Path) else None
    return assess_sample(sample, modality, file=file, options=options)


def assess_sample(
    sample: Sample, modality: str, *, file: str | None, options: dict[str, Any]
) -> dict[str, Any]:
    """`assess` with the record's `file` named by the caller (a scan names it relative)."""
    return engine(modality)(sample, file=file, **options)


def engine(modality: str) -> Callable[..., dict[str, Any]]:
    """The assessment function of a built modality."""
    check_modality(modality)
    from bqat.face.engine import assess_face

    return assess_face


def check_options(modality: str, options: dict[str, Any]) -> dict[str, Any]:
    """The engine options validated (unknown keys, types, ranges) before any work starts."""
    check_modality(modality)
    from bqat.face.options import face_options

    return face_options(options).model_dump(exclude_unset=True)


def models_used(modality: str) -> dict[str, str]:
    """name -> sha256 of the registered models the modality's engine runs."""
    check_modality(modality)
    from bqat.face.engine import MODELS_USED
    from bqat.models import get_spec

    return {name: get_spec(name).sha256 for name in MODELS_USED}


def specification(modality: str) -> dict[str, dict[str, object]]:
    """Every column of the modality's record: type, unit, range, direction, description, clause."""
    return declared_specification(modality)
