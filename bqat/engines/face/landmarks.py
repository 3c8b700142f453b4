"""MediaPipe's face landmarks: the 478-point FaceLandmarker v2 mesh (with both irises) and its
52 blendshapes, in original-image coordinates.

Both landmark models see a square crop of the image, rotated so the eyes are level (`Roi`), and
answer in crop pixels. Each answer is mapped back to the image through the very matrix that made
its crop (`Roi.affine`), so the crop and the way back cannot disagree.

Pixel convention (decided here, tested in tests/engines/face/test_landmarks.py). Coordinates are
continuous with the origin at the top-left corner of the top-left pixel, as in
`bqat.engines.face.detector`: pixel (i, j) covers [j, j + 1) x [i, i + 1). A crop of `size`
pixels spans [0, size] in the same convention, which is what MediaPipe means by its landmark
coordinates (they are normalised by the crop size, 0 and 1 being the crop's outer edges). The native
`warp_crop` kernel, in contrast, indexes pixels by their centres (source pixel j is sampled at
x = j), so the matrix it gets is shifted by half a pixel on both sides: crop pixel i has its
centre at i + 0.5 and reads the image at (its image position) - 0.5.

Passes. The crop is found with the light 468-point mesh (mediapipe_face_landmark, 192 px), as
MediaPipe's tracking does: a first crop around the detector's box, then crops around the mesh's
own previous answer (`mesh_roi`) until the crop stops moving (roll within 1 degree, centre and
side within 2 % of the side; at most 6 passes, 3 on most images). Only then does FaceLandmarker
v2 (256 px) run once on that settled crop; its 478 points are the mesh the measures read.

Why the crop must settle: the landmark models are not rotation-equivariant themselves, so the
points depend on the crop's roll. A crop taken after a fixed number of passes still carries the
detector's error: on the sample faces rotated by -30..45 degrees, two passes moved roll by up to
36 degrees away from the rotation and pitch by up to 15; with the settled crop every sample
stayed within 0.3 degree of the rotation in roll and 1 degree in yaw and pitch
(tests/engines/face/test_engine.py). The fit and the template are exactly equivariant (rotating
the points by theta adds theta to roll and nothing else: tests/engines/face/test_pose.py).

Why v2 replaces the 468-point mesh and the iris model for the measures: its mesh carries both
irises (points 468-472: the subject's right iris, centre then four edge points; 473-477: the left
one), within 2.2 % of the inter-eye distance of the iris model's centres on the samples, and
its points feed the blendshapes model, which the expression measures need. Measured on one
ONNX Runtime thread, 100 runs on one crop, with PRelu rewritten for the CPU provider
(`bqat.models.cpu_graph`): a light mesh pass 1.4 ms, FaceLandmarker v2 6.3 ms, the blendshapes
0.8 ms; cropping costs 0.5 ms a pass. v2 for the crop search too would cost 6.3 ms a pass
against 1.4, so the light mesh keeps that job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bqat import _native
from bqat.decode import require_bgr
from bqat.engines.face.detector import Face
from bqat.engines.face.topology import EYE_OUTER, LEFT_IRIS, RIGHT_IRIS
from bqat.exceptions import ModelError
from bqat.models.inference import run_model

MESH_MODEL = "face_mesh"
LANDMARKER_MODEL = "face_landmarker_v2"
BLENDSHAPES_MODEL = "face_blendshapes_v2"
MESH_SIZE = 192
LANDMARKER_SIZE = 256
POINTS = 478
# The mesh ROI side relative to the bounding box of the mesh (MediaPipe's
# face_landmark_landmarks_to_roi).
FACE_ROI_SCALE = 1.5
# Pass 1 from a YuNet box: the side relative to the box's longer side, and the shift of the
# centre towards the chin in the same unit. Measured: the converged MediaPipe ROI (pass 2
# repeated until it stops moving) of the sample faces, plain, mirrored and rolled by 20 degrees,
# has side 1.21-1.42 (mean 1.33) x the box and its centre 0.03-0.09 (mean 0.05) of the box
# below the box centre. MediaPipe's own 1.5 is for its own detector's tighter box.
BOX_ROI_SCALE = 1.33
BOX_ROI_SHIFT = 0.05
# The crop search stops when a pass moves the crop less than this (see the module docstring).
MAX_SEARCH_PASSES = 6
SETTLED_DEGREES = 1.0
SETTLED_FRACTION = 0.02
# MediaPipe's kLandmarksSubsetIdxs: the 146 landmarks the blendshapes model reads, in order.
BLENDSHAPE_POINTS = tuple(
    map(
        int,
        str.split("""
    0 1 4 5 6 7 8 10 13 14 17 21 33 37 39 40 46 52 53 54 55 58 61 63 65 66 67 70 78 80 81 82 84
    87 88 91 93 95 103 105 107 109 127 132 133 136 144 145 146 148 149 150 152 153 154 155 157
    158 159 160 161 162 163 168 172 173 176 178 181 185 191 195 197 234 246 249 251 263 267 269
    270 276 282 283 284 285 288 291 293 295 296 297 300 308 310 311 312 314 317 318 321 323 324
    332 334 336 338 356 361 362 365 373 374 375 377 378 379 380 381 382 384 385 386 387 388 389
    390 397 398 400 402 405 409 415 454 466 468 469 470 471 472 473 474 475 476 477
    """),
    )
)
# The 52 scores in the model's order. "Left"/"Right" are the SUBJECT's sides: covering the
# image-right eye (the subject's left) with skin raises eyeBlinkLeft, on every sample face and on
# its mirror image (tests/engines/face/test_expression.py).
BLENDSHAPE_NAMES = str.split(
    "_neutral browDownLeft browDownRight browInnerUp browOuterUpLeft browOuterUpRight cheekPuff "
    "cheekSquintLeft cheekSquintRight eyeBlinkLeft eyeBlinkRight eyeLookDownLeft "
    "eyeLookDownRight eyeLookInLeft eyeLookInRight eyeLookOutLeft eyeLookOutRight eyeLookUpLeft "
    "eyeLookUpRight eyeSquintLeft eyeSquintRight eyeWideLeft eyeWideRight jawForward jawLeft "
    "jawOpen jawRight mouthClose mouthDimpleLeft mouthDimpleRight mouthFrownLeft mouthFrownRight "
    "mouthFunnel mouthLeft mouthLowerDownLeft mouthLowerDownRight mouthPressLeft mouthPressRight "
    "mouthPucker mouthRight mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper "
    "mouthSmileLeft mouthSmileRight mouthStretchLeft mouthStretchRight mouthUpperUpLeft "
    "mouthUpperUpRight noseSneerLeft noseSneerRight"
)


@dataclass(frozen=True, eq=False)
class Mesh:
    """The 478-point FaceLandmarker v2 mesh of one face.

    `points` is a read-only (478, 3) float64 array: x, y in image coordinates, and z, MediaPipe's
    depth relative to the centre of the head, scaled to image pixels like x and y (smaller is
    closer to the camera). Points 0-467 are the canonical mesh (same indices as MediaPipe's
    468-point model), 468-472 the subject's right iris and 473-477 the left one (centre first).
    `presence` is the sigmoid of the model's face-presence logit: near 1 when the crop holds a
    face; when it is low the points are meaningless. `passes` counts the mesh passes the crop
    search took. Equality is identity.
    """

    points: np.ndarray
    presence: float
    passes: int = 0


@dataclass(frozen=True, eq=False)
class Eye:
    """The iris of one eye, in image coordinates (read-only array).

    `centre` (2,) is the iris centre, usable as the pupil centre. `radius` is the mean distance
    of the four iris-edge points to it, in image pixels. Equality is identity.
    """

    centre: np.ndarray
    radius: float


@dataclass(frozen=True)
class Roi:
    """A square region of the image, rotated by `angle`, that a model sees as a size x size crop.

    `centre` is in image coordinates and `side` in image pixels. `angle` (radians) is the
    direction of the crop's x axis in the image, measured from the image's x axis towards its y
    axis (y points down, so a positive angle turns clockwise on screen). With `mirrored` the
    crop's x axis runs the other way: the crop is the mirror image of the unmirrored one.
    """

    centre: tuple[float, float]
    side: float
    angle: float
    mirrored: bool = False

    def affine(self, size: int) -> np.ndarray:
        """2 x 3 matrix taking crop coordinates (0..size on each axis) to image coordinates."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        flip = -1.0 if self.mirrored else 1.0
        linear = (self.side / size) * np.array([[flip * cos, -sin], [flip * sin, cos]])
        offset = np.asarray(self.centre, np.float64) - linear @ np.full(2, size / 2.0)
        return np.hstack([linear, offset[:, None]])

    def crop(self, image: np.ndarray, size: int) -> np.ndarray:
        """The (1, size, size, 3) float32 RGB tensor in 0..1 of this region, as MediaPipe's
        models take it; the area outside the image reads black."""
        matrix = self.affine(size)
        # warp_crop indexes pixel centres: shift the crop position in and the image position out.
        sampling = matrix.copy()
        sampling[:, 2] += matrix[:, :2] @ np.full(2, 0.5) - 0.5
        return _native.warp_crop(
            image, sampling, size, size, std=(255.0, 255.0, 255.0), swap_rb=True, layout="nhwc"
        )

    def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """Crop points (n, 2) or (n, 3) mapped to the image; a third column (depth) is scaled
        by side / size, the crop's pixel size in image pixels."""
        points = np.asarray(points, np.float64)
        matrix = self.affine(size)
        mapped = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
        if points.shape[1] == 2:
            return mapped
        return np.hstack([mapped, points[:, 2:] * (self.side / size)])


