"""The face record: every field declared once, in record order, with the rule that computes it.

Right/left are the subject's (ISO/IEC 39794-5): the subject's right eye is mesh corners 33/133,
on the image's left in an unmirrored photo. Pixel coordinates are original-image pixels after
EXIF orientation, integers, clamped to the image. Fields that need a face are null without one.
The `iso_*` measures follow the names of OFIQ (ISO/IEC 29794-5); each description says how our
raw value is defined, and the declared component maps it to 0-100 (OFIQ's mapping where its
configuration gives one, ours otherwise, as stated).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from bqat.engines.face.context import ALIGNED_SIZE, FaceContext
from bqat.engines.face.topology import (
    CHIN,
    CHIN_POINTS,
    FACE_SIDE_LEFT,
    FACE_SIDE_RIGHT,
    INNER_LIPS,
    LEFT_EYE_LIDS,
    MOUTH_CORNERS,
    NOSE_BRIDGE,
    RIGHT_EYE_LIDS,
)
from bqat.measures import Linear, Measure, Sigmoid
from bqat.measures.common import file_measure
from bqat.measures.image import (
    PIXELS,
    grey_statistics_measures,
    image_size_measures,
    phash_measure,
)

ISO = "ISO/IEC 29794-5"
# Expressions read MediaPipe's blendshape scores (0..1; "Left" is the subject's left). MediaPipe's
# own reference outputs for the sample faces (shared/reference/face-landmarker-v2-outputs.json):
# mouthSmile 0.78/0.82 on the broad smile and <= 0.11 on every other face, eyeBlink <= 0.17 on
# every (open) eye. The thresholds sit at the middle of the scale, far from both.
EYE_CLOSED_BELOW = 0.5  # eye_openness = 1 - eyeBlink
SMILE_ABOVE = 0.5
# The blendshapes that mark an expression; their largest score is the expression's intensity.
# Left out: brow, eye-look, squint, pucker and lip-press/roll scores, which reach 0.3-0.5 on the
# neutral sample faces (MediaPipe's reference: browInnerUp 0.40, mouthPucker 0.43).
EXPRESSIONS = (
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "jawOpen",
    "noseSneerLeft",
    "noseSneerRight",
    "cheekPuff",
)
GLASSES_ABOVE = 0.12
DARK_AT_MOST = 25
BRIGHT_AT_LEAST = 247
NATURAL_A = (5.0, 25.0)
NATURAL_B = (5.0, 35.0)


def _with(*needs: str) -> Callable[[Callable[[FaceContext], Any]], Callable[[FaceContext], Any]]:
    """The rule runs only when every named context field is present; otherwise the value is null."""

    def wrap(rule: Callable[[FaceContext], Any]) -> Callable[[FaceContext], Any]:
        def guarded(ctx: FaceContext) -> Any:
            if any(getattr(ctx, need) is None for need in needs):
                return None
            return rule(ctx)

        return guarded

    return wrap


def _clamp(value: float, high: int) -> int:
    """The index of the pixel holding continuous coordinate `value` (pixel j spans [j, j+1)),
    clamped to the image."""
    return int(min(max(math.floor(value), 0), high - 1))


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def _mean_lid_opening(points: np.ndarray) -> float:
    """The smaller eye's mean lid opening in pixels."""
    return min(
        float(np.mean([_distance(points, u, lo) for u, lo in lids]))
        for lids in (RIGHT_EYE_LIDS, LEFT_EYE_LIDS)
    )


def _label(
    value: float | None, threshold: float, positive: str, negative: str, level: str
) -> str | None:
    if value is None:
        return None
    if value > threshold:
        return positive
    if value < -threshold:
        return negative
    return level


