"""Expressions from MediaPipe's blendshapes: agreement with MediaPipe's own FaceLandmarker on the
sample faces, which side "Left" names, and closed eyes made by covering them with skin.

Expected values come from MediaPipe 0.10.21's FaceLandmarker run on the samples
(../shared/reference/face-landmarker-v2-outputs.json) and from the construction of the test
images (an eye covered with skin is closed; a mirror image swaps the subject's sides).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import bqat
from bqat.decode import decode_image
from bqat.engines.engine import record
from bqat.engines.face import ENGINE
from bqat.engines.face.context import build_context
from bqat.engines.face.options import FaceOptions

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "face"
SAMPLE_NAMES = sorted(path.stem for path in SAMPLES.glob("*.jpg"))

# The eye-opening outline of each eye (corners and lids) in the 478-point mesh.
RIGHT_EYE = (33, 133, 160, 144, 159, 145, 158, 153, 157, 154)  # the subject's right, image-left
LEFT_EYE = (362, 263, 385, 380, 386, 374, 387, 373, 384, 381)
# The record reads these scores; MediaPipe's image-mode crop comes from its own face detector
# (BlazeFace, not shipped), ours from its tracking rule (the mesh's box x 1.5), and the scores
# move by up to 0.1 with the crop (measured over crop scales 1.3-1.6). On the samples ours are
# within 0.037 of MediaPipe's for these, so 0.05 is the tolerance; scores the record does not
# read (eyeSquint, mouthPucker, browInnerUp) differ by up to 0.24 and are not compared.
USED = ("eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "jawOpen")


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
