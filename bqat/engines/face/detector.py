"""Face detection with YuNet through ONNX Runtime: a box, a score and five keypoints per face.

Model. libfacedetection's `yunet_s_dynamic` (registry name "yunet_s_dynamic"): the network of
the verified 640 x 640 file (opencv_zoo's 2023mar YuNet) with a dynamic batch, height and width.
The larger `yunet_n_dynamic` was measured against it on the sample faces (plain, mirrored,
rolled by 10-45 degrees, shrunk to 60-120 px) and on non-face images and noise: the same faces
were found with scores within 0.02, and neither model's keypoints were closer to the mesh's
(both are 5-20 % of the inter-eye distance off), while `s` ran 1.5x faster (5 ms against
7.6 ms for a 640 x 640 canvas on 2 threads; 11 against 18 ms on 1).

Canvas. Every image is letterboxed by the native kernel (one bilinear resize, top-left corner,
zero padding; BGR, raw 0..255, NCHW) into a square canvas of side `max_side`, scaled by the one
factor that makes its longer side fill the canvas. The canvas is the same for every image, on
purpose, rather than the smallest multiple-of-32 tensor around each image:

- YuNet's receptive field at stride 32 spans hundreds of pixels, so how much padding an image
  gets changes the raw outputs far from the padding (measured on the sample faces: raw outputs
  change by up to 3 for anchors as far as 200 px from the padded edge). If the tensor
  size depended on the batch, a sample's faces would depend on which other samples it was batched
  with. With one canvas, `detect_faces(x)` and `detect_faces_batch([..., x, ...])` agree to float
  rounding, and a batch needs no per-image copies: each image is written straight into its slot.
- Large images are scaled down to the canvas, which keeps the cost per image fixed.
- Small images are scaled up to the canvas. Upscaling costs nothing extra (the canvas is fixed),
  gives small faces more than a few cells of YuNet's finest (8 px) anchor grid, and matches the
  verified recipe: the 640 x 640 model with the image fitted in. A 96 px portrait still gives
  its face (tested).

Scales (`find_faces`). A fixed canvas divides a large image by its size: a 3000 px frame on the
320 px canvas shows a 150-200 px face (inter-eye distance about 70 px) at 16-21 px, below what
YuNet finds. Measured on the sample faces pasted into a 3000 x 2000 textured frame, YuNet finds
a face once its inter-eye distance (IED) is about 9 px or more on the canvas (7 of 7 faces at
8.3 px and above, 5 of 7 at 6.8 px). `find_faces` therefore runs the 320 px canvas first, which
finds every portrait (IED >= 32 px and the face at least a tenth of the longer side) at today's
cost, and only when it finds nothing, a second canvas sized so that an IED of `MIN_IED` = 32
original pixels spans `CANVAS_IED` = 10 canvas pixels: faces with IED >= 32 px are promised in
images of any size. That second pass costs (side / 320)^2 times the first (about 9x for a
3000 px image: a 960 px canvas) and is paid only by images whose faces are small or absent.

Coordinates. All coordinates are continuous image coordinates whose origin is the top-left
corner of the top-left pixel: pixel (row i, column j) covers [j, j + 1) x [i, i + 1) and its centre
is at (j + 0.5, i + 0.5). This is the convention of YuNet's anchors, of the letterbox kernel's
resize (cv2.INTER_LINEAR) and of MediaPipe's normalised landmarks, so scaling an image by f
scales every coordinate by exactly f and mirroring it maps x to width - x.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bqat import _native
from bqat.decode import require_bgr
from bqat.exceptions import ConfigError, ModelError
from bqat.models.inference import run_model

MODEL = "yunet_s_dynamic"
COARSE_SIDE = 320
MIN_IED = 32.0
CANVAS_IED = 10.0
NMS_IOU = 0.3
_STRIDES = (8, 16, 32)
_HEADS = ("cls", "obj", "bbox", "kps")
_OUTPUTS = tuple(f"{head}_{stride}" for stride in _STRIDES for head in _HEADS)
_WIDTHS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in original-image coordinates (see the module docstring).

    `box` is (left, top, right, bottom) as floats, not clamped to the image: a face cut by the
    border keeps the model's estimate of its full extent, which the crops downstream rely on.
    `score` is sqrt(cls * obj) in 0..1. `keypoints` is a read-only (5, 2) float64 array in YuNet's
    order: the subject's right eye, the subject's left eye, the nose tip, the subject's right
    mouth corner, the subject's left mouth corner (on an unmirrored photo the subject's right eye
    is on the image's left). Equality is identity: comparing arrays field by field is ambiguous.
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


def detect_faces(image: np.ndarray, *, min_score: float = 0.6, max_side: int = 640) -> list[Face]:
    """Faces in one upright uint8 H x W x 3 BGR image, best score first, after NMS (IoU 0.3).

    `min_score` drops candidates scoring below it before NMS. `max_side` is the side of the
    square detector canvas (a multiple of 32); the image is scaled so its longer side fills it.
    The result is identical to that image's entry in `detect_faces_batch`.
    """
    return detect_faces_batch([image], min_score=min_score, max_side=max_side)[0]


def find_faces(image: np.ndarray, *, min_score: float = 0.6) -> list[Face]:
    """Faces in one image at the scales it needs: the coarse canvas, then, only when that finds
    none, a canvas on which the smallest promised face (IED >= MIN_IED px) is big enough
    (see "Scales" in the module docstring)."""
    faces = detect_faces(image, min_score=min_score, max_side=COARSE_SIDE)
    side = fine_side(image.shape[0], image.shape[1])
    if faces or side <= COARSE_SIDE:
        return faces
    return detect_faces(image, min_score=min_score, max_side=side)


def fine_side(height: int, width: int) -> int:
    """The canvas side (a multiple of 32) that shows an IED of MIN_IED pixels as CANVAS_IED."""
    return 32 * math.ceil(max(height, width) * CANVAS_IED / MIN_IED / 32)


def detect_faces_batch(
    images: Sequence[np.ndarray], *, min_score: float = 0.6, max_side: int = 640
) -> list[list[Face]]:
    """`detect_faces` for several images of any sizes with one ONNX Runtime run.

    All images share one (N, 3, max_side, max_side) canvas tensor, so memory grows by
    12 * max_side**2 bytes per image: batch in chunks of a few dozen.
    """
    _check_options(min_score, max_side)
    for image in images:
        require_bgr(image)
    if len(images) == 0:
        return []
    canvas, scales = _letterbox_all(images, max_side)
    outputs = dict(zip(_OUTPUTS, run_model(MODEL, {"input": canvas}, _OUTPUTS), strict=True))
    return [
        _faces(*_candidates(outputs, index, max_side, min_score), scale)
        for index, scale in enumerate(scales)
    ]


def _check_options(min_score: float, max_side: int) -> None:
    if not 0.0 <= min_score <= 1.0:
        raise ConfigError(f"min_score must lie in [0, 1], got {min_score}")
    if not isinstance(max_side, int) or max_side < 32 or max_side % 32:
        # YuNet's coarsest stride is 32: other sizes would shift the anchor grids.
        raise ConfigError(f"max_side must be a positive multiple of 32, got {max_side}")


def _letterbox_all(images: Sequence[np.ndarray], side: int) -> tuple[np.ndarray, list[float]]:
    """The batch canvas, each image written into its slot, and each image's scale factor."""
    # Every element is written by the kernel (pixels or padding), so no zero-fill is needed.
    canvas = np.empty((len(images), 3, side, side), np.float32)
    scales = [
        _native.letterbox(image, side, side, out=canvas, index=index)[1]
        for index, image in enumerate(images)
    ]
    return canvas, scales


