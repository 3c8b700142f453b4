"""Rebuild bqat/engines/face/data/face_template.npz from face images.

Default images: ../shared/samples/face.

Usage: .venv/bin/python scripts/build_face_template.py [IMAGE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bqat.decode import decode_image
from bqat.engines.face.detector import detect_faces
from bqat.engines.face.landmarks import face_mesh
from bqat.engines.face.template import TEMPLATE_FILE, build_template, save_template

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "face"


def main(paths: list[Path]) -> None:
    meshes = []
    for path in paths:
        pixels = decode_image(path).pixels
        faces = detect_faces(pixels)
        if faces:
            meshes.append(face_mesh(pixels, faces[0]).points)
    save_template(build_template(meshes))
    print(f"{TEMPLATE_FILE}: template from {len(meshes)} faces")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or sorted(SAMPLES.glob("*.jpg")))
