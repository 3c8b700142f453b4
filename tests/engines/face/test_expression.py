"""Expressions from MediaPipe's blendshapes: agreement with MediaPipe's own FaceLandmarker on the
sample faces, which side "Left" names, and closed eyes made by covering them with skin.

Expected values come from MediaPipe 0.10.21's FaceLandmarker run on the samples
(../shared/reference/face-landmarker-v2-outputs.json) and from the construction of the test
images (an eye covered with skin is closed; a mirror image swaps the subject's sides).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import bqat
from bqat.decode import decode_image
from bqat.engines.engine import record
from bqat.engines.face import ENGINE
from bqat.engines.face.context import build_context
from bqat.engines.face.landmarks import LANDMARKER_MODEL, LANDMARKER_SIZE, Mesh, Roi, blendshapes
from bqat.engines.face.options import FaceOptions
from bqat.models.inference import run_model

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "face"
SAMPLE_NAMES = sorted(path.stem for path in SAMPLES.glob("*.jpg"))

# The eye-opening outline of each eye (corners and lids) in the 478-point mesh.
RIGHT_EYE = (33, 133, 160, 144, 159, 145, 158, 153, 157, 154)  # the subject's right, image-left
LEFT_EYE = (362, 263, 385, 380, 386, 374, 387, 373, 384, 381)
# The record reads these scores. MediaPipe's image mode crops 1.5 x the box of its own face
# detector (BlazeFace, not shipped), rolled along BlazeFace's eye keypoints; ours is the settled
# tracking crop (the mesh's box x 1.5), 6-18 % wider and 2-6 % of its side higher on the samples.
# The scores follow the crop closely: on MediaPipe's own crop a 1 % wider one moves them by up to
# 0.12, half a pixel by up to 0.05. On the samples ours are within 0.037 of MediaPipe's for these,
# so 0.05 is the tolerance; scores the record does not read (eyeSquint, mouthPucker,
# browInnerUp) differ by up to 0.24 and are not compared.
USED = ("eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "jawOpen")
# MediaPipe 0.10.21's own BlazeFace (short range) detections of the samples, as it reports them
# (normalised by the image size): box (left, top, width, height), the image-left then the
# image-right eye keypoint (legacy face_detection solution). Faces whose crop MediaPipe reduces
# about 4x or more (268284860_1, stateless_face) are left out: there the scores below still miss
# by 0.03-0.05, and MediaPipe's own detector graphs disagree (its Tasks FaceDetector, same model,
# puts 268284860_1's box 4 px higher, and from that box the face is within 0.02).
BLAZEFACE = {
    "268625316_1": ((0.26638, 0.28924, 0.47109, 0.37673), (0.41607, 0.39511), (0.60761, 0.40504)),
    "269968666_1": ((0.37774, 0.19788, 0.42292, 0.5816), (0.47638, 0.39225), (0.64648, 0.36507)),
    "271207560_1": ((0.32962, 0.30357, 0.34623, 0.34621), (0.38553, 0.40816), (0.52353, 0.38617)),
    "271207626_1": ((0.34233, 0.27693, 0.30841, 0.33476), (0.47504, 0.36399), (0.60308, 0.34311)),
    "271207685_1": ((0.15838, 0.25022, 0.46175, 0.39333), (0.24017, 0.34549), (0.41766, 0.34087)),
}


def assess_bgr(image: np.ndarray) -> dict:
    return bqat.assess(np.ascontiguousarray(image[:, :, ::-1]), "face")


@pytest.fixture(scope="module")
def reference(shared) -> dict[str, dict[str, float]]:
    path = shared / "reference" / "face-landmarker-v2-outputs.json"
    return {name[:-4]: entry["blendshapes"] for name, entry in json.loads(path.read_text()).items()}


@pytest.fixture(scope="module")
def contexts(samples) -> dict:
    return {
        name: build_context(decode_image(samples / "face" / f"{name}.jpg"), None, FaceOptions())
        for name in SAMPLE_NAMES
    }


def cover_with_skin(image: np.ndarray, points: np.ndarray, outline: tuple[int, ...]) -> np.ndarray:
    """`image` with the eye inside `outline` painted over by the skin around it: an ellipse
    1.5 x 0.9 the eye's width, filled with the median colour of a ring of skin around the eye,
    its edge feathered."""
    eye = points[list(outline), :2]
    centre = tuple(int(v) for v in eye.mean(axis=0))
    width = float(np.linalg.norm(eye[1] - eye[0]))
    ring = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(ring, centre, (int(1.2 * width), int(0.9 * width)), 0, 0, 360, 1, -1)
    cv2.ellipse(ring, centre, (int(0.8 * width), int(0.55 * width)), 0, 0, 360, 0, -1)
    skin = np.median(image[ring.astype(bool)], axis=0)
    patch = np.zeros(image.shape[:2], np.float32)
    cv2.ellipse(patch, centre, (int(0.75 * width), int(0.45 * width)), 0, 0, 360, 1, -1)
    patch = cv2.GaussianBlur(patch, (0, 0), 0.08 * width)[:, :, None]
    return np.clip(image * (1 - patch) + skin * patch, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_the_scores_the_record_reads_agree_with_mediapipes_own(contexts, reference, name):
    ours = contexts[name].blendshapes
    for key in USED:
        assert ours[key] == pytest.approx(reference[name][key], abs=0.05), key


@pytest.mark.parametrize("name", sorted(BLAZEFACE))
def test_on_mediapipes_own_crop_every_score_matches_mediapipe(face_images, reference, name):
    """The 146-point subset, its (x, y) on one scale for both axes and the crop's RGB in 0..1 are
    MediaPipe's: on the crop MediaPipe's image mode takes (1.5 x its BlazeFace box, rolled along
    the eye keypoints, sampled bilinearly with the box corners on the corner pixels' centres and
    the border replicated, as its OpenCV ImageToTensor does), every reference score is matched
    within 0.015 (0.012 measured). Measured misses: a -1..1 input 0.12, half a pixel 0.05; the
    subset reversed, x and y swapped or scaled apart fail here, while a common shift or scale of
    the points changes nothing (the model normalises them itself)."""
    image = face_images[name]
    height, width = image.shape[:2]
    (left, top, box_width, box_height), right_eye, left_eye = BLAZEFACE[name]
    centre = ((left + box_width / 2) * width, (top + box_height / 2) * height)
    angle = math.atan2((left_eye[1] - right_eye[1]) * height, (left_eye[0] - right_eye[0]) * width)
    roi = Roi(centre, 1.5 * box_width * width, angle)
    to_image = roi.affine(LANDMARKER_SIZE)
    size = (LANDMARKER_SIZE, LANDMARKER_SIZE)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    crop = cv2.warpAffine(image, to_image, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    tensor = np.ascontiguousarray(crop[None, :, :, ::-1], np.float32) / 255.0
    (raw,) = run_model(LANDMARKER_MODEL, {"input_12": tensor}, ("Identity",))
    points = roi.to_image(raw.reshape(-1, 3), LANDMARKER_SIZE)
    ours = blendshapes(Mesh(points, presence=1.0))
    for key, expected in reference[name].items():
        assert ours[key] == pytest.approx(expected, abs=0.015), key


def test_only_the_broad_smile_is_a_smile(contexts, reference):
    """MediaPipe: mouthSmile 0.78/0.82 on 268625316_1, <= 0.11 on every other sample."""
    smiling = {
        name
        for name, ref in reference.items()
        if (ref["mouthSmileLeft"] + ref["mouthSmileRight"]) / 2 > 0.5
    }
    assert smiling == {"268625316_1"}
    for name, ctx in contexts.items():
        values = record(ENGINE.measures, ctx)
        assert values["smile"] is (name in smiling), name
        assert values["smile_score"] == pytest.approx(
            (reference[name]["mouthSmileLeft"] + reference[name]["mouthSmileRight"]) / 2, abs=0.05
        )
        # Every sample eye is open (MediaPipe: eyeBlink <= 0.17).
        assert values["eye_closed_left"] is False and values["eye_closed_right"] is False, name
        # Neutrality: 1 - the strongest expression, so about 0.2 for the broad smile.
        neutral = values["iso_expression_neutrality"]
        assert (neutral < 0.5) if name in smiling else (neutral > 0.85), name


@pytest.mark.parametrize("name", ["268625316_1", "stateless_face"])
def test_left_names_the_subjects_left_eye_in_an_image_and_its_mirror(contexts, face_images, name):
    """Covering the image-right eye (the subject's left) raises eyeBlinkLeft; in the mirror image
    the same covered eye is the subject's right (image-left) and raises eyeBlinkRight."""
    image, points = face_images[name], contexts[name].mesh.points
    before = assess_bgr(image)
    covered = cover_with_skin(image, points, LEFT_EYE)
    after = assess_bgr(covered)
    drop_left = before["eye_openness_left"] - after["eye_openness_left"]
    drop_right = before["eye_openness_right"] - after["eye_openness_right"]
    assert drop_left > 0.15
    assert drop_left > drop_right + 0.1
    mirrored = assess_bgr(np.ascontiguousarray(covered[:, ::-1]))
    assert mirrored["eye_openness_right"] < mirrored["eye_openness_left"] - 0.1


@pytest.mark.parametrize("name", ["268625316_1", "271207560_1", "271207626_1"])
def test_covering_both_eyes_closes_them_and_lowers_eyes_open(contexts, face_images, name):
    image, points = face_images[name], contexts[name].mesh.points
    before = assess_bgr(image)
    covered = cover_with_skin(cover_with_skin(image, points, RIGHT_EYE), points, LEFT_EYE)
    closed = assess_bgr(covered)
    assert closed["eye_closed_left"] is True and closed["eye_closed_right"] is True
    assert closed["iso_eyes_open"] < before["iso_eyes_open"] / 2
    assert closed["iso_eyes_open_scalar"] < before["iso_eyes_open_scalar"] - 15