def _candidates(
    outputs: dict[str, np.ndarray], index: int, side: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores (n,), boxes (n, 4) and keypoints (n, 5, 2) in canvas pixels of the anchors of
    image `index` scoring at least `min_score`, over all strides."""
    scores, boxes, keypoints = [], [], []
    for stride in _STRIDES:
        grid = side // stride
        cls, obj, bbox, kps = (_head(outputs, head, stride, index, grid) for head in _HEADS)
        score = np.sqrt(np.clip(cls[:, 0], 0.0, 1.0) * np.clip(obj[:, 0], 0.0, 1.0))
        keep = np.flatnonzero(score >= min_score)
        row, column = np.divmod(keep, grid)
        anchor = np.stack([column, row], axis=1).astype(np.float64)
        offsets = bbox[keep].astype(np.float64)
        centre = (anchor + offsets[:, :2]) * stride
        half = np.exp(offsets[:, 2:]) * stride / 2.0
        scores.append(score[keep].astype(np.float64))
        boxes.append(np.hstack([centre - half, centre + half]))
        points = kps[keep].astype(np.float64).reshape(-1, 5, 2)
        keypoints.append((points + anchor[:, None, :]) * stride)
    return np.concatenate(scores), np.concatenate(boxes), np.concatenate(keypoints)


def _head(
    outputs: dict[str, np.ndarray], head: str, stride: int, index: int, grid: int
) -> np.ndarray:
    """One output head of image `index` as (grid * grid, width), after checking its shape.

    A dynamic-shape YuNet gives (N, (H / s) * (W / s), width) per stride s, anchors in row-major
    order; anything else means the file is not the model this decoder was written for.
    """
    values = outputs[f"{head}_{stride}"]
    expected = (grid * grid, _WIDTHS[head])
    if values.ndim != 3 or values.shape[1:] != expected:
        raise ModelError(
            f"model {MODEL}: output {head}_{stride} has shape {values.shape}, "
            f"expected (batch, {expected[0]}, {expected[1]})"
        )
    return values[index]


def _faces(
    scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, scale: float
) -> list[Face]:
    """NMS over the candidates, then canvas pixels divided by the letterbox scale."""
    faces = []
    for keep in _nms(boxes, scores, NMS_IOU):
        points = keypoints[keep] / scale
        points.flags.writeable = False
        left, top, right, bottom = (float(v) for v in boxes[keep] / scale)
        faces.append(Face((left, top, right, bottom), float(scores[keep]), points))
    return faces


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression: indices kept, best score first.

    A candidate is dropped when its IoU with a better kept one exceeds `iou`, as in
    cv2.dnn.NMSBoxes. The sort is stable, so equal scores keep anchor order and the result is
    deterministic.
    """
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        order = rest[_iou(boxes[best], boxes[rest]) <= iou]
    return kept


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one (left, top, right, bottom) box with each of `others`."""
    low = np.maximum(box[:2], others[:, :2])
    high = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(others[:, 2:] - others[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, np.finfo(np.float64).tiny)
