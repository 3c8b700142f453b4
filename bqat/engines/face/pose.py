"""Head pose in real degrees from the 3-D face mesh, by rigid alignment to a frontal template.

MediaPipe's mesh gives x, y in image pixels and a relative depth z on the same scale, so the head's
rotation is the rotation that best maps a frontal template of the same 468 points onto the
observed points (a weighted Umeyama/Kabsch fit, with scale). The template is frontal by
construction (see `frontal_frame`): mirror-symmetric about its x = 0 plane, eye corners level,
and the plane through the eye and mouth corners facing the camera.

Frame: x to the image's right, y down, z away from the camera (right-handed). The rotation is
decomposed as R = Rz(c) Ry(b) Rx(a), and the public angles follow ISO/IEC 39794-5 signs:
yaw > 0 when the subject turns to their own left (the nose moves to the image's right),
pitch > 0 when the subject looks up, roll > 0 when the face appears rotated anticlockwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bqat.engines.face.topology import EYE_OUTER, MOUTH_CORNERS


@dataclass(frozen=True)
class Pose:
    """Head rotation in degrees (signs in the module docstring) and the fitted rotation matrix."""

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation (image frame) of a head at the given public angles, in degrees."""
    a, b, c = (-math.radians(v) for v in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def angles_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation R = Rz Ry Rx; inverse of rotation_from_angles."""
    b = math.asin(max(-1.0, min(1.0, -rotation[2, 0])))
    a = math.atan2(rotation[2, 1], rotation[2, 2])
    c = math.atan2(rotation[1, 0], rotation[0, 0])
    return -math.degrees(b), -math.degrees(a), -math.degrees(c)


def fit_rotation(template: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Proper rotation R minimising sum w |observed - (s R template + t)|^2 (Umeyama)."""
    w = weights / weights.sum()
    mu_t = w @ template
    mu_o = w @ observed
    covariance = (observed - mu_o).T @ ((template - mu_t) * w[:, None])
    u, _, vt = np.linalg.svd(covariance)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, d]) @ vt


def head_pose(points: np.ndarray, template: np.ndarray, weights: np.ndarray) -> Pose:
    """Pose of a mesh (468 x 3, image frame) against the frontal template."""
    rotation = fit_rotation(template, points, weights)
    yaw, pitch, roll = angles_from_rotation(rotation)
    return Pose(yaw=yaw, pitch=pitch, roll=roll, rotation=rotation)


def frontal_frame(points: np.ndarray) -> np.ndarray:
    """`points` (468 x 3) rotated into the frontal frame and centred on the eye-corner midpoint.

    x runs along the outer eye corners (33 -> 263); the plane through both outer eye corners and
    both mouth corners is made parallel to the image (equal mean depth of eyes and mouth), which
    fixes pitch zero anatomically instead of copying one subject's head tilt.
    """
    eyes = points[list(EYE_OUTER)]
    mouth = points[list(MOUTH_CORNERS)]
    x_axis = eyes[1] - eyes[0]
    x_axis /= np.linalg.norm(x_axis)
    down = mouth.mean(axis=0) - eyes.mean(axis=0)
    y_axis = down - (down @ x_axis) * x_axis
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    basis = np.stack([x_axis, y_axis, z_axis])
    return (points - eyes.mean(axis=0)) @ basis.T
