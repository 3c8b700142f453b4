"""YuNet face detection: one face per sample, agreement with OpenCV's own YuNet runner, the
keypoint order, equivariance under mirroring and scaling, batches, and the errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_transforms import mirror, shrink_by_half

from bqat import ConfigError, InputError, ModelError
from bqat.engines.face import detector
from bqat.engines.face.detector import Face, detect_faces, detect_faces_batch
from bqat.models import registry, runtime

# YuNet's keypoints after a left-right swap: the subject's eyes and mouth corners trade places.
MIRRORED_ORDER = [1, 0, 2, 4, 3]


def only_face(image: np.ndarray) -> Face:
    faces = detect_faces(image)
    assert len(faces) == 1, [face.score for face in faces]
    return faces[0]


def face_size(face: Face) -> float:
    left, top, right, bottom = face.box
    return max(right - left, bottom - top)


def eye_distance(face: Face) -> float:
    return float(np.linalg.norm(face.keypoints[1] - face.keypoints[0]))


def box_iou(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    inter = max(width, 0.0) * max(height, 0.0)
    areas = [(box[2] - box[0]) * (box[3] - box[1]) for box in (first, second)]
    return inter / (sum(areas) - inter)


def opencv_reference(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Box (l, t, r, b), keypoints (5, 2) and score of the best face from cv2.FaceDetectorYN
    with the 640 x 640 model, on the image resized to fit 640 x 640 (models.md, section 3)."""
    height, width = image.shape[:2]
    scale = 640 / max(height, width)
    size = (round(width * scale), round(height * scale))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    model = cv2.FaceDetectorYN.create(str(registry.resolve("yunet_640")), "", size, 0.6, 0.3)
    _, found = model.detect(resized)
    assert found is not None and len(found) == 1
    row = found[0].astype(np.float64)
    factors = np.array([size[0] / width, size[1] / height])
    box = np.concatenate([row[:2], row[:2] + row[2:4]]) / np.tile(factors, 2)
    return box, row[4:14].reshape(5, 2) / factors, float(row[14])


def test_every_sample_face_gives_exactly_one_confident_face(face_image):
    face = only_face(face_image)
    assert face.score > 0.8
    assert face.keypoints.shape == (5, 2)
    assert face.keypoints.dtype == np.float64


def test_detections_agree_with_opencvs_yunet_runner(face_image):
    """yunet_s_dynamic is the network of the 640 x 640 file, so what is left to differ is the
    resize and the decoding: OpenCV's letterbox, anchors, NMS and mapping back against ours."""
    face = only_face(face_image)
    box, keypoints, score = opencv_reference(face_image)
    assert np.abs(np.array(face.box) - box).max() < 0.01 * face_size(face)
    assert np.linalg.norm(face.keypoints - keypoints, axis=1).max() < 0.02 * eye_distance(face)
    assert face.score == pytest.approx(score, abs=0.01)


