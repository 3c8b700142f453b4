"""The frontal face template that head pose is measured against, built from our own mesh output.

No external 3-D face model is shipped: `scripts/build_face_template.py` runs our detector and mesh
on sample faces, puts each mesh in the anatomical frontal frame (`pose.frontal_frame`), scales it
to a unit outer-eye-corner distance, averages them and makes the result mirror-symmetric. The
file it writes, `data/face_template.json`, holds the points and the left/right correspondence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from bqat.engines.face.pose import frontal_frame
from bqat.engines.face.topology import EYE_OUTER

TEMPLATE_FILE = Path(__file__).with_name("data") / "face_template.json"
_MIRROR_X = np.array([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Template:
    """468 frontal points (x right, y down, z away; unit eye-corner distance), the index of each
    point's mirror partner, and the weight of each point in the pose fit."""

    points: np.ndarray
    mirror: np.ndarray
    weights: np.ndarray


def mirror_partners(points: np.ndarray) -> np.ndarray:
    """For each point the index of its mirror image across x = 0 (an optimal one-to-one match)."""
    mirrored = points * _MIRROR_X
    cost = np.linalg.norm(points[:, None, :] - mirrored[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    partners = np.empty(len(points), np.int64)
    partners[rows] = cols
    return partners


def build_template(meshes: list[np.ndarray]) -> Template:
    """Average of the meshes in the frontal frame, made exactly mirror-symmetric."""
    normalised = []
    for mesh in meshes:
        # The 468 canonical points (a v2 mesh also carries 10 iris points after them).
        frame = frontal_frame(np.asarray(mesh, np.float64)[:468])
        normalised.append(frame / np.linalg.norm(frame[EYE_OUTER[1]] - frame[EYE_OUTER[0]]))
    mean = np.mean(normalised, axis=0)
    partners = mirror_partners(mean)
    symmetric = (mean + (mean * _MIRROR_X)[partners]) / 2.0
    return Template(points=symmetric, mirror=partners, weights=np.ones(len(symmetric)))


def save_template(template: Template, path: Path = TEMPLATE_FILE) -> None:
    """Write the template as JSON text (points to 1e-6 of the eye-corner distance)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "about": "bqat frontal face template; rebuild with scripts/build_face_template.py",
        "points": [[round(float(v), 6) for v in point] for point in template.points],
        "mirror": [int(i) for i in template.mirror],
    }
    path.write_text(json.dumps(content, separators=(",", ":")) + "\n")


@lru_cache(maxsize=1)
def load_template(path: Path = TEMPLATE_FILE) -> Template:
    """The shipped template (read once per process)."""
    content = json.loads(path.read_text())
    points = np.array(content["points"], np.float64)
    return Template(points=points, mirror=np.array(content["mirror"]), weights=np.ones(len(points)))
