"""The declared measures of each available modality, and the specification built from them.

The declarations belong to the engines (bqat.engines); these are the views the store, the API,
the report, outliers and drift read. The engines package imports the declarations module, so
it is imported here on call rather than at import.
"""

from __future__ import annotations

from bqat.measures.declaration import Measure


def available_modalities() -> list[str]:
    """Modalities whose engine is available."""
    from bqat.engines import engines

    return list(engines())


def check_modality(modality: str) -> str:
    """`modality` if its engine is available; `ConfigError` naming the available ones otherwise."""
    from bqat.engines import get_engine

    return get_engine(modality).modality


def measures(modality: str) -> list[Measure]:
    """The declared measures of `modality`, in record order."""
    from bqat.engines import get_engine

    return list(get_engine(modality).measures)


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