def face_mesh(image: np.ndarray, face: Face) -> Mesh:
    """The 478-point mesh of `face` in `image` (uint8 H x W x 3 BGR).

    The crop starts around the detector's box (see `detector_roi`), moves with the light mesh
    until it settles (see `mesh_roi` and the module docstring), and FaceLandmarker v2 runs on it.
    """
    require_bgr(image)
    roi = detector_roi(face)
    passes = 0
    while passes < MAX_SEARCH_PASSES:
        passes += 1
        moved = mesh_roi(_run_mesh(image, roi))
        settled = _settled(roi, moved)
        roi = moved
        if settled:
            break
    points, presence = _run_landmarker(image, roi)
    return Mesh(_readonly(points), presence, passes)


def eyes(mesh: Mesh) -> tuple[Eye, Eye]:
    """(subject's right eye, subject's left eye): the irises of the v2 mesh.

    The subject's right eye is the image-left one on an unmirrored photo.
    """
    return _iris(mesh.points, RIGHT_IRIS), _iris(mesh.points, LEFT_IRIS)


def blendshapes(mesh: Mesh) -> dict[str, float]:
    """MediaPipe's 52 blendshape scores (0..1) of a face, by name (see BLENDSHAPE_NAMES).

    The model reads 146 of the 478 points as (x, y) in image pixels, as MediaPipe feeds it; it
    normalises them itself (a common shift or scale changes no score), so the scores depend on
    the points' shape alone, and through it on the crop the landmarks came from: a crop 1 %
    wider moves some scores by up to 0.12 (tests/engines/face/test_expression.py).
    """
    feed = mesh.points[list(BLENDSHAPE_POINTS), :2].astype(np.float32)[None]
    name = "serving_default_input_points:0"
    output = "StatefulPartitionedCall:0"
    (scores,) = run_model(BLENDSHAPES_MODEL, {name: feed}, (output,))
    values = _rows(scores, len(BLENDSHAPE_NAMES), 1, BLENDSHAPES_MODEL, output)[:, 0]
    return {key: float(value) for key, value in zip(BLENDSHAPE_NAMES, values, strict=True)}


