"""Fixtures of the face tests: the sample faces (one face each), decoded once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bqat.decode import decode_image

_SAMPLE_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "face"
SAMPLE_NAMES = sorted(path.stem for path in _SAMPLE_DIR.glob("*.jpg"))


@pytest.fixture(scope="session")
def face_images(samples: Path) -> dict[str, np.ndarray]:
    """Every sample face as upright uint8 H x W x 3 BGR pixels, by file stem."""
    return {
        path.stem: decode_image(path).pixels for path in sorted((samples / "face").glob("*.jpg"))
    }


@pytest.fixture(params=SAMPLE_NAMES)
def face_image(request: pytest.FixtureRequest, face_images: dict[str, np.ndarray]) -> np.ndarray:
    """One sample face per test instance (the instance id is the file stem)."""
    return face_images[request.param]
