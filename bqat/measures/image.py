"""What every image modality has: the decoded image, its grey levels, and the measures on them.

Face, fingerprint and iris contexts extend `ImageContext`; their engines list the measures
below in their own record, so each is declared once and computed the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bqat import _native
from bqat.decode import DecodedImage
from bqat.measures.declaration import Measure
from bqat.phash import PHASH_COLUMN, PHASH_DESCRIPTION, image_phash

PIXELS = "px"


@dataclass(frozen=True)
class ImageContext:
    """The part of a per-sample context every image engine has: file name, image, grey levels."""

    file: str | None
    image: DecodedImage
    grey: np.ndarray

    @cached_property
    def image_stats(self) -> dict[str, float]:
        """One pass of native grey statistics over the whole image (mean, std, ...)."""
        return _native.grey_stats(self.grey, block=statistics_block(*self.grey.shape))


def statistics_block(height: int, width: int) -> int:
    """Tile side for block statistics: 1/16 of the shorter side, so the measure ignores scale."""
    return max(4, min(height, width) // 16)


def image_size_measures(modality: str) -> list[Measure]:
    """`image_height` and `image_width` of the decoded, upright image."""
    return [
        Measure(
            name=f"image_{side}",
            modality=modality,
            type="integer",
            description=f"{side.capitalize()} of the decoded, upright image.",
            unit=PIXELS,
            range=(1, None),
            example={"height": 640, "width": 480}[side],
            compute=lambda c, side=side: getattr(c.image, side),
        )
        for side in ("height", "width")
    ]


def grey_statistics_measures(modality: str) -> list[Measure]:
    """Whole-image grey-level statistics, from one native pass (`ImageContext.image_stats`)."""

    def stat(key: str) -> Callable[[ImageContext], float]:
        return lambda c: round(c.image_stats[key], 3)

    return [
        Measure(
            name="brightness",
            modality=modality,
            type="number",
            description="Mean grey level of the whole image.",
            unit="grey level",
            range=(0, 255),
            compute=stat("mean"),
        ),
        Measure(
            name="contrast",
            modality=modality,
            type="number",
            description="Standard deviation of the grey levels of the whole image.",
            unit="grey level",
            range=(0, 128),
            compute=stat("std"),
        ),
        Measure(
            name="dynamic_range",
            modality=modality,
            type="number",
            description="Mean of the brightest 1% minus the darkest 1% of grey levels.",
            unit="grey level",
            range=(0, 255),
            direction="higher_is_better",
            compute=stat("dynamic_range"),
        ),
        Measure(
            name="sharpness",
            modality=modality,
            type="number",
            description="Variance of the Laplacian of the grey image (whole image).",
            range=(0, None),
            direction="higher_is_better",
            example=120.5,
            compute=stat("laplacian_variance"),
        ),
        Measure(
            name="brightness_variance",
            modality=modality,
            type="number",
            description="Standard deviation of the mean grey level of tiles 1/16 of the shorter "
            "side.",
            unit="grey level",
            range=(0, 128),
            direction="lower_is_better",
            compute=stat("block_mean_std"),
        ),
    ]


def phash_measure(modality: str) -> Measure:
    """`phash`: the perceptual hash that duplicate detection compares."""
    return Measure(
        name=PHASH_COLUMN,
        modality=modality,
        type="string",
        description=PHASH_DESCRIPTION,
        example="d36b84683d961b93",
        compute=lambda c: image_phash(c.grey),
    )