def glasses_score(ctx: FaceContext) -> float:
    """Strength of a horizontal edge crossing the nose bridge between the eyes (0..1).

    A spectacle bridge is a horizontal bar between the inner eye corners; the score is the
    strongest row-mean vertical gradient in the central third of the bridge region of the
    aligned crop, divided by 255. No registered model gives a glasses signal (FaceLandmarker
    v2's blendshapes have none), so this edge rule stands, uncalibrated: GLASSES_ABOVE lies
    between the sample faces, none of which wears glasses (at most 0.08), and the same faces
    with dark frames drawn on (at least 0.17); no photograph of real spectacles was available.
    A thin or rimless bridge can stay below it, a fringe or a shadow at the bridge can pass it.
    """
    grey = ctx.aligned.grey.astype(np.float32)
    top, bottom = 62, 98  # from brow level to the upper nose in the aligned crop (eyes at row 80)
    left, right = 96 - 11, 96 + 11  # the central third between the inner eye corners
    gradient = np.abs(cv2.Sobel(grey[top:bottom, left:right], cv2.CV_32F, 0, 1, ksize=3)) / 4.0
    return float(gradient.mean(axis=1).max() / 255.0)


def _face_region(ctx: FaceContext) -> np.ndarray:
    return ctx.aligned.grey[ctx.aligned.mask]


def _fraction(values: np.ndarray, condition: np.ndarray) -> float:
    return float(np.count_nonzero(condition) / max(1, values.size))


def _entropy(values: np.ndarray) -> float:
    counts = np.bincount(values, minlength=256).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def face_sharpness(ctx: FaceContext) -> float:
    """Variance of the 3 x 3 Laplacian inside the face (mesh hull) of the reduced grey image.

    The reduced image has IED min(64 px, the image's own): faces with more resolution are
    area-reduced to IED 64, faces with less are read as they are, never enlarged or rotated, so
    no interpolation blur enters. At IED < 64 px the value therefore says how sharp the face is
    at its own resolution; how much resolution it has is iso_inter_eye_distance's to report.
    """
    grey, factor = ctx.reduced.grey, ctx.reduced.factor
    points = ctx.mesh.points[:, :2] * factor - 0.5  # pixel-centre indices of the reduced image
    low = np.maximum(np.floor(points.min(axis=0)).astype(int) - 1, 0)
    high = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 2, grey.shape[::-1])
    window = grey[low[1] : high[1], low[0] : high[0]]
    mask = np.zeros(window.shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points - low).astype(np.int32)), 1)
    laplacian = cv2.Laplacian(window, cv2.CV_64F)
    return float(laplacian[mask.astype(bool)].var())