def detector_roi(face: Face) -> Roi:
    """The first crop: around the detector's box, rolled along its eye keypoints.

    The side is 1.33 x the box's longer side and the centre is 0.05 of it below the box centre
    (along the face's own down direction), the average converged ROI measured for YuNet's boxes;
    see BOX_ROI_SCALE. A first crop that already frames the face as the model expects needs
    fewer passes to settle.
    """
    left, top, right, bottom = face.box
    size = max(right - left, bottom - top)
    angle = _direction(face.keypoints[0], face.keypoints[1])
    down = (-math.sin(angle), math.cos(angle))
    shift = BOX_ROI_SHIFT * size
    centre = ((left + right) / 2.0 + shift * down[0], (top + bottom) / 2.0 + shift * down[1])
    return Roi(centre, BOX_ROI_SCALE * size, angle)


def mesh_roi(points: np.ndarray) -> Roi:
    """The crop around a mesh: the points' bounding box x 1.5 (longer side), rolled along
    33 -> 263 (MediaPipe's landmarks-to-ROI).

    The box is taken in the rolled frame, not the image's axes as MediaPipe does: an
    axis-aligned box grows as the head rolls, so the crop would depend on the roll and the mesh
    would not turn with the image. For a level face both boxes are the same.
    """
    angle = _direction(points[EYE_OUTER[0]], points[EYE_OUTER[1]])
    cos, sin = math.cos(angle), math.sin(angle)
    to_rolled = np.array([[cos, sin], [-sin, cos]])
    rolled = points[:, :2] @ to_rolled.T
    low, high = rolled.min(axis=0), rolled.max(axis=0)
    centre = to_rolled.T @ ((low + high) / 2.0)
    side = FACE_ROI_SCALE * float(np.max(high - low))
    return Roi((float(centre[0]), float(centre[1])), side, angle)


