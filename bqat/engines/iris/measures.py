"""The iris record: every field declared once, in record order, with the rule that computes it.

Coordinates are pixels of the decoded, upright image, pixel-centre convention (the pixel in row
i, column j has its centre at x = j, y = i). The ISO/IEC 29794-6:2015 measures follow the
standard's definitions as the descriptions state, not MITRE BIQT-Iris's readings of them (its
known bugs are listed in the reference notes): the pupil is searched at any radius, the
iris-pupil contrast reads the iris (not the sclera ring), the pupil region is centred on the
pupil, the right and bottom margins subtract the iris radius, the sharpness squares each filter
response, the grey-scale utilisation reads the usable iris only. Without an eye every eye field
is null and says why in `measure_errors`.

`quality` is the product of the ten ISO components (each measure's `_scalar`, 0-100): 100 when
every measure meets its recommended value, 0 as soon as one is unusable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bqat.engines.iris.context import IrisContext
from bqat.exceptions import MeasureError
from bqat.measures import Linear, Measure, Sigmoid
from bqat.measures.common import file_measure
from bqat.measures.image import PIXELS, image_size_measures, phash_measure

MODALITY = "iris"
ISO = "ISO/IEC 29794-6:2015"


def ramp(zero_at: float, full_at: float) -> Linear:
    """The component rising linearly from 0 at `zero_at` to 100 at `full_at` (clipped)."""
    scale = 100.0 / (full_at - zero_at)
    return Linear(scale=scale, offset=-scale * zero_at)


def _iris(
    name: str, description: str, compute: Callable[[IrisContext], Any], **extra: Any
) -> Measure:
    return Measure(
        name=name,
        modality=MODALITY,
        type="number",
        description=description,
        compute=compute,
        **extra,
    )


def _native(name: str, digits: int = 2) -> Callable[[IrisContext], float]:
    return lambda c: round(c.measured(name), digits)


def _coordinate(which: str, index: int) -> Callable[[IrisContext], float]:
    return lambda c: round(float(c.circle(which)[index]), 1)


ISO_MEASURES: list[Measure] = [
    _iris(
        "usable_iris_area",
        "Share of the iris annulus (between the pupil and iris circles) not occluded, in percent. "
        "Occluded: pixels outside the image; eyelid and eyelash regions, found on a 256 x 32 "
        "polar grid about the iris centre as cells more than 3.5 robust deviations from the "
        "grey level of iris that is seen (the lateral cells at the angles where the pupil's edge "
        "shows, so iris lies next to it; every such angle when a lid covers the sides) forming a "
        "region that reaches the outer 15% of the annulus; specular pixels, at or above the iris "
        "median plus max(6 deviations, half the way to 255).",
        _native("usable_iris_area", 1),
        unit="%",
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.1",
        component=ramp(40, 70),
    ),
    _iris(
        "iris_sclera_contrast",
        "100 (S - I) / (S + I - 2 P), clipped to 0..100, with the medians S of the sclera "
        "(1.1-1.2 iris radii from the iris centre, within 30 degrees of the horizontal where "
        "the eyelids do not reach), I of the usable iris between (pupil + iris radius) / 2 and "
        "0.9 iris radii, and P of the pupil within 0.8 pupil radii of the pupil centre "
        "(specular pixels left out, and pixels brighter than the iris by over 3 robust "
        "deviations: an eyelid over the pupil).",
        _native("iris_sclera_contrast"),
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.2",
        component=ramp(2, 10),
    ),
    _iris(
        "iris_pupil_contrast",
        "100 W / (0.75 + W) with the Weber ratio W = (I - P) / (20 + P) of the iris and pupil "
        "medians I and P of iris_sclera_contrast (0 when the iris is not brighter).",
        _native("iris_pupil_contrast"),
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.3",
        component=ramp(10, 30),
    ),
    _iris(
        "pupil_boundary_circularity",
        "100 (1 - sqrt(sum over 2 <= |k| <= 16 of |c_k|^2)), c_k the Fourier coefficients of "
        "the pupil boundary radius over its mean at 64 angles about the pupil centre: 100 "
        "minus the RMS departure from a circle in percent of the radius (k = 1, a shift of "
        "the centre, is not a departure; an upright ellipse of axis ratio q scores about "
        "100 (1 - (1 - q) / (1 + q) / sqrt 2)). Boundary radius per angle: the largest outward "
        "step within 0.6-1.4 pupil radii; angles hidden by highlights or eyelids are "
        "interpolated, and fewer than 32 seen angles is an error.",
        _native("pupil_boundary_circularity"),
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.4",
        component=ramp(80, 95),
    ),
    _iris(
        "grey_scale_utilisation",
        "Shannon entropy of the 256-bin histogram of the usable iris pixels, in bits.",
        _native("grey_scale_utilisation", 3),
        unit="bits",
        range=(0, 8),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.5",
        component=ramp(4, 6),
    ),
    _iris(
        "iris_radius",
        "Radius of the iris (limbus) circle, fitted by the integro-differential operator on the "
        "lateral arcs of the limbus.",
        _native("iris_radius", 1),
        unit=PIXELS,
        range=(0, None),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.6",
        component=ramp(35, 80),
    ),
    _iris(
        "pupil_iris_ratio",
        "100 pupil radius / iris radius: pupil dilation, in percent.",
        _native("pupil_iris_ratio"),
        unit="%",
        range=(0, 100),
        direction="closer_to_target_is_better",
        clause=f"{ISO} 6.2.7",
        component=Sigmoid(x0=28.0, w=1.5, s=-1.0, a=1.0, centre=45.0),
    ),
    _iris(
        "iris_pupil_concentricity",
        "100 max(0, 1 - d / iris radius), d the distance between the pupil and iris centres.",
        _native("iris_pupil_concentricity"),
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.8",
        component=ramp(70, 90),
    ),
    _iris(
        "margin_adequacy",
        "100 min(1, L / 0.6 R, Rt / 0.6 R, T / 0.2 R, B / 0.2 R), floored at 0: the distances "
        "L, Rt, T, B from the iris circle (radius R) to the left, right, top and bottom image "
        "edges against the margins the standard asks for.",
        _native("margin_adequacy"),
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.9",
        component=ramp(0, 80),
    ),
    Measure(
        name="sharpness",
        modality=MODALITY,
        type="number",
        description="100 p^2 / (p^2 + 180000^2) of the power p = sum(F^2) / (W H) of the image "
        "filtered with the standard's 9 x 9 kernel every 4th row and column (whole image).",
        range=(0, 100),
        direction="higher_is_better",
        clause=f"{ISO} 6.2.10",
        component=ramp(1, 10),
        compute=lambda c: round(c.sharpness, 3),
    ),
]


def overall_quality(ctx: IrisContext) -> int:
    """round(100 x product of the ten ISO components / 100); a failed component fails it."""
    product = 1.0
    for measure in ISO_MEASURES:
        try:
            value = measure.compute(ctx)  # type: ignore[misc]
        except MeasureError as exc:
            if ctx.eye is None:
                raise
            raise MeasureError(f"{measure.name} could not be computed: {exc}") from None
        component = measure.component(value)  # type: ignore[misc]
        product *= component / 100.0
    return math.floor(100.0 * product + 0.5)


QUALITY = Measure(
    name="quality",
    modality=MODALITY,
    type="integer",
    description="Overall iris quality, 0-100: round(100 x the product of the ten ISO/IEC "
    "29794-6 components / 100) (usable_iris_area_scalar ... sharpness_scalar). Each component "
    "is 100 where the measure meets the value the standard recommends and falls to 0 where "
    "the sample becomes unusable, so one unusable measure makes the sample unusable.",
    range=(0, 100),
    direction="higher_is_better",
    clause=ISO,
    compute=overall_quality,
)

GEOMETRY: list[Measure] = [
    _iris(
        "iris_center_x",
        "x of the iris circle's centre.",
        _coordinate("iris", 0),
        unit=PIXELS,
    ),
    _iris(
        "iris_center_y",
        "y of the iris circle's centre.",
        _coordinate("iris", 1),
        unit=PIXELS,
    ),
    _iris(
        "pupil_center_x",
        "x of the pupil circle's centre (least-squares circle through the pupil boundary).",
        _coordinate("pupil", 0),
        unit=PIXELS,
    ),
    _iris(
        "pupil_center_y",
        "y of the pupil circle's centre.",
        _coordinate("pupil", 1),
        unit=PIXELS,
    ),
    _iris(
        "pupil_radius",
        "Radius of the pupil circle, at any size (the integro-differential search is not capped).",
        _coordinate("pupil", 2),
        unit=PIXELS,
        range=(0, None),
    ),
]

IRIS_MEASURES: list[Measure] = [
    file_measure(MODALITY),
    *image_size_measures(MODALITY),
    QUALITY,
    *ISO_MEASURES,
    *GEOMETRY,
    phash_measure(MODALITY),
]