def illumination_uniformity(ctx: FaceContext) -> float:
    """Histogram intersection (32 bins) of the image-left and image-right halves of the face."""
    half = ALIGNED_SIZE // 2
    grey, mask = ctx.aligned.grey, ctx.aligned.mask
    halves = [grey[:, :half][mask[:, :half]], grey[:, half:][mask[:, half:]]]
    if min(h.size for h in halves) == 0:
        return 0.0
    hists = [np.bincount(h // 8, minlength=32) / h.size for h in halves]
    return float(np.minimum(*hists).sum())


def natural_colour(ctx: FaceContext) -> float:
    """Distance (CIELAB a*b* units) of the face region's mean a*, b* from a natural skin range."""
    lab = cv2.cvtColor(ctx.aligned.colour, cv2.COLOR_BGR2LAB)
    _, a, b, _ = cv2.mean(lab, mask=ctx.aligned.mask.view(np.uint8))
    a, b = a - 128.0, b - 128.0
    da = max(0.0, NATURAL_A[0] - a, a - NATURAL_A[1])
    db = max(0.0, NATURAL_B[0] - b, b - NATURAL_B[1])
    return float(np.hypot(da, db))


# EXIF orientation n: the transform taking the upright pixels back to the stored (encoded) ones,
# the inverse of what decoding applied (bqat.decode._upright).
_STORED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: a[:, ::-1].swapaxes(0, 1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: a[::-1].swapaxes(0, 1),
}


def stored_grey(ctx: FaceContext) -> np.ndarray:
    """The grey image as it was encoded, before EXIF orientation: JPEG's 8 x 8 block grid starts
    at this image's top-left corner, not the upright image's."""
    return _STORED.get(ctx.image.orientation, _STORED[1])(ctx.grey)


def blockiness(grey: np.ndarray) -> float:
    """JPEG blockiness: mean step across the 8-pixel grid over the mean step elsewhere.

    1 means no blocking; JPEG compression at low quality raises it. `grey` must be the image as
    encoded (`stored_grey`): the grid is the encoder's, counted from its top-left corner.
    """
    ratios = []
    for axis in (1, 0):  # steps between columns, then between rows
        if grey.shape[axis] < 17:
            continue
        if axis == 1:
            step = cv2.absdiff(grey[:, 1:], grey[:, :-1])
        else:
            step = cv2.absdiff(grey[1:], grey[:-1])
        # Mean step across each column (row) boundary. OpenCV's reduce avoids a transposed copy;
        # an integer sum (at most 255 x the side, far inside int32) then one division is exact
        # and 4-50x faster than its float average, which converts every pixel.
        sums = cv2.reduce(step, 1 - axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        steps = sums / step.shape[1 - axis]
        on_grid = steps[7::8]
        off_grid = np.delete(steps, np.s_[7::8])
        ratios.append((on_grid.mean() + 1.0) / (off_grid.mean() + 1.0))
    return float(np.mean(ratios)) if ratios else 1.0


def background_uniformity(ctx: FaceContext) -> float | None:
    """Mean gradient magnitude of the background beside and above the head, at IED <= 64 px.

    Background: pixels above the chin and outside the face hull enlarged 1.6 times about its
    centre (room for hair and ears). None when less than 5% of the image is background.
    """
    small = ctx.reduced.grey
    points = ctx.mesh.points[:, :2] * ctx.reduced.factor
    centre = points.mean(axis=0)
    hull = cv2.convexHull(np.round(centre + 1.6 * (points - centre)).astype(np.int32))
    background = np.ones(small.shape, np.uint8)
    cv2.fillConvexPoly(background, hull, 0)
    background[round(points[CHIN, 1]) :, :] = 0
    if np.count_nonzero(background) < 0.05 * background.size:
        return None
    # Sobel's weights sum to 4 and it differences pixels 2 apart: / 8 gives grey levels per pixel.
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.mean(cv2.magnitude(gx, gy), mask=background)[0] / 8.0


def single_face_present(ctx: FaceContext) -> float:
    """1 for one face; 1 - (second largest / largest face area) for several; 0 for none."""
    areas = sorted(((f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in ctx.faces), reverse=True)
    if not areas:
        return 0.0
    return 1.0 - (areas[1] / areas[0] if len(areas) > 1 else 0.0)


def _pose_angle(axis: str) -> Callable[[FaceContext], Any]:
    return _with("pose")(lambda ctx: round(getattr(ctx.pose, axis), 2))


def _pose_label(
    axis: str, positive: str, negative: str, level: str
) -> Callable[[FaceContext], Any]:
    def rule(ctx: FaceContext) -> str | None:
        threshold = getattr(ctx.options, f"{axis}_threshold")
        return _label(getattr(ctx.pose, axis), threshold, positive, negative, level)

    return _with("pose")(rule)


def _box(index: int, size: str) -> Callable[[FaceContext], Any]:
    def rule(ctx: FaceContext) -> int:
        return _clamp(ctx.face.box[index], getattr(ctx.image, size))

    return _with("face")(rule)


def _pupil(eye: str, axis: int, size: str) -> Callable[[FaceContext], Any]:
    def rule(ctx: FaceContext) -> int:
        return _clamp(getattr(ctx, eye).centre[axis], getattr(ctx.image, size))

    return _with(eye)(rule)


def _mesh_extreme(
    indices: tuple[int, ...], axis: int, pick: Callable[..., float], size: str
) -> Callable[[FaceContext], Any]:
    def rule(ctx: FaceContext) -> int:
        return _clamp(pick(ctx.mesh.points[list(indices), axis]), getattr(ctx.image, size))

    return _with("mesh")(rule)


def _face(
    name: str, type_: str, description: str, compute: Callable[[FaceContext], Any], **extra: Any
) -> Measure:
    return Measure(
        name=name, modality="face", type=type_, description=description, compute=compute, **extra
    )


_openness_right = _with("blendshapes")(lambda c: round(1.0 - c.blendshapes["eyeBlinkRight"], 4))
_openness_left = _with("blendshapes")(lambda c: round(1.0 - c.blendshapes["eyeBlinkLeft"], 4))
_smile_score = _with("blendshapes")(
    lambda c: round((c.blendshapes["mouthSmileLeft"] + c.blendshapes["mouthSmileRight"]) / 2, 4)
)


def expression_neutrality(ctx: FaceContext) -> float:
    """1 - the largest score among the expression blendshapes (EXPRESSIONS)."""
    return 1.0 - max(ctx.blendshapes[name] for name in EXPRESSIONS)


_glasses_score = _with("aligned")(lambda c: round(glasses_score(c), 4))
_mouth_opening = _with("mesh")(
    lambda c: round(
        _distance(c.mesh.points, *INNER_LIPS) / _distance(c.mesh.points, *MOUTH_CORNERS), 4
    )
)


def _crop(name: str, edge: str, *, axis: int, from_far_edge: bool, x0: float) -> Measure:
    """Distance from the eye midpoint to one image edge, in inter-eye distances (OFIQ's crop)."""

    def rule(ctx: FaceContext) -> float:
        position = float(ctx.eye_midpoint[axis])
        if from_far_edge:
            position = (ctx.image.width, ctx.image.height)[axis] - position
        return round(position / ctx.ied, 5)

    return _face(
        name,
        "number",
        f"Distance from the eye midpoint to the image's {edge} edge, in inter-eye distances.",
        _with("eye_midpoint", "ied")(rule),
        unit="IED",
        range=(None, None),
        direction="higher_is_better",
        clause=ISO + " crop of the face image",
        component=Sigmoid(x0=x0, w=0.1),
    )


def _head_pose(axis: str, *, limit: int) -> Measure:
    """The head pose angle as an ISO measure; the component is ours (OFIQ's config gives none)."""
    return _face(
        f"iso_head_pose_{axis}",
        "number",
        f"{axis.capitalize()} in degrees (as {axis}_degree). Component ours: "
        f"100 (1 - sigmoid((|{axis}| - 20) / 5)).",
        _pose_angle(axis),
        unit="degree",
        range=(-limit, limit),
        direction="closer_to_target_is_better",
        clause=ISO + " head pose",
        component=Sigmoid(x0=20, w=5, a=1, s=-1, centre=0),
    )


def _below(rule: Callable[[FaceContext], Any], threshold: float) -> Callable[[FaceContext], Any]:
    def compare(ctx: FaceContext) -> bool | None:
        value = rule(ctx)
        return None if value is None else bool(value < threshold)

    return compare


def _above(rule: Callable[[FaceContext], Any], threshold: float) -> Callable[[FaceContext], Any]:
    def compare(ctx: FaceContext) -> bool | None:
        value = rule(ctx)
        return None if value is None else bool(value > threshold)

    return compare


FACE_MEASURES: list[Measure] = [
    file_measure("face"),
    *image_size_measures("face"),
    _face(
        "confidence",
        "number",
        "YuNet detector score of the assessed (largest confident) face.",
        _with("face")(lambda c: round(c.face.score, 4)),
        range=(0, 1),
        direction="higher_is_better",
    ),
    _face(
        "bbox_left",
        "integer",
        "Left edge of the face box, clamped to the image.",
        _box(0, "width"),
        unit=PIXELS,
    ),
    _face(
        "bbox_upper",
        "integer",
        "Top edge of the face box, clamped to the image.",
        _box(1, "height"),
        unit=PIXELS,
    ),
    _face(
        "bbox_right",
        "integer",
        "Right edge of the face box, clamped to the image.",
        _box(2, "width"),
        unit=PIXELS,
    ),
    _face(
        "bbox_lower",
        "integer",
        "Bottom edge of the face box, clamped to the image.",
        _box(3, "height"),
        unit=PIXELS,
    ),
    _face(
        "smile",
        "boolean",
        f"smile_score > {SMILE_ABOVE}: MediaPipe's mouthSmile blendshapes.",
        _above(_smile_score, SMILE_ABOVE),
    ),
    _face(
        "eye_closed_left",
        "boolean",
        f"The subject's left eye is closed: eye_openness_left < {EYE_CLOSED_BELOW}.",
        _below(_openness_left, EYE_CLOSED_BELOW),
    ),
    _face(
        "eye_closed_right",
        "boolean",
        f"The subject's right eye is closed: eye_openness_right < {EYE_CLOSED_BELOW}.",
        _below(_openness_right, EYE_CLOSED_BELOW),
    ),
    _face(
        "ipd",
        "integer",
        "Inter-pupillary distance: between the two iris centres.",
        _with("ied")(lambda c: round(c.ied)),
        unit=PIXELS,
        range=(0, None),
        example=120,
    ),
    _face(
        "pupil_right_x",
        "integer",
        "Iris centre of the subject's right eye (image-left), x.",
        _pupil("right_eye", 0, "width"),
        unit=PIXELS,
    ),
    _face(
        "pupil_right_y",
        "integer",
        "Iris centre of the subject's right eye (image-left), y.",
        _pupil("right_eye", 1, "height"),
        unit=PIXELS,
    ),
    _face(
        "pupil_left_x",
        "integer",
        "Iris centre of the subject's left eye (image-right), x.",
        _pupil("left_eye", 0, "width"),
        unit=PIXELS,
    ),
    _face(
        "pupil_left_y",
        "integer",
        "Iris centre of the subject's left eye (image-right), y.",
        _pupil("left_eye", 1, "height"),
        unit=PIXELS,
    ),
    _face(
        "yaw_pose",
        "string",
        "Left when yaw_degree > yaw_threshold, Right below its negative, else Forward.",
        _pose_label("yaw", "Left", "Right", "Forward"),
        values=("Left", "Right", "Forward"),
    ),
    _face(
        "yaw_degree",
        "number",
        "Head yaw; > 0 when the subject turns to their own left.",
        _pose_angle("yaw"),
        unit="degree",
        range=(-90, 90),
        direction="closer_to_target_is_better",
    ),
    _face(
        "pitch_pose",
        "string",
        "Up when pitch_degree > pitch_threshold, Down below its negative, else Level.",
        _pose_label("pitch", "Up", "Down", "Level"),
        values=("Up", "Down", "Level"),
    ),
    _face(
        "pitch_degree",
        "number",
        "Head pitch; > 0 when the subject looks up. Zero: eye and mouth corners equally deep.",
        _pose_angle("pitch"),
        unit="degree",
        range=(-90, 90),
        direction="closer_to_target_is_better",
    ),
    _face(
        "roll_pose",
        "string",
        "Anticlockwise when roll_degree > roll_threshold, Clockwise below its negative, "
        "else Level.",
        _pose_label("roll", "Anticlockwise", "Clockwise", "Level"),
        values=("Anticlockwise", "Clockwise", "Level"),
    ),
    _face(
        "roll_degree",
        "number",
        "Head roll; > 0 when the face appears rotated anticlockwise in the image.",
        _pose_angle("roll"),
        unit="degree",
        range=(-180, 180),
        direction="closer_to_target_is_better",
    ),
    _face(
        "glasses",
        "boolean",
        f"glasses_score > {GLASSES_ABOVE}: a dark bar crosses the nose bridge, as a spectacle "
        "bridge does. Uncalibrated edge rule (ours; no photograph of real spectacles checked): "
        "thin or rimless frames can be missed, a fringe or shadow there can pass.",
        _above(_glasses_score, GLASSES_ABOVE),
    ),
    _face(
        "face_count",
        "integer",
        "Faces found with a detector score of at least `confidence`.",
        lambda c: len(c.faces),
        range=(0, None),
    ),
    _face(
        "eye_openness_right",
        "number",
        "Subject's right eye: 1 - MediaPipe's eyeBlinkRight blendshape (1 open, 0 closed).",
        _openness_right,
        unit="ratio",
        range=(0, 1),
        direction="higher_is_better",
        example=0.92,
    ),
    _face(
        "eye_openness_left",
        "number",
        "Subject's left eye: 1 - MediaPipe's eyeBlinkLeft blendshape (1 open, 0 closed).",
        _openness_left,
        unit="ratio",
        range=(0, 1),
        direction="higher_is_better",
        example=0.92,
    ),
    _face(
        "mouth_opening",
        "number",
        "Gap between the inner lips over the mouth width.",
        _mouth_opening,
        unit="ratio",
        range=(0, None),
        direction="lower_is_better",
        example=0.17,
    ),
    _face(
        "smile_score",
        "number",
        "Mean of MediaPipe's mouthSmileLeft and mouthSmileRight blendshapes (0 none, 1 broad).",
        _smile_score,
        unit="score",
        range=(0, 1),
        example=0.05,
    ),
    _face(
        "glasses_score",
        "number",
        "Strongest horizontal edge across the nose bridge between the eyes, 0..1: the mean "
        "vertical grey step along a row of the aligned crop, over 255 (uncalibrated; see "
        "`glasses`).",
        _glasses_score,
        range=(0, 1),
    ),
    *grey_statistics_measures("face"),
    _face(
        "face_ratio",
        "number",
        "Area of the clamped face box over the image area.",
        _with("face")(
            lambda c: round(
                max(0.0, min(c.face.box[2], c.image.width) - max(c.face.box[0], 0))
                * max(0.0, min(c.face.box[3], c.image.height) - max(c.face.box[1], 0))
                / (c.image.width * c.image.height),
                5,
            )
        ),
        unit="ratio",
        range=(0, 1),
    ),
    _face(
        "face_offset_x",
        "number",
        "Horizontal offset of the nose bridge from the image centre, over the width.",
        _with("mesh")(lambda c: round(c.mesh.points[NOSE_BRIDGE, 0] / c.image.width - 0.5, 5)),
        unit="ratio",
        range=(-0.5, 0.5),
        direction="closer_to_target_is_better",
    ),
    _face(
        "face_offset_y",
        "number",
        "Vertical offset of the nose bridge from the image centre, over the height.",
        _with("mesh")(lambda c: round(c.mesh.points[NOSE_BRIDGE, 1] / c.image.height - 0.5, 5)),
        unit="ratio",
        range=(-0.5, 0.5),
        direction="closer_to_target_is_better",
    ),
    _face(
        "head_top",
        "integer",
        "Top of the face mesh (upper forehead); hair and crown are not segmented.",
        _mesh_extreme(tuple(range(468)), 1, np.min, "height"),
        unit=PIXELS,
    ),
    _face(
        "head_bottom",
        "integer",
        "Lowest chin point of the mesh.",
        _mesh_extreme(CHIN_POINTS, 1, np.max, "height"),
        unit=PIXELS,
    ),
    _face(
        "head_left",
        "integer",
        "Leftmost face-side point of the mesh (image left).",
        _mesh_extreme(FACE_SIDE_LEFT, 0, np.min, "width"),
        unit=PIXELS,
    ),
    _face(
        "head_right",
        "integer",
        "Rightmost face-side point of the mesh (image right).",
        _mesh_extreme(FACE_SIDE_RIGHT, 0, np.max, "width"),
        unit=PIXELS,
    ),
    # ISO/IEC 29794-5 measures, named after OFIQ's.
    _face(
        "iso_inter_eye_distance",
        "number",
        "Distance between the iris centres.",
        _with("ied")(lambda c: round(c.ied, 3)),
        unit=PIXELS,
        range=(0, None),
        direction="higher_is_better",
        clause=ISO + " inter-eye distance",
        component=Sigmoid(x0=70, w=20),
        example=120.0,
    ),
    _face(
        "iso_head_size",
        "number",
        "Head height estimated as twice the eye-midpoint-to-chin distance, over the image "
        "height; best at 0.45.",
        _with("mesh", "eye_midpoint")(
            lambda c: round(
                2
                * float(np.linalg.norm(c.mesh.points[CHIN, :2] - c.eye_midpoint))
                / c.image.height,
                5,
            )
        ),
        unit="ratio",
        range=(0, None),
        direction="closer_to_target_is_better",
        clause=ISO + " head size",
        component=Sigmoid(x0=0, w=0.05, h=200, a=1, s=-1, centre=0.45),
    ),
    _crop("iso_leftward_crop_of_the_face_image", "left", axis=0, from_far_edge=False, x0=0.9),
    _crop("iso_rightward_crop_of_the_face_image", "right", axis=0, from_far_edge=True, x0=0.9),
    _crop("iso_margin_above_of_the_face_image", "top", axis=1, from_far_edge=False, x0=1.4),
    _crop("iso_margin_below_of_the_face_image", "bottom", axis=1, from_far_edge=True, x0=1.8),
    _head_pose("yaw", limit=90),
    _head_pose("pitch", limit=90),
    _head_pose("roll", limit=180),
    _face(
        "iso_eyes_open",
        "number",
        "Mean lid opening of the less open eye over the inter-eye distance.",
        _with("mesh", "ied")(lambda c: round(_mean_lid_opening(c.mesh.points) / c.ied, 5)),
        unit="IED",
        range=(0, None),
        direction="higher_is_better",
        clause=ISO + " eyes open",
        component=Sigmoid(x0=0.02, w=0.01),
        example=0.14,
    ),
    _face(
        "iso_mouth_closed",
        "number",
        "Gap between the inner lips over the inter-eye distance.",
        _with("mesh", "ied")(lambda c: round(_distance(c.mesh.points, *INNER_LIPS) / c.ied, 5)),
        unit="IED",
        range=(0, None),
        direction="lower_is_better",
        clause=ISO + " mouth closed",
        component=Sigmoid(x0=0.2, w=0.06, a=1, s=-1),
        example=0.17,
    ),
    _face(
        "iso_expression_neutrality",
        "number",
        "1 - the largest of MediaPipe's expression blendshapes (smile, frown, stretch, jaw open, "
        "sneer, cheek puff); 1 is neutral. Raw value and component ours (OFIQ classifies with "
        "emotion networks): component 100 x raw.",
        _with("blendshapes")(lambda c: round(expression_neutrality(c), 4)),
        unit="score",
        range=(0, 1),
        direction="higher_is_better",
        clause=ISO + " expression neutrality",
        component=Linear(scale=100),
        example=0.95,
    ),
    _face(
        "iso_luminance_mean",
        "number",
        "Mean luminance of the face region (aligned crop), 0..1; best near 0.5. Component ours.",
        _with("aligned")(lambda c: round(float(_face_region(c).mean()) / 255.0, 5)),
        unit="luminance",
        range=(0, 1),
        direction="closer_to_target_is_better",
        clause=ISO + " luminance",
        component=Sigmoid(x0=0.25, w=0.05, a=1, s=-1, centre=0.5),
    ),
    _face(
        "iso_luminance_variance",
        "number",
        "Variance of the luminance (0..1 scale) of the face region. Component ours: "
        "low variance is flat light.",
        _with("aligned")(lambda c: round(float((_face_region(c) / 255.0).var()), 6)),
        unit="luminance^2",
        range=(0, 0.25),
        direction="higher_is_better",
        clause=ISO + " luminance",
        component=Sigmoid(x0=0.005, w=0.002),
    ),
    _face(
        "iso_under_exposure_prevention",
        "number",
        f"Fraction of face-region pixels at grey level <= {DARK_AT_MOST}. Component ours.",
        _with("aligned")(
            lambda c: round(_fraction(_face_region(c), _face_region(c) <= DARK_AT_MOST), 5)
        ),
        unit="fraction",
        range=(0, 1),
        direction="lower_is_better",
        clause=ISO + " under-exposure prevention",
        component=Sigmoid(x0=0.1, w=0.03, a=1, s=-1),
    ),
    _face(
        "iso_over_exposure_prevention",
        "number",
        f"Fraction of face-region pixels at grey level >= {BRIGHT_AT_LEAST}. Component ours.",
        _with("aligned")(
            lambda c: round(_fraction(_face_region(c), _face_region(c) >= BRIGHT_AT_LEAST), 5)
        ),
        unit="fraction",
        range=(0, 1),
        direction="lower_is_better",
        clause=ISO + " over-exposure prevention",
        component=Sigmoid(x0=0.1, w=0.03, a=1, s=-1),
    ),
    _face(
        "iso_dynamic_range",
        "number",
        "Entropy of the face region's grey-level histogram.",
        _with("aligned")(lambda c: round(_entropy(_face_region(c)), 4)),
        unit="bit",
        range=(0, 8),
        direction="higher_is_better",
        clause=ISO + " dynamic range",
        component=Linear(scale=12.5),
    ),
    _face(
        "iso_sharpness",
        "number",
        "Variance of the Laplacian in the face region, at IED 64 px (faces with a smaller IED "
        "at their own resolution: blur, not resolution). Component ours.",
        _with("mesh", "reduced")(lambda c: round(face_sharpness(c), 3)),
        range=(0, None),
        direction="higher_is_better",
        clause=ISO + " sharpness",
        component=Sigmoid(x0=20, w=8),
        example=98.5,
    ),
    _face(
        "iso_illumination_uniformity",
        "number",
        "Histogram intersection of the left and right halves of the face region.",
        _with("aligned")(lambda c: round(illumination_uniformity(c), 5)),
        unit="fraction",
        range=(0, 1),
        direction="higher_is_better",
        clause=ISO + " illumination uniformity",
        component=Linear(scale=100),
    ),
    _face(
        "iso_single_face_present",
        "number",
        "1 for one face; 1 - second-largest/largest face area for several; 0 for none.",
        lambda c: round(single_face_present(c), 5),
        unit="fraction",
        range=(0, 1),
        direction="higher_is_better",
        clause=ISO + " single face present",
        component=Linear(scale=100),
    ),
    _face(
        "iso_natural_colour",
        "number",
        "Distance of the face region's mean CIELAB a*, b* from the natural skin range "
        f"a* in {list(NATURAL_A)}, b* in {list(NATURAL_B)}.",
        _with("aligned")(lambda c: round(natural_colour(c), 4)),
        unit="CIELAB",
        range=(0, None),
        direction="lower_is_better",
        clause=ISO + " natural colour",
        component=Sigmoid(x0=0, w=10, h=200, a=1, s=-1),
        example=0.0,
    ),
    _face(
        "iso_compression_artifacts",
        "number",
        "JPEG blockiness of the whole image as encoded (before EXIF orientation): mean step "
        "across the 8-px grid over the mean step elsewhere (1 = none). Component ours.",
        lambda c: round(blockiness(stored_grey(c)), 4),
        unit="ratio",
        range=(0, None),
        direction="lower_is_better",
        clause=ISO + " compression artifacts",
        component=Sigmoid(x0=1.6, w=0.15, a=1, s=-1),
        example=1.36,
    ),
    _face(
        "iso_background_uniformity",
        "number",
        "Mean gradient magnitude (grey levels per pixel) of the background beside and above "
        "the head, at IED <= 64 px. Raw value and component ours (OFIQ's mapping expects its "
        "own raw scale): 100 (1 - sigmoid((x - 5) / 1.25)): a plain wall (about 1.2) scores "
        "about 95, a busy street (4-5) 50-70, foliage and hair (9) 4.",
        _with("mesh", "reduced")(
            lambda c: None if (v := background_uniformity(c)) is None else round(v, 4)
        ),
        unit="grey level/px",
        range=(0, None),
        direction="lower_is_better",
        clause=ISO + " background uniformity",
        component=Sigmoid(x0=5, w=1.25, a=1, s=-1),
        example=1.5,
    ),
    phash_measure("face"),
]