def _settled(before: Roi, after: Roi) -> bool:
    turn = abs(math.remainder(after.angle - before.angle, math.tau))
    shift = math.dist(after.centre, before.centre)
    return (
        math.degrees(turn) < SETTLED_DEGREES
        and shift < SETTLED_FRACTION * after.side
        and abs(after.side - before.side) < SETTLED_FRACTION * after.side
    )


def _direction(start: np.ndarray, end: np.ndarray) -> float:
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def _iris(points: np.ndarray, first: int) -> Eye:
    centre = points[first, :2].copy()
    radius = float(np.mean(np.linalg.norm(points[first + 1 : first + 5, :2] - centre, axis=1)))
    return Eye(_readonly(centre), radius)


def _run_mesh(image: np.ndarray, roi: Roi) -> np.ndarray:
    """The light mesh's 468 points for one crop (only used to place the next crop)."""
    outputs = ("conv2d_21",)
    (raw,) = run_model(MESH_MODEL, {"input_1": roi.crop(image, MESH_SIZE)}, outputs)
    return roi.to_image(_rows(raw, 468, 3, MESH_MODEL, outputs[0]), MESH_SIZE)


def _run_landmarker(image: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
    outputs = ("Identity", "Identity_1")
    crop = roi.crop(image, LANDMARKER_SIZE)
    raw, logit = run_model(LANDMARKER_MODEL, {"input_12": crop}, outputs)
    points = roi.to_image(_rows(raw, POINTS, 3, LANDMARKER_MODEL, outputs[0]), LANDMARKER_SIZE)
    presence = _sigmoid(float(_rows(logit, 1, 1, LANDMARKER_MODEL, outputs[1])[0, 0]))
    return points, presence


def _rows(values: np.ndarray, count: int, width: int, model: str, output: str) -> np.ndarray:
    """A model output as (count, width) float64 rows, or `ModelError` when its size is wrong."""
    if values.size != count * width:
        raise ModelError(
            f"model {model}: output {output} has shape {values.shape}, "
            f"expected {count * width} values"
        )
    return values.reshape(count, width).astype(np.float64)


def _sigmoid(logit: float) -> float:
    # Written so that exp never overflows, whatever the sign of the logit.
    if logit >= 0.0:
        return 1.0 / (1.0 + math.exp(-logit))
    odds = math.exp(logit)
    return odds / (1.0 + odds)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
