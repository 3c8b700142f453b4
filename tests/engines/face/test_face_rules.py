"""Every face measure's rule on a synthetic context whose answer is known by construction.

Each test builds the few context fields a rule reads (points, eyes, boxes, crops, blendshape
scores) and compares the rule's value with a hand computation from the measure's definition
(the declaration's description, OFIQ's definition where it is OFIQ's measure). Nothing here is
taken from an earlier output of the engine, so replacing a rule by a constant or by another
measure's rule fails here (scripts/mutate_face_measures.py checks that it does).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from bqat.decode import DecodedImage
from bqat.engines.face.context import ALIGNED_SIZE, AlignedFace, FaceContext, ReducedImage
from bqat.engines.face.detector import Face
from bqat.engines.face.landmarks import BLENDSHAPE_NAMES, Eye, Mesh
from bqat.engines.face.measures import FACE_MEASURES
from bqat.engines.face.options import FaceOptions
from bqat.engines.face.pose import Pose
from bqat.phash import image_phash

RULES = {measure.name: measure for measure in FACE_MEASURES}


def value(name: str, ctx: object) -> object:
    return RULES[name].compute(ctx)  # type: ignore[misc]


def component(name: str, ctx: object) -> int | None:
    return RULES[name].component(value(name, ctx))  # type: ignore[misc]


def eye(x: float, y: float, radius: float = 5.0) -> Eye:
    return Eye(np.array([x, y]), radius)


def scores(**given: float) -> dict[str, float]:
    """All 52 blendshape scores: 0 except those given."""
    return {name: given.get(name, 0.0) for name in BLENDSHAPE_NAMES}


def face_points() -> np.ndarray:
    """478 points on a 200 x 300 portrait: every point at the image centre, then the named
    points placed (eyes 60 px apart on row 100, mouth corners 50 px apart on row 180)."""
    points = np.zeros((478, 3))
    points[:, :2] = (100.0, 150.0)
    named = {
        6: (100, 110),  # nose bridge
        10: (100, 40),  # top of the forehead
        13: (100, 175),  # inner upper lip
        14: (100, 184),  # inner lower lip
        61: (75, 180),  # mouth corners
        291: (125, 180),
        152: (100, 230),  # chin
        148: (90, 228),
        377: (110, 236),
        127: (42, 100),  # face sides
        234: (40, 130),
        93: (45, 150),
        356: (158, 100),
        454: (161, 130),
        323: (155, 150),
    }
    for index, (x, y) in named.items():
        points[index, :2] = (x, y)
    # Eyelid pairs (upper, lower): the subject's right eye 8, 6, 4, 2 px open; the left eye 10.
    for k, (upper, lower) in enumerate(((160, 144), (159, 145), (158, 153), (157, 154))):
        points[upper, :2] = (66 + 3 * k, 100 - (4 - k))
        points[lower, :2] = (66 + 3 * k, 100 + (4 - k))
    for k, (upper, lower) in enumerate(((385, 380), (386, 374), (387, 373), (384, 381))):
        points[upper, :2] = (126 + 3 * k, 95)
        points[lower, :2] = (126 + 3 * k, 105)
    return points


def context(**fields: object) -> SimpleNamespace:
    """A context with one face on a 200 x 300 image: eyes at (70, 100) and (130, 100)."""
    right, left = eye(70.0, 100.0), eye(130.0, 100.0)
    base = {
        "file": "a/b.jpg",
        "image": SimpleNamespace(width=200, height=300, orientation=1),
        "options": FaceOptions(),
        "faces": [],
        "face": Face((40.0, 60.0, 160.0, 240.0), 0.87654, np.zeros((5, 2))),
        "mesh": Mesh(face_points(), 1.0),
        "blendshapes": scores(),
        "right_eye": right,
        "left_eye": left,
        "ied": 60.0,
        "eye_midpoint": np.array([100.0, 100.0]),
        "pose": Pose(yaw=0.0, pitch=0.0, roll=0.0, rotation=np.eye(3)),
        "aligned": None,
        "reduced": None,
    }
    base.update(fields)
    return SimpleNamespace(**base)


def aligned(grey: np.ndarray, colour: np.ndarray | None = None, mask=None) -> AlignedFace:
    if colour is None:
        colour = np.repeat(grey[:, :, None], 3, axis=2)
    if mask is None:
        mask = np.ones(grey.shape, bool)
    return AlignedFace(grey=grey.astype(np.uint8), colour=colour.astype(np.uint8), mask=mask)


def flat(level: int) -> np.ndarray:
    return np.full((ALIGNED_SIZE, ALIGNED_SIZE), level, np.uint8)


# --- Seed fields ---------------------------------------------------------------------------------


def test_file_and_image_size_come_from_the_context():
    ctx = context()
    assert value("file", ctx) == "a/b.jpg"
    assert value("image_width", ctx) == 200
    assert value("image_height", ctx) == 300


def test_confidence_is_the_detector_score_to_four_places():
    assert value("confidence", context()) == 0.8765


def test_the_box_edges_are_the_pixels_holding_them_clamped_to_the_image():
    ctx = context(face=Face((-5.2, 10.7, 120.3, 300.9), 0.9, np.zeros((5, 2))))
    edges = [value(name, ctx) for name in ("bbox_left", "bbox_upper", "bbox_right", "bbox_lower")]
    assert edges == [0, 10, 120, 299]


def test_the_pupils_are_the_pixels_holding_the_iris_centres_and_the_ipd_their_distance():
    ctx = context(right_eye=eye(10.7, 20.2), left_eye=eye(50.5, 21.9), ied=55.4)
    assert [value(f"pupil_right_{a}", ctx) for a in "xy"] == [10, 20]
    assert [value(f"pupil_left_{a}", ctx) for a in "xy"] == [50, 21]
    assert value("ipd", ctx) == 55
    assert value("iso_inter_eye_distance", ctx) == 55.4
    expected = round(100 / (1 + math.exp(-(55.4 - 70) / 20)))  # OFIQ: sigmoid((x - 70) / 20)
    assert component("iso_inter_eye_distance", ctx) == expected


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll", "labels"),
    [
        (7.0, -6.0, 9.0, ("Left", "Down", "Anticlockwise")),
        (-7.0, 6.0, -9.0, ("Right", "Up", "Clockwise")),
        (4.0, -4.0, 7.0, ("Forward", "Level", "Level")),
    ],
)
def test_pose_labels_follow_the_sign_and_the_default_thresholds(yaw, pitch, roll, labels):
    ctx = context(pose=Pose(yaw=yaw, pitch=pitch, roll=roll, rotation=np.eye(3)))
    assert (value("yaw_pose", ctx), value("pitch_pose", ctx), value("roll_pose", ctx)) == labels


def test_pose_labels_use_the_thresholds_of_the_options():
    pose = Pose(yaw=7.0, pitch=-6.0, roll=9.0, rotation=np.eye(3))
    relaxed = FaceOptions(yaw_threshold=8, pitch_threshold=7, roll_threshold=10)
    ctx = context(pose=pose, options=relaxed)
    assert (value("yaw_pose", ctx), value("pitch_pose", ctx), value("roll_pose", ctx)) == (
        "Forward",
        "Level",
        "Level",
    )


def test_pose_angles_are_rounded_to_two_places_and_mapped_by_the_pose_component():
    ctx = context(pose=Pose(yaw=12.3456, pitch=-3.2109, roll=27.7777, rotation=np.eye(3)))
    assert (value("yaw_degree", ctx), value("pitch_degree", ctx), value("roll_degree", ctx)) == (
        12.35,
        -3.21,
        27.78,
    )
    assert value("iso_head_pose_yaw", ctx) == 12.35
    assert value("iso_head_pose_pitch", ctx) == -3.21
    assert value("iso_head_pose_roll", ctx) == 27.78
    # 100 (1 - sigmoid((|x| - 20) / 5)).
    assert component("iso_head_pose_yaw", ctx) == round(100 * (1 - 1 / (1 + math.exp(1.53))))
    assert component("iso_head_pose_roll", ctx) == round(100 * (1 - 1 / (1 + math.exp(-1.556))))


# --- Expressions (blendshapes) ------------------------------------------------------------------


def test_eye_closed_and_openness_read_the_subjects_own_blink_score():
    ctx = context(blendshapes=scores(eyeBlinkLeft=0.8, eyeBlinkRight=0.1))
    assert value("eye_openness_left", ctx) == pytest.approx(0.2)
    assert value("eye_openness_right", ctx) == pytest.approx(0.9)
    assert value("eye_closed_left", ctx) is True
    assert value("eye_closed_right", ctx) is False
    ctx = context(blendshapes=scores(eyeBlinkLeft=0.3, eyeBlinkRight=0.7))
    assert value("eye_closed_left", ctx) is False
    assert value("eye_closed_right", ctx) is True


def test_smile_is_the_mean_mouth_smile_score_above_one_half():
    smiling = context(blendshapes=scores(mouthSmileLeft=0.6, mouthSmileRight=0.7))
    assert value("smile_score", smiling) == pytest.approx(0.65)
    assert value("smile", smiling) is True
    neutral = context(blendshapes=scores(mouthSmileLeft=0.3, mouthSmileRight=0.2))
    assert value("smile_score", neutral) == pytest.approx(0.25)
    assert value("smile", neutral) is False


def test_expression_neutrality_is_one_minus_the_strongest_expression_score():
    ctx = context(blendshapes=scores(jawOpen=0.3, mouthFrownRight=0.45, browInnerUp=0.9))
    assert value("iso_expression_neutrality", ctx) == pytest.approx(0.55)  # brows do not count
    assert component("iso_expression_neutrality", ctx) == 55
    assert value("iso_expression_neutrality", context()) == 1.0


# --- Mesh geometry -------------------------------------------------------------------------------


def test_mouth_measures_divide_the_inner_lip_gap_by_the_mouth_width_and_the_ied():
    ctx = context()
    assert value("mouth_opening", ctx) == pytest.approx(9 / 50)
    assert value("iso_mouth_closed", ctx) == pytest.approx(9 / 60, abs=1e-5)
    # OFIQ: 100 (1 - sigmoid((x - 0.2) / 0.06)).
    expected = round(100 * (1 - 1 / (1 + math.exp(-(0.15 - 0.2) / 0.06))))
    assert component("iso_mouth_closed", ctx) == expected


def test_eyes_open_is_the_mean_lid_gap_of_the_less_open_eye_over_the_ied():
    # Right eye gaps 8, 6, 4, 2 (mean 5); left eye 10: the right eye decides.
    assert value("iso_eyes_open", context()) == pytest.approx(5 / 60, abs=1e-5)
    assert component("iso_eyes_open", context()) == 100  # OFIQ: sigmoid((x - 0.02) / 0.01)


def test_head_extremes_are_the_pixels_of_the_mesh_extremes():
    ctx = context()
    assert value("head_top", ctx) == 40
    assert value("head_bottom", ctx) == 236
    assert value("head_left", ctx) == 40
    assert value("head_right", ctx) == 161


def test_face_offset_is_the_nose_bridge_from_the_image_centre_over_its_size():
    ctx = context()
    assert value("face_offset_x", ctx) == pytest.approx(100 / 200 - 0.5)
    assert value("face_offset_y", ctx) == pytest.approx(110 / 300 - 0.5, abs=1e-5)
    moved = face_points()
    moved[6, :2] = (30.0, 240.0)
    ctx = context(mesh=Mesh(moved, 1.0))
    assert value("face_offset_x", ctx) == pytest.approx(-0.35)
    assert value("face_offset_y", ctx) == pytest.approx(0.3)


def test_face_ratio_is_the_clamped_box_area_over_the_image_area():
    ctx = context(face=Face((-20.0, 50.0, 100.0, 350.0), 0.9, np.zeros((5, 2))))
    assert value("face_ratio", ctx) == pytest.approx(100 * 250 / (200 * 300), abs=1e-5)


def test_head_size_is_twice_the_eye_to_chin_distance_over_the_image_height():
    ctx = context()
    assert value("iso_head_size", ctx) == pytest.approx(2 * 130 / 300, abs=1e-5)
    # OFIQ: 200 (1 - sigmoid(|x - 0.45| / 0.05)).
    expected = round(200 * (1 - 1 / (1 + math.exp(-abs(260 / 300 - 0.45) / 0.05))))
    assert component("iso_head_size", ctx) == expected


def test_crops_are_eye_midpoint_to_edge_distances_in_ieds():
    ctx = context(eye_midpoint=np.array([90.0, 120.0]), ied=60.0)
    assert value("iso_leftward_crop_of_the_face_image", ctx) == pytest.approx(90 / 60)
    assert value("iso_rightward_crop_of_the_face_image", ctx) == pytest.approx(110 / 60, abs=1e-5)
    assert value("iso_margin_above_of_the_face_image", ctx) == pytest.approx(120 / 60)
    assert value("iso_margin_below_of_the_face_image", ctx) == pytest.approx(180 / 60)
    # OFIQ's mappings: sigmoid((x - x0) / 0.1) with x0 0.9, 0.9, 1.4, 1.8.
    assert component("iso_margin_above_of_the_face_image", ctx) == round(
        100 / (1 + math.exp(-(2.0 - 1.4) / 0.1))
    )
    tight = context(eye_midpoint=np.array([50.0, 80.0]), ied=60.0)
    assert component("iso_leftward_crop_of_the_face_image", tight) == round(
        100 / (1 + math.exp(-(50 / 60 - 0.9) / 0.1))
    )
    assert component("iso_margin_above_of_the_face_image", tight) == round(
        100 / (1 + math.exp(-(80 / 60 - 1.4) / 0.1))
    )


def test_face_count_and_single_face_present_read_the_detections():
    def box(side: float) -> Face:
        return Face((0.0, 0.0, side, side), 0.9, np.zeros((5, 2)))

    ctx = context(faces=[box(10), box(20), box(5)])
    assert value("face_count", ctx) == 3
    assert value("iso_single_face_present", ctx) == pytest.approx(1 - 100 / 400)
    assert value("iso_single_face_present", context(faces=[box(10)])) == 1.0
    assert value("iso_single_face_present", context(faces=[])) == 0.0


# --- Region measures on the aligned crop ---------------------------------------------------------


def test_luminance_mean_and_variance_of_a_half_dark_half_bright_face():
    grey = flat(0)
    grey[:, ALIGNED_SIZE // 2 :] = 255
    ctx = context(aligned=aligned(grey))
    assert value("iso_luminance_mean", ctx) == pytest.approx(0.5)
    assert value("iso_luminance_variance", ctx) == pytest.approx(0.25)
    assert value("iso_luminance_mean", context(aligned=aligned(flat(51)))) == pytest.approx(0.2)
    assert value("iso_luminance_variance", context(aligned=aligned(flat(51)))) == 0.0


def test_exposure_fractions_count_the_face_pixels_at_the_clipping_levels():
    grey = flat(128)
    grey[:48] = 25  # a quarter at the dark limit (<= 25)
    grey[48:64] = 26  # just above it
    grey[-24:] = 247  # an eighth at the bright limit (>= 247)
    ctx = context(aligned=aligned(grey))
    assert value("iso_under_exposure_prevention", ctx) == pytest.approx(0.25)
    assert value("iso_over_exposure_prevention", ctx) == pytest.approx(0.125)
    mask = np.zeros(grey.shape, bool)
    mask[100:] = True  # only the middle and the bright rows are face
    ctx = context(aligned=aligned(grey, mask=mask))
    assert value("iso_under_exposure_prevention", ctx) == 0.0
    assert value("iso_over_exposure_prevention", ctx) == pytest.approx(24 / 92, abs=1e-5)


def test_dynamic_range_is_the_entropy_of_the_face_histogram():
    grey = np.tile(np.repeat(np.array([10, 80, 150, 220], np.uint8), 48), (ALIGNED_SIZE, 1))
    assert value("iso_dynamic_range", context(aligned=aligned(grey))) == pytest.approx(2.0)
    assert component("iso_dynamic_range", context(aligned=aligned(grey))) == 25
    assert value("iso_dynamic_range", context(aligned=aligned(flat(90)))) == 0.0


def test_illumination_uniformity_intersects_the_left_and_right_histograms():
    same = context(aligned=aligned(flat(120)))
    assert value("iso_illumination_uniformity", same) == pytest.approx(1.0)
    grey = flat(40)
    grey[:, ALIGNED_SIZE // 2 :] = 200
    assert value("iso_illumination_uniformity", context(aligned=aligned(grey))) == 0.0
    grey[: ALIGNED_SIZE // 2, ALIGNED_SIZE // 2 :] = 40  # the right half is half like the left
    assert value("iso_illumination_uniformity", context(aligned=aligned(grey))) == 0.5


def lab_skin(a: float, b: float) -> np.ndarray:
    """A flat BGR crop whose CIELAB a*, b* (OpenCV's 8-bit scale) are about (a, b)."""
    lab = np.zeros((ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8)
    lab[..., 0], lab[..., 1], lab[..., 2] = 160, 128 + a, 128 + b
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def test_natural_colour_is_the_distance_of_the_mean_a_b_from_the_skin_range():
    def measured(colour: np.ndarray) -> tuple[float, float]:
        lab = cv2.cvtColor(colour, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(float).mean(axis=0)
        return lab[1] - 128, lab[2] - 128

    skin = lab_skin(15, 20)
    ctx = context(aligned=aligned(flat(128), colour=skin))
    assert value("iso_natural_colour", ctx) == 0.0
    blue = lab_skin(-10, -30)
    a, b = measured(blue)
    expected = math.hypot(max(0.0, 5 - a, a - 25), max(0.0, 5 - b, b - 35))
    ctx = context(aligned=aligned(flat(128), colour=blue))
    assert value("iso_natural_colour", ctx) == pytest.approx(expected, abs=1e-3)
    assert expected > 30
    # OFIQ: 200 (1 - sigmoid(x / 10)).
    mapped = round(200 * (1 - 1 / (1 + math.exp(-expected / 10))))
    assert component("iso_natural_colour", ctx) == mapped


def test_glasses_score_is_the_strongest_horizontal_edge_across_the_bridge():
    plain = context(aligned=aligned(flat(120)))
    assert value("glasses_score", plain) == 0.0
    assert value("glasses", plain) is False
    grey = flat(120)
    grey[80:, :] = 20  # a dark bar from row 80 down, across the nose bridge (rows 62-98)
    ctx = context(aligned=aligned(grey))
    # Sobel (ksize 3) / 4 across a 100-level step is 100 on both rows beside it.
    assert value("glasses_score", ctx) == pytest.approx(100 / 255, abs=1e-4)
    assert value("glasses", ctx) is True


# --- Measures on the reduced image ---------------------------------------------------------------


def reduced_context(grey: np.ndarray, factor: float = 1.0) -> SimpleNamespace:
    return context(reduced=ReducedImage(grey=grey, factor=factor))


def test_face_sharpness_is_zero_on_a_flat_face_and_the_laplacian_variance_on_stripes():
    grey = np.full((300, 200), 100, np.uint8)
    assert value("iso_sharpness", reduced_context(grey)) == 0.0
    stripes = grey.copy()
    stripes[:, ::2] = 110  # columns alternate 110, 100: the 4-neighbour Laplacian is -+20
    assert value("iso_sharpness", reduced_context(stripes)) == pytest.approx(400.0)
    # Halving the stripes' contrast quarters the variance.
    stripes[:, ::2] = 105
    assert value("iso_sharpness", reduced_context(stripes)) == pytest.approx(100.0)


def test_background_uniformity_is_the_mean_gradient_beside_and_above_the_head():
    grey = np.full((300, 200), 100, np.uint8)
    assert value("iso_background_uniformity", reduced_context(grey)) == 0.0
    ramp = np.tile((np.arange(200) * 0.5).astype(np.uint8), (300, 1))  # 0.5 grey level per px
    slow = value("iso_background_uniformity", reduced_context(ramp))
    ramp = np.tile(np.arange(200, dtype=np.uint8), (300, 1))  # 1 grey level per px
    fast = value("iso_background_uniformity", reduced_context(ramp))
    assert 0.95 < fast <= 1.0  # 1 grey level per px (0 on the reflected border columns)
    assert 0.4 < slow < 0.6
    noise = np.random.default_rng(0).integers(0, 256, (300, 200)).astype(np.uint8)
    busy = reduced_context(noise)
    assert value("iso_background_uniformity", busy) > 25
    assert component("iso_background_uniformity", busy) == 0
    assert component("iso_background_uniformity", reduced_context(grey)) == round(
        100 * (1 - 1 / (1 + math.exp(5 / 1.25)))
    )


# --- Whole-image measures ------------------------------------------------------------------------


def image_context(grey: np.ndarray, orientation: int = 1) -> FaceContext:
    pixels = np.repeat(grey[:, :, None], 3, axis=2)
    return FaceContext(
        file=None,
        image=DecodedImage(pixels, "PNG", orientation, "L"),
        grey=grey,
        faces=[],
        face=None,
        mesh=None,
        blendshapes=None,
        right_eye=None,
        left_eye=None,
        pose=None,
        reduced=None,
        aligned=None,
        options=FaceOptions(),
    )


def test_grey_statistics_of_an_image_black_left_of_column_30_and_grey_right_of_it():
    grey = np.zeros((64, 64), np.uint8)
    grey[:, 30:] = 200
    ctx = image_context(grey)
    share = 34 / 64  # of the pixels at 200
    assert value("brightness", ctx) == pytest.approx(200 * share, abs=1e-3)
    assert value("contrast", ctx) == pytest.approx(200 * math.sqrt(share * (1 - share)), abs=1e-3)
    assert value("dynamic_range", ctx) == 200.0  # brightest 1 % at 200, darkest at 0
    # Laplacian +200 and -200 on the two columns beside the edge, 0 elsewhere: 2 * 200^2 / 64.
    assert value("sharpness", ctx) == pytest.approx(1250.0)
    # 4 x 4 px tiles: 7 columns of tiles at 0, one at 100 (columns 28-31), 8 at 200.
    tiles = np.array([0.0] * 7 + [100.0] + [200.0] * 8)
    assert value("brightness_variance", ctx) == pytest.approx(tiles.std(), abs=1e-3)


def blocks(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A grey image of flat 8 x 8 blocks from its top-left corner (the JPEG grid)."""
    rng = np.random.default_rng(seed)
    levels = rng.integers(60, 200, (height // 8 + 1, width // 8 + 1))
    return np.kron(levels, np.ones((8, 8)))[:height, :width].astype(np.uint8)


def test_blockiness_is_one_plus_the_grid_step_over_one_plus_the_other_steps():
    grey = blocks(83, 123)
    steps = [np.abs(np.diff(g.astype(int), axis=1)).mean(axis=0) for g in (grey, grey.T)]
    expected = np.mean([s[7::8].mean() + 1.0 for s in steps])  # off the grid every step is 0
    ctx = image_context(grey)
    assert value("iso_compression_artifacts", ctx) == pytest.approx(expected, abs=1e-4)
    assert component("iso_compression_artifacts", ctx) == 0
    smooth = image_context(np.full((83, 123), 90, np.uint8))
    assert value("iso_compression_artifacts", smooth) == 1.0
    assert component("iso_compression_artifacts", smooth) == round(
        100 * (1 - 1 / (1 + math.exp(-(1 - 1.6) / 0.15)))
    )


@pytest.mark.parametrize("orientation", [3, 6, 8, 2])
def test_blockiness_is_measured_on_the_grid_of_the_encoded_image(orientation):
    stored = blocks(83, 123, seed=orientation)  # sizes not multiples of 8: flips move the grid
    upright = {
        3: stored[::-1, ::-1],
        6: stored.swapaxes(0, 1)[:, ::-1],
        8: stored.swapaxes(0, 1)[::-1],
        2: stored[:, ::-1],
    }[orientation]
    as_stored = value("iso_compression_artifacts", image_context(stored))
    rotated = value("iso_compression_artifacts", image_context(np.ascontiguousarray(upright)))
    oriented = image_context(np.ascontiguousarray(upright), orientation)
    assert value("iso_compression_artifacts", oriented) == as_stored
    assert rotated < as_stored - 1  # read on the wrong grid, the blocks would go unseen


def test_phash_is_the_perceptual_hash_of_the_grey_image():
    grey = blocks(64, 64)
    assert value("phash", image_context(grey)) == image_phash(grey)
    assert value("phash", image_context(grey)) != value("phash", image_context(grey.T.copy()))
