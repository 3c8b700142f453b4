"""The frozen per-sample context of the iris engine: one native pass, measures only read it.

`bqat._native.iris_assess` locates the pupil and the iris (limbus) circles, maps the eyelid and
eyelash occlusion, computes the ISO/IEC 29794-6 measures on them and the whole-image ISO
sharpness; see native/src/iris.cpp for the algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bqat import _native
from bqat.decode import DecodedImage
from bqat.engines.iris.options import IrisOptions
from bqat.exceptions import MeasureError
from bqat.measures.image import ImageContext


@dataclass(frozen=True)
class IrisContext(ImageContext):
    """Everything the iris measures read; `eye` is None without an eye (`reason` says why)."""

    eye: dict[str, Any] | None
    reason: str | None
    sharpness: float
    options: IrisOptions

    def measured(self, name: str) -> float:
        """The native value of an eye measure; `MeasureError` with the reason when it has none."""
        if self.eye is None:
            raise MeasureError(f"no eye found: {self.reason}")
        measures = self.eye["measures"]
        if measures[name] is None:
            raise MeasureError(measures["errors"][name])
        return float(measures[name])

    def circle(self, which: str) -> tuple[float, float, float]:
        """(x, y, r) of the pupil or iris circle; `MeasureError` when no eye was found."""
        if self.eye is None:
            raise MeasureError(f"no eye found: {self.reason}")
        return self.eye[which]


def build_context(image: DecodedImage, file: str | None, options: IrisOptions) -> IrisContext:
    """Run the native iris pass once on a decoded grey image."""
    grey = image.pixels
    result = _native.iris_assess(grey)
    eye = result if result["found"] else None
    return IrisContext(
        file=file,
        image=image,
        grey=grey,
        eye=eye,
        reason=result["reason"],
        sharpness=float(result["sharpness"]),
        options=options,
    )
