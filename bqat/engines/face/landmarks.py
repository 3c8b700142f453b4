"""MediaPipe's 468-point face mesh and iris landmarks, in original-image coordinates.

Both models see a square crop of the image, rotated so the eyes are level (`Roi`), and answer in
crop pixels. Each answer is mapped back to the image through the very matrix that made its
crop (`Roi.affine`), so the crop and the way back cannot disagree.

Pixel convention (decided here, tested in tests/engines/face/test_landmarks.py). Coordinates are
continuous with the origin at the top-left corner of the top-left pixel, as in
`bqat.engines.face.detector`: pixel (i, j) covers [j, j + 1) x [i, i + 1). A crop of `size`
pixels spans [0, size] in the same convention, which is what MediaPipe means by its landmark
coordinates (they are normalised by the crop size, 0 and 1 being the crop's outer edges). The native
`warp_crop` kernel, in contrast, indexes pixels by their centres (source pixel j is sampled at
x = j), so the matrix it gets is shifted by half a pixel on both sides: crop pixel i has its
centre at i + 0.5 and reads the image at (its image position) - 0.5.

Passes. The mesh runs twice, as MediaPipe's tracking does: first on a crop around the detector's
box, then on a crop around its own first answer, which frames the face the way the model was
trained (the first crop comes from another detector's box, so it can only approximate that
framing). Only the second answer is returned. Each eye then gets its own crop for the iris model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bqat import _native
from bqat.decode import require_bgr
from bqat.engines.face.detector import Face
from bqat.engines.face.topology import EYE_OUTER, LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
from bqat.exceptions import ModelError
from bqat.models.inference import run_model

MESH_MODEL = "face_mesh"
IRIS_MODEL = "iris_landmark"
MESH_SIZE = 192
IRIS_SIZE = 64
# The mesh ROI side relative to the bounding box of the mesh (MediaPipe's
# face_landmark_landmarks_to_roi) and the iris ROI side relative to the eye-corner distance
# (iris_landmark_landmarks_to_roi).
FACE_ROI_SCALE = 1.5
EYE_ROI_SCALE = 2.3
# Pass 1 from a YuNet box: the side relative to the box's longer side, and the shift of the
# centre towards the chin in the same unit. Measured: the converged MediaPipe ROI (pass 2
# repeated until it stops moving) of the sample faces, plain, mirrored and rolled by 20 degrees,
# has side 1.21-1.42 (mean 1.33) x the box and its centre 0.03-0.09 (mean 0.05) of the box
# below the box centre. MediaPipe's own 1.5 is for its own detector's tighter box.
BOX_ROI_SCALE = 1.33
BOX_ROI_SHIFT = 0.05


@dataclass(frozen=True, eq=False)
class Mesh:
    """The 468-point face mesh of one face.

    `points` is a read-only (468, 3) float64 array: x, y in image coordinates, and z, MediaPipe's
    depth relative to the centre of the head, scaled to image pixels like x and y (smaller is
    closer to the camera). `presence` is the sigmoid of the model's face-presence logit: near 1
    when the crop holds a face; when it is low the points are meaningless. Equality is identity.
    """

    points: np.ndarray
    presence: float


@dataclass(frozen=True, eq=False)
class Eye:
    """The iris and eye contour of one eye, in image coordinates (read-only arrays).

    `centre` (2,) is the iris centre, the model's point 0, usable as the pupil centre. `radius`
    is the mean distance of the model's four iris-edge points to it, in image pixels. `contour`
    (71, 2) holds the eyelid contour and brow points of output_eyes_contours_and_brows in the
    model's order, which is anatomical: as the subject's left eye is seen mirrored, an index
    names the same part (say, the outer corner) of either eye. Equality is identity.
    """

    centre: np.ndarray
    radius: float
    contour: np.ndarray


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
    """The 468-point mesh of `face` in `image` (uint8 H x W x 3 BGR), from two passes.

    Pass 1 crops around the detector's box (see `detector_roi`), rolled by the line from the
    subject's right eye keypoint to the left one. Pass 2 crops around pass 1's points (see
    `mesh_roi`) and is returned.
    """
    require_bgr(image)
    first = _run_mesh(image, detector_roi(face))
    return _run_mesh(image, mesh_roi(first.points))


def eyes(image: np.ndarray, mesh: Mesh) -> tuple[Eye, Eye]:
    """(subject's right eye, subject's left eye) of a face, from its mesh.

    The subject's right eye (mesh corners 33/133) is the image-left one on an unmirrored photo.
    The iris model was trained on that eye only, so the other eye's crop is mirrored (the
    `Roi.mirrored` matrix), and mapping its answer back through the same matrix mirrors it back.
    """
    require_bgr(image)
    right = _run_iris(image, eye_roi(mesh.points, RIGHT_EYE_CORNERS, mirrored=False))
    left = _run_iris(image, eye_roi(mesh.points, LEFT_EYE_CORNERS, mirrored=True))
    return right, left


def detector_roi(face: Face) -> Roi:
    """Mesh pass 1: around the detector's box, rolled along its eye keypoints.

    The side is 1.33 x the box's longer side and the centre is 0.05 of it below the box centre
    (along the face's own down direction), the average converged ROI measured for YuNet's boxes;
    see BOX_ROI_SCALE. A first crop that already frames the face as the model expects leaves
    pass 2 closer to where further passes would settle: on the samples this halved pass 2's
    distance to the converged mesh (worst case 1.7 % to 0.8 % of the eye distance) and its
    change under a 10 degree rotation (2.0 % to 0.8 %), against the recipe's 1.5 x from the
    box centre.
    """
    left, top, right, bottom = face.box
    size = max(right - left, bottom - top)
    angle = _direction(face.keypoints[0], face.keypoints[1])
    down = (-math.sin(angle), math.cos(angle))
    shift = BOX_ROI_SHIFT * size
    centre = ((left + right) / 2.0 + shift * down[0], (top + bottom) / 2.0 + shift * down[1])
    return Roi(centre, BOX_ROI_SCALE * size, angle)


def mesh_roi(points: np.ndarray) -> Roi:
    """Mesh pass 2: the points' bounding box x 1.5 (longer side), rolled along 33 -> 263.

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


def eye_roi(points: np.ndarray, corners: tuple[int, int], *, mirrored: bool) -> Roi:
    """An iris crop: centred between the two corners, side 2.3 x their distance, rolled along
    the line from the first corner to the second."""
    start, end = points[corners[0], :2], points[corners[1], :2]
    side = EYE_ROI_SCALE * float(np.linalg.norm(end - start))
    centre = (start + end) / 2.0
    return Roi((float(centre[0]), float(centre[1])), side, _direction(start, end), mirrored)


def _direction(start: np.ndarray, end: np.ndarray) -> float:
    return math.atan2(float(end[1] - start[1]), float(end[0] - start[0]))


def _run_mesh(image: np.ndarray, roi: Roi) -> Mesh:
    outputs = ("conv2d_21", "conv2d_31")
    raw, logit = run_model(MESH_MODEL, {"input_1": roi.crop(image, MESH_SIZE)}, outputs)
    points = roi.to_image(_rows(raw, 468, 3, MESH_MODEL, outputs[0]), MESH_SIZE)
    presence = _sigmoid(float(_rows(logit, 1, 1, MESH_MODEL, outputs[1])[0, 0]))
    return Mesh(_readonly(points), presence)


def _run_iris(image: np.ndarray, roi: Roi) -> Eye:
    outputs = ("output_eyes_contours_and_brows", "output_iris")
    contour, iris = run_model(IRIS_MODEL, {"input_1": roi.crop(image, IRIS_SIZE)}, outputs)
    iris_points = roi.to_image(_rows(iris, 5, 3, IRIS_MODEL, outputs[1])[:, :2], IRIS_SIZE)
    centre = iris_points[0]
    radius = float(np.mean(np.linalg.norm(iris_points[1:] - centre, axis=1)))
    contour_points = roi.to_image(_rows(contour, 71, 3, IRIS_MODEL, outputs[0])[:, :2], IRIS_SIZE)
    return Eye(_readonly(centre), radius, _readonly(contour_points))


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
