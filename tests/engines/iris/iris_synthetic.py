"""Synthetic eyes with known answers: pupil and iris circles, occlusion, the regions' grey levels.

An eye is painted layer by layer at pixel level (pixel row i, column j has its centre at x = j,
y = i, the convention of the iris engine): skin, the almond-shaped opening between two eyelid
parabolas, the white sclera inside it, the iris disc with radial texture, the pupil (a circle, or
an ellipse), eyelashes hanging from the upper lid, specular highlights; then optical blur and
sensor noise. Everything the drawing covers is known exactly, so the usable iris area, the
pupil/iris ratio and the concentricity have reference values that do not come from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class Eye:
    """A drawn eye and what is known about it (circles as (x, y, r) in pixels)."""

    image: np.ndarray  # uint8, H x W grey, or H x W x 3 BGR when drawn in colour
    pupil: tuple[float, float, float]
    iris: tuple[float, float, float]
    usable_iris_area: float  # % of the annulus (pixel centres) neither covered nor off-image
    annulus: np.ndarray = field(repr=False)  # bool, pixels between the pupil and iris circles
    visible: np.ndarray = field(repr=False)  # bool, annulus pixels left uncovered
    levels: dict[str, float] = field(default_factory=dict)


def draw_eye(
    width: int = 640,
    height: int = 480,
    iris: tuple[float, float, float] = (320.0, 240.0, 110.0),
    pupil: tuple[float, float, float] = (324.0, 244.0, 40.0),
    *,
    pupil_axes: tuple[float, float] | None = None,
    upper_lid: float | None = None,
    lower_lid: float | None = None,
    lashes: int = 0,
    speculars: tuple[tuple[float, float, float], ...] = (),
    blur: float = 1.0,
    noise: float = 2.0,
    texture: float = 12.0,
    levels: dict[str, float] | None = None,
    colour: bool = False,
    seed: int = 0,
) -> Eye:
    """Paint one eye.

    `upper_lid` / `lower_lid`: y of the lid margin straight above / below the iris centre (None:
    the lids clear the iris by a quarter of its radius). `pupil_axes` (a, b) draws an upright
    elliptical pupil with horizontal semi-axis a and vertical b instead of the circle.
    `speculars`: bright discs (x, y, r). `levels`: grey of skin, sclera, iris, pupil, lash and
    specular.
    """
    rng = np.random.default_rng(seed)
    grey = {"skin": 165.0, "sclera": 205.0, "iris": 105.0, "pupil": 18.0, "lash": 35.0}
    grey["specular"] = 250.0
    grey.update(levels or {})
    ix, iy, ir = iris
    px, py, pr = pupil
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)

    # Eyelids: parabolas through the eye corners (2.2 iris radii to each side, at iris centre level)
    top = upper_lid if upper_lid is not None else iy - 1.25 * ir
    bottom = lower_lid if lower_lid is not None else iy + 1.25 * ir
    half = 2.2 * ir
    upper = top + (iy - top) * ((xs - ix) / half) ** 2
    lower = bottom + (iy - bottom) * ((xs - ix) / half) ** 2
    opening = (ys > upper) & (ys < lower)

    shading = 8.0 * np.sin(xs / width * 3.0) * np.cos(ys / height * 2.0)
    image = np.full((height, width), grey["skin"]) + shading
    image[opening] = grey["sclera"] + shading[opening]

    dx, dy = xs - ix, ys - iy
    in_iris = dx**2 + dy**2 <= ir**2
    angle = np.arctan2(dy, dx)
    radius = np.hypot(dx, dy)
    fibres = (
        sum(
            np.sin(k * angle + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 1.0)
            for k in (23, 37, 61, 89)
        )
        / 2.0
    )
    rings = np.sin(radius / 3.1 + rng.uniform(0, 6)) * 0.4
    speckle = cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, width)), (0, 0), 1.2) * 2.0
    iris_texture = texture * (0.6 * fibres + 0.3 * rings + 0.5 * speckle)
    paint_iris = in_iris & opening
    image[paint_iris] = grey["iris"] + iris_texture[paint_iris]

    if pupil_axes is None:
        in_pupil = (xs - px) ** 2 + (ys - py) ** 2 <= pr**2
    else:
        a, b = pupil_axes
        in_pupil = ((xs - px) / a) ** 2 + ((ys - py) / b) ** 2 <= 1.0
    image[in_pupil & opening] = grey["pupil"]

    covered = ~opening
    if lashes:
        lash_mask = np.zeros((height, width), np.uint8)
        for k in range(lashes):
            x0 = ix + (k / max(1, lashes - 1) - 0.5) * 1.4 * ir
            y0 = top + (iy - top) * ((x0 - ix) / half) ** 2
            length = rng.uniform(0.25, 0.45) * ir
            bend = rng.uniform(-0.3, 0.3) * length
            points = np.array(
                [[x0 + bend * t * t, y0 + length * t] for t in np.linspace(0, 1, 12)], np.int32
            )
            cv2.polylines(lash_mask, [points], False, 1, thickness=2)
        lash = lash_mask.astype(bool)
        image[lash] = grey["lash"]
        covered |= lash
    for sx, sy, sr in speculars:
        spot = (xs - sx) ** 2 + (ys - sy) ** 2 <= sr**2
        image[spot] = grey["specular"]
        covered |= spot

    if blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    if noise > 0:
        image = image + rng.normal(0.0, noise, image.shape)
    pixels = np.clip(np.round(image), 0, 255).astype(np.uint8)

    # The annulus over a canvas large enough for an iris leaving the frame (off-image = covered).
    margin = int(np.ceil(ir)) + 2
    eys, exs = np.mgrid[-margin : height + margin, -margin : width + margin].astype(np.float64)
    if pupil_axes is None:
        outside_pupil = (exs - px) ** 2 + (eys - py) ** 2 > pr**2
    else:
        outside_pupil = ((exs - px) / pupil_axes[0]) ** 2 + ((eys - py) / pupil_axes[1]) ** 2 > 1
    annulus = ((exs - ix) ** 2 + (eys - iy) ** 2 <= ir**2) & outside_pupil
    on_image = np.zeros_like(annulus)
    on_image[margin : margin + height, margin : margin + width] = True
    uncovered = np.zeros_like(annulus)
    uncovered[margin : margin + height, margin : margin + width] = ~covered
    visible = annulus & on_image & uncovered
    usable = 100.0 * visible.sum() / annulus.sum()

    if colour:  # a bluish iris on pinkish skin; its grey (BT.601) stays close to `pixels`
        tint = np.array([1.12, 1.0, 0.9])
        pixels = np.clip(np.round(pixels[..., None] * tint), 0, 255).astype(np.uint8)
    return Eye(
        image=pixels,
        pupil=pupil,
        iris=iris,
        usable_iris_area=float(usable),
        annulus=annulus[margin : margin + height, margin : margin + width],
        visible=visible[margin : margin + height, margin : margin + width],
        levels=grey,
    )
