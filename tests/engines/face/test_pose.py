"""Head pose: sign conventions from physical positions, and exact recovery of known rotations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bqat.engines.face.pose import (
    angles_from_rotation,
    frontal_frame,
    head_pose,
    rotation_from_angles,
)
from bqat.engines.face.topology import EYE_OUTER, MOUTH_CORNERS

NOSE_TIP = 1


def synthetic_head(seed: int = 0) -> np.ndarray:
    """468 points of a frontal head (x right, y down, z away) with named landmarks placed."""
    rng = np.random.default_rng(seed)
    points = rng.normal(0.0, 0.4, (468, 3))
    points[EYE_OUTER[0]] = (-0.5, 0.0, 0.0)
    points[EYE_OUTER[1]] = (0.5, 0.0, 0.0)
    points[MOUTH_CORNERS[0]] = (-0.3, 1.0, 0.0)
    points[MOUTH_CORNERS[1]] = (0.3, 1.0, 0.0)
    points[NOSE_TIP] = (0.0, 0.5, -0.6)
    return points


def test_turning_to_the_subjects_left_moves_the_nose_to_the_image_right():
    nose = rotation_from_angles(yaw=20, pitch=0, roll=0) @ synthetic_head()[NOSE_TIP]
    assert nose[0] > 0.1


def test_looking_up_moves_the_nose_up_the_image():
    head = synthetic_head()
    nose = rotation_from_angles(yaw=0, pitch=20, roll=0) @ head[NOSE_TIP]
    assert nose[1] < head[NOSE_TIP][1] - 0.1


def test_positive_roll_rotates_the_face_anticlockwise_on_screen():
    head = synthetic_head()
    rotation = rotation_from_angles(yaw=0, pitch=0, roll=20)
    image_left_eye, image_right_eye = (rotation @ head[i] for i in EYE_OUTER)
    # Anticlockwise on screen (y down): the image-right eye rises above the image-left eye.
    slope = np.degrees(
        np.arctan2(image_left_eye[1] - image_right_eye[1], image_right_eye[0] - image_left_eye[0])
    )
    assert slope == pytest.approx(20, abs=1e-9)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"),
    list(itertools.product((-60, -20, 0, 35), (-40, 0, 25), (-30, 0, 10))),
)
def test_angles_survive_a_round_trip_through_the_rotation(yaw, pitch, roll):
    rotation = rotation_from_angles(yaw, pitch, roll)
    assert np.allclose(rotation @ rotation.T, np.eye(3))
    assert np.allclose(angles_from_rotation(rotation), (yaw, pitch, roll))


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (30, -10, 5), (-45, 20, -15)])
def test_head_pose_recovers_a_known_rotation_with_scale_shift_and_noise(yaw, pitch, roll):
    template = synthetic_head()
    rng = np.random.default_rng(1)
    observed = 140.0 * template @ rotation_from_angles(yaw, pitch, roll).T + (320.0, 240.0, 5.0)
    observed += rng.normal(0.0, 0.5, observed.shape)
    pose = head_pose(observed, template, np.ones(468))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=0.3)


def test_mirroring_negates_yaw_and_roll_and_keeps_pitch():
    mirror = np.diag([-1.0, 1.0, 1.0])
    half = synthetic_head()[:234] + np.array([0.6, 0.0, 0.0])
    template = np.concatenate([half, half @ mirror])  # point i mirrors point i + 234
    swap = np.r_[np.arange(234, 468), np.arange(234)]
    observed = template @ rotation_from_angles(25, 10, -7).T
    pose = head_pose(observed, template, np.ones(468))
    mirrored = head_pose((observed @ mirror)[swap], template, np.ones(468))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((25, 10, -7), abs=1e-6)
    assert (mirrored.yaw, mirrored.pitch, mirrored.roll) == pytest.approx((-25, 10, 7), abs=1e-6)


def test_the_frontal_frame_levels_the_eyes_and_faces_the_eye_mouth_plane_to_the_camera():
    head = synthetic_head()
    turned = 90.0 * head @ rotation_from_angles(-30, 15, 12).T + 50.0
    frame = frontal_frame(turned)
    eyes, mouth = frame[list(EYE_OUTER)], frame[list(MOUTH_CORNERS)]
    assert eyes[0][1] == pytest.approx(eyes[1][1], abs=1e-9)
    assert eyes[0][2] == pytest.approx(eyes[1][2], abs=1e-9)
    assert eyes.mean(axis=0)[2] == pytest.approx(mouth.mean(axis=0)[2], abs=1e-9)
    assert eyes[1][0] > eyes[0][0]
    assert mouth.mean(axis=0)[1] > 0
    assert np.allclose(frame / 90.0, frontal_frame(head))


@pytest.mark.parametrize("theta", [-15.0, 15.0, 40.0])
def test_the_fit_adds_an_image_rotation_to_roll_exactly_for_a_turned_head(theta):
    """The fit and the template are equivariant: points turned by theta in the image plane give
    roll + theta and the same yaw and pitch, here at yaw 39 degrees. (The 12.5-degree roll and
    7-degree pitch errors reported for such a face came from the mesh crop; see landmarks.py.)"""
    template = synthetic_head()
    observed = 120.0 * template @ rotation_from_angles(39, 8, 5).T
    turn = rotation_from_angles(0, 0, theta)
    before = head_pose(observed, template, np.ones(468))
    after = head_pose(observed @ turn.T + (40.0, -7.0, 0.0), template, np.ones(468))
    assert after.roll - before.roll == pytest.approx(theta, abs=1e-9)
    assert (after.yaw, after.pitch) == pytest.approx((before.yaw, before.pitch), abs=1e-9)
