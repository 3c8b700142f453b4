"""Measure declarations per modality, in record order, and the specification built from them."""

from __future__ import annotations

from collections.abc import Iterable

from bqat.exceptions import ConfigError
from bqat.measures.declaration import Measure, Modality

MODALITIES: tuple[Modality, ...] = ("face", "fingerprint", "iris", "speech")

_declared: dict[str, list[Measure]] = {}


def declare(measures: Iterable[Measure]) -> None:
    """Register a modality's measures (in record order); names must be unique per modality."""
    for measure in measures:
        existing = _declared.setdefault(measure.modality, [])
        names = {c for m in existing for c in m.columns()}
        clash = names & set(measure.columns())
        if clash:
            raise ConfigError(f"measure {measure.modality}.{sorted(clash)[0]} is declared twice")
        existing.append(measure)


def available_modalities() -> list[str]:
    """Modalities whose engine is built (they have declared measures)."""
    _load_engines()
    return [m for m in MODALITIES if m in _declared]


def check_modality(modality: str) -> Modality:
    """`modality` if its engine is available; `ConfigError` naming the available ones otherwise."""
    available = available_modalities()
    if modality not in available:
        known = "unknown modality" if modality not in MODALITIES else "modality not built yet"
        raise ConfigError(f"{known} {modality!r}; available: {', '.join(available)}")
    return modality  # type: ignore[return-value]


def measures(modality: str) -> list[Measure]:
    """The declared measures of `modality`, in record order."""
    return list(_declared[check_modality(modality)])


def quality_columns(modality: str) -> list[str]:
    """Numeric measures whose declared direction says which way is better.

    The default columns of drift comparison and outlier detection: raw values only (a 0-100
    component is a monotone function of its raw value and would count the measure twice).
    """
    return [
        m.name
        for m in measures(modality)
        if m.direction != "none" and m.type in ("integer", "number")
    ]


def specification(modality: str) -> dict[str, dict[str, object]]:
    """Every column of the modality's record: type, unit, range, direction, description, clause."""
    spec: dict[str, dict[str, object]] = {}
    for measure in measures(modality):
        spec.update(measure.columns())
    return spec


def _load_engines() -> None:
    """Import the engine modules, which declare their measures on import."""
    import bqat.face.measures  # noqa: F401
