"""The iris engine: one native pass per sample, the ISO/IEC 29794-6 iris record."""

from __future__ import annotations

from typing import Any

from bqat.decode import decode_image
from bqat.engines.engine import Engine
from bqat.engines.iris.context import IrisContext, build_context
from bqat.engines.iris.measures import IRIS_MEASURES
from bqat.engines.iris.options import IrisOptions
from bqat.engines.iris.profiles import PROFILES
from bqat.ingest import IMAGE_EXTENSIONS


def iris_context(sample: Any, file: str | None, options: IrisOptions) -> IrisContext:
    """Decode the sample (path, encoded bytes or array) to grey and run the iris pass once."""
    return build_context(decode_image(sample, grey=True), file, options)


ENGINE = Engine(
    modality="iris",
    measures=tuple(IRIS_MEASURES),
    options=IrisOptions,
    models=(),
    extensions=IMAGE_EXTENSIONS,
    context=iris_context,
    profiles=PROFILES,
)
