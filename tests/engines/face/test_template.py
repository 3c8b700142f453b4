"""The shipped frontal template: symmetric, frontal by its definition, and rebuildable."""

from __future__ import annotations

import numpy as np

from bqat.engines.face.detector import detect_faces
from bqat.engines.face.landmarks import face_mesh
from bqat.engines.face.template import build_template, load_template
from bqat.engines.face.topology import EYE_OUTER, MOUTH_CORNERS


def test_the_mirror_correspondence_is_an_involution_that_swaps_the_eyes():
    mirror = load_template().mirror
    assert sorted(mirror) == list(range(468))
    assert (mirror[mirror] == np.arange(468)).all()
    assert mirror[EYE_OUTER[0]] == EYE_OUTER[1]
    assert mirror[MOUTH_CORNERS[0]] == MOUTH_CORNERS[1]


def test_the_template_is_mirror_symmetric_and_frontal():
    template = load_template()
    points, mirror = template.points, template.mirror
    assert np.allclose(points * [-1, 1, 1], points[mirror], atol=1e-5)
    eyes, mouth = points[list(EYE_OUTER)], points[list(MOUTH_CORNERS)]
    assert np.isclose(np.linalg.norm(eyes[1] - eyes[0]), 1.0, atol=1e-5)
    assert np.isclose(eyes[0, 1], eyes[1, 1], atol=1e-5)
    assert np.isclose(eyes[:, 2].mean(), mouth[:, 2].mean(), atol=1e-5)


def test_the_shipped_template_is_rebuilt_from_the_sample_faces(face_images):
    meshes = []
    for image in face_images.values():
        faces = detect_faces(image)
        meshes.append(face_mesh(image, faces[0]).points)
    rebuilt = build_template(meshes)
    shipped = load_template()
    assert (rebuilt.mirror == shipped.mirror).all()
    assert np.abs(rebuilt.points - shipped.points).max() < 1e-4
