"""`bqat.assess` and `bqat.specification`: one sample, any modality, and the declared schema."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bqat.engines import assess_with, checked_options, get_engine
from bqat.measures import specification as declared_specification
from bqat.models import get_spec, resolve

if TYPE_CHECKING:
    from bqat.decode import Sample


def assess(sample: Sample, modality: str, **options: Any) -> dict[str, Any]:
    """Measure one sample (a path, encoded bytes or a NumPy array) and return its flat record.

    Undecodable input raises `bqat.InputError`; an unknown option or a modality whose engine is
    not built raises `bqat.ConfigError`. A measure that cannot be computed is null, with its
    reason under `measure_errors`.
    """
    file = str(sample) if isinstance(sample, str | Path) else None
    return assess_sample(sample, modality, file=file, options=options)


def assess_sample(
    sample: Sample, modality: str, *, file: str | None, options: dict[str, Any]
) -> dict[str, Any]:
    """`assess` with the record's `file` named by the caller (a scan names it relative)."""
    return assess_with(get_engine(modality), sample, file=file, options=options)


def check_options(modality: str, options: dict[str, Any]) -> dict[str, Any]:
    """The engine options validated (unknown keys, types, ranges) before any work starts."""
    return checked_options(get_engine(modality), options).model_dump(exclude_unset=True)


def models_used(modality: str) -> dict[str, str]:
    """name -> sha256 of the registered models the modality's engine runs."""
    return {name: get_spec(name).sha256 for name in get_engine(modality).models}


def sessions_used(modality: str) -> list[str]:
    """The ONNX Runtime sessions the modality's engine may create: each ONNX model's own, then
    those it derives from parts of their graphs (`model/part`)."""
    engine = get_engine(modality)
    whole = [name for name in engine.models if get_spec(name).is_onnx]
    return [*whole, *engine.derived_sessions]


def check_models(modality: str) -> None:
    """`ModelError` unless every model file of the engine is present with its sha256.

    A scan calls this before its first sample: a missing or corrupt model stops it at once
    with the fix, instead of failing every file.
    """
    for name in get_engine(modality).models:
        resolve(name)


def specification(modality: str) -> dict[str, dict[str, object]]:
    """Every column of the modality's record: type, unit, range, direction, description, clause."""
    return declared_specification(modality)
