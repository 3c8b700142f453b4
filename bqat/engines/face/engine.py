"""The face engine: YuNet detection, MediaPipe FaceLandmarker v2 (mesh, irises, blendshapes),
the face measures."""

from __future__ import annotations

from typing import Any

from bqat.decode import decode_image
from bqat.engines.engine import Engine
from bqat.engines.face.context import FaceContext, build_context
from bqat.engines.face.detector import MODEL as DETECTOR_MODEL
from bqat.engines.face.landmarks import BLENDSHAPES_MODEL, LANDMARKER_MODEL, MESH_MODEL
from bqat.engines.face.measures import FACE_MEASURES
from bqat.engines.face.options import FaceOptions
from bqat.engines.face.profiles import PROFILES
from bqat.ingest import IMAGE_EXTENSIONS


def face_context(sample: Any, file: str | None, options: FaceOptions) -> FaceContext:
    """Decode the sample (path, encoded bytes or RGB array) and run every face stage once."""
    return build_context(decode_image(sample), file, options)


ENGINE = Engine(
    modality="face",
    measures=tuple(FACE_MEASURES),
    options=FaceOptions,
    models=(DETECTOR_MODEL, MESH_MODEL, LANDMARKER_MODEL, BLENDSHAPES_MODEL),
    extensions=IMAGE_EXTENSIONS,
    context=face_context,
    profiles=PROFILES,
)