def test_the_subjects_right_eye_and_mouth_corner_come_first_and_lie_image_left(face_image):
    right_eye, left_eye, nose, right_mouth, left_mouth = only_face(face_image).keypoints
    assert right_eye[0] < nose[0] < left_eye[0]
    assert right_mouth[0] < left_mouth[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


def test_mirroring_the_image_mirrors_the_face_and_swaps_its_sides(face_image):
    """YuNet is not mirror-symmetric: its keypoints move by up to 20 % of the eye distance
    between an image and its mirror (measured on the samples). A wrong swap of the sides would
    move them by about 100 %."""
    face = only_face(face_image)
    flipped, move = mirror(face_image)
    seen = only_face(flipped)
    expected = move(face.keypoints)[MIRRORED_ORDER]
    assert np.linalg.norm(seen.keypoints - expected, axis=1).max() < 0.25 * eye_distance(face)
    left, top, right, bottom = face.box
    (mirrored_left, _), (mirrored_right, _) = move(np.array([[right, top], [left, bottom]]))
    expected_box = [mirrored_left, top, mirrored_right, bottom]
    assert np.abs(np.array(seen.box) - expected_box).max() < 0.06 * face_size(face)


def test_half_the_image_size_gives_half_the_box(face_image):
    face = only_face(face_image)
    half, move = shrink_by_half(face_image)
    seen = only_face(half)
    expected = move(np.array(face.box).reshape(2, 2)).reshape(4)
    assert np.abs(np.array(seen.box) - expected).max() < 0.04 * face_size(face) / 2


def test_a_96_pixel_portrait_is_scaled_up_and_still_gives_its_face(face_image):
    face = only_face(face_image)
    factor = 96 / max(face_image.shape[:2])
    size = (round(face_image.shape[1] * factor), round(face_image.shape[0] * factor))
    seen = only_face(cv2.resize(face_image, size, interpolation=cv2.INTER_AREA))
    assert seen.score > 0.8
    expected = np.array(face.box) * factor
    assert np.abs(np.array(seen.box) - expected).max() < 0.05 * face_size(face) * factor


@pytest.mark.parametrize("value", [0, 128, 255])
def test_a_uniform_image_has_no_face(value):
    assert detect_faces(np.full((480, 640, 3), value, np.uint8)) == []


@pytest.mark.parametrize("seed", range(3))
def test_random_noise_has_no_face(seed):
    noise = np.random.default_rng(seed).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    assert detect_faces(noise) == []


def test_grey_images_with_three_equal_channels_give_the_same_face(face_image):
    grey = cv2.cvtColor(cv2.cvtColor(face_image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    face, seen = only_face(face_image), only_face(grey)
    assert seen.score > 0.8
    assert box_iou(seen.box, face.box) > 0.8


def test_a_batch_of_images_of_different_sizes_gives_each_images_own_faces(face_images):
    images = [
        *face_images.values(),
        shrink_by_half(face_images["271207685_1"])[0],
        np.full((100, 300, 3), 90, np.uint8),
    ]
    batch = detect_faces_batch(images)
    assert len(batch) == len(images)
    for image, faces in zip(images, batch, strict=True):
        alone = detect_faces(image)
        assert len(faces) == len(alone)
        for seen, expected in zip(faces, alone, strict=True):
            assert np.abs(np.array(seen.box) - np.array(expected.box)).max() < 1e-3
            assert np.abs(seen.keypoints - expected.keypoints).max() < 1e-3
            assert seen.score == pytest.approx(expected.score, abs=1e-5)


def test_an_empty_batch_gives_an_empty_list():
    assert detect_faces_batch([]) == []


def test_a_strided_view_gives_the_same_face_as_a_contiguous_copy(face_images):
    image = face_images["269968666_1"]
    view = np.ascontiguousarray(np.pad(image, ((0, 0), (3, 5), (0, 0))))[:, 3:-5]
    assert not view.flags.c_contiguous
    assert np.abs(np.array(only_face(view).box) - np.array(only_face(image).box)).max() < 1e-3


def test_min_score_filters_candidates_before_nms(face_images):
    image = face_images["271207560_1"]
    assert detect_faces(image, min_score=0.99) == []
    faces = detect_faces(image, min_score=0.05)
    scores = [face.score for face in faces]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.8


def test_results_are_frozen_and_their_keypoints_read_only(face_images):
    face = only_face(face_images["271207560_1"])
    with pytest.raises(AttributeError):
        face.score = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        face.keypoints[0, 0] = 0.0


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((40, 40), np.uint8),
        np.zeros((40, 40, 4), np.uint8),
        np.zeros((40, 40, 3), np.float32),
        np.zeros((0, 40, 3), np.uint8),
        [[0, 0, 0]],
    ],
    ids=["grey-2d", "four-channels", "float32", "empty", "not-an-array"],
)
def test_anything_but_a_uint8_bgr_image_is_an_input_error(image):
    with pytest.raises(InputError, match="image must be"):
        detect_faces(image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_side": 600}, "multiple of 32"),
        ({"max_side": 0}, "multiple of 32"),
        ({"min_score": 1.5}, "min_score"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        detect_faces(np.zeros((40, 40, 3), np.uint8), **options)


def test_a_missing_model_file_is_a_model_error(tmp_path, monkeypatch, set_env):
    monkeypatch.setattr(runtime, "_sessions", {})
    set_env(BQAT_MODEL_DIR=str(tmp_path), BQAT_MODEL_CACHE_DIR=str(tmp_path / "cache"))
    with pytest.raises(ModelError, match=r"face_detection_yunet_s_dynamic\.onnx"):
        detect_faces(np.zeros((64, 64, 3), np.uint8))


def test_outputs_of_an_unexpected_shape_are_a_model_error(monkeypatch):
    def wrong_outputs(name, feeds, outputs):
        return [np.zeros((1, 7, 10 if "kps" in o else 4 if "bbox" in o else 1)) for o in outputs]

    monkeypatch.setattr(detector, "run_model", wrong_outputs)
    with pytest.raises(ModelError, match="cls_8 has shape"):
        detect_faces(np.zeros((64, 64, 3), np.uint8))
