"""The face engine: one sample in, one flat record of plain JSON values out."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from bqat.decode import Sample, decode_image
from bqat.face.context import FaceContext, build_context
from bqat.face.detector import MODEL as DETECTOR_MODEL
from bqat.face.landmarks import IRIS_MODEL, MESH_MODEL
from bqat.face.measures import FACE_MEASURES
from bqat.face.options import face_options
from bqat.measures import Measure

log = logging.getLogger(__name__)

MODELS_USED = (DETECTOR_MODEL, MESH_MODEL, IRIS_MODEL)


def assess_face(sample: Sample, *, file: str | None = None, **options: Any) -> dict[str, Any]:
    """The face record of `sample` (path, encoded bytes or RGB array); see bqat.face.measures."""
    settings = face_options(options)
    return face_record(build_context(decode_image(sample), file, settings))


def face_record(ctx: FaceContext) -> dict[str, Any]:
    """Every declared field, in order; a measure that fails is null and logged, the rest stand."""
    record: dict[str, Any] = {}
    for measure in FACE_MEASURES:
        value = _compute(measure, ctx)
        record[measure.name] = value
        if measure.component is not None:
            record[measure.scalar_name] = measure.component(value)
    return record


def _compute(measure: Measure, ctx: FaceContext) -> Any:
    try:
        value = measure.compute(ctx)
    except Exception:  # one measure's failure must not cost the sample its other measures
        log.exception("face measure %s failed on %s", measure.name, ctx.file or "a sample")
        return None
    return value.item() if isinstance(value, np.generic) else value
