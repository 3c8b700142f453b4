"""The shape every modality's engine follows, and the one record loop they all share.

An engine declares what it measures and needs (measures, options, models, file extensions) and
builds one frozen per-sample context; the measures only read that context. The loop below turns
a context into the flat record: a measure that raises does not cost the sample its other
measures, its reason goes into `measure_errors` so a failure is never a silent null.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from bqat.exceptions import BqatError
from bqat.measures.declaration import Measure
from bqat.validation import validated

if TYPE_CHECKING:
    from bqat.quality_profiles import Profile

MEASURE_ERRORS = "measure_errors"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    """One modality: its declared measures in record order, and how a sample becomes a context.

    `options` is a strict pydantic model (unknown keys refused) of the per-call options;
    `models` names the registered model files the engine runs, checked before a scan starts;
    `extensions` are the file suffixes a scan picks up (decoding still goes by content);
    `context(sample, file, options)` decodes the sample and runs every preprocessing stage once;
    `derived_sessions` names the ONNX Runtime sessions it builds from parts of its models'
    graphs (`model/part`), besides each ONNX model's own session, so /info can list them;
    `thumbnail(path, side)` draws a sample that is not an image (speech: its waveform) as BGR
    pixels within side x side for the report; None: samples are images, shown scaled down;
    `profiles` are its quality profiles (bqat.quality_profiles), the modality's default first.
    """

    modality: str
    measures: Sequence[Measure]
    options: type[BaseModel]
    models: tuple[str, ...]
    extensions: frozenset[str]
    context: Callable[[Any, str | None, Any], Any]
    derived_sessions: tuple[str, ...] = ()
    thumbnail: Callable[[Path, int], np.ndarray] | None = None
    profiles: tuple[Profile, ...] = ()


def assess_with(
    engine: Engine, sample: object, *, file: str | None, options: dict[str, Any]
) -> dict[str, Any]:
    """The record of one sample: options checked, context built once, every measure read."""
    return record(engine.measures, engine.context(sample, file, checked_options(engine, options)))


def checked_options(engine: Engine, values: dict[str, Any]) -> BaseModel:
    """The engine's options model of `values`; `ConfigError` naming each bad or unknown key."""
    return validated(engine.options, f"{engine.modality} options", values)


def record(measures: Sequence[Measure], context: object) -> dict[str, Any]:
    """Every declared field in order, then `measure_errors` {measure: reason} of those that failed.

    A measure returning None is not applicable to this sample (no face, no speech); a measure
    that raises has failed, and says why. Values are plain JSON types, never NumPy scalars.
    """
    values: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for measure in measures:
        try:
            value = measure.compute(context)  # type: ignore[misc]
        except BqatError as exc:  # explained: the sample does not allow this measure
            failures[measure.name] = str(exc)
            value = None
        except Exception as exc:  # a bug costs one measure, not the sample; logged in full
            log.exception("measure %s failed", measure.name)
            failures[measure.name] = f"{type(exc).__name__}: {exc}"
            value = None
        value = value.item() if isinstance(value, np.generic) else value
        values[measure.name] = value
        if measure.component is not None:
            values[measure.scalar_name] = measure.component(value)  # type: ignore[index]
    values[MEASURE_ERRORS] = failures
    return values
