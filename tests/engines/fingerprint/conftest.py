"""Fixtures of the fingerprint tests: the sample fingerprints and NIST's own outputs on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bqat import _native
from bqat.decode import decode_image

SAMPLE_NAMES = ("00007_01.bmp", "00007_02.bmp", "00007_03.bmp", "stateless_finger.png")


@pytest.fixture(scope="session")
def nist(shared: Path) -> dict[str, dict[str, Any]]:
    """NIST NFIQ 2 v2.3's features, feedback and score for each sample (strings as printed)."""
    data = json.loads((shared / "reference" / "nfiq2-nist-outputs.json").read_text())
    return {name: values for name, values in data.items() if not name.startswith("_")}


@pytest.fixture(scope="session")
def fingerprint_dir(samples: Path) -> Path:
    return samples / "fingerprint"


@pytest.fixture(scope="session")
def trimmed(fingerprint_dir: Path) -> dict[str, np.ndarray]:
    """Each sample as grey pixels with NIST's white frame trimmed (they are all 500 ppi)."""
    out = {}
    for name in SAMPLE_NAMES:
        grey = decode_image(fingerprint_dir / name, grey=True).pixels
        f = _native.nfiq2_frame(grey)
        out[name] = np.ascontiguousarray(
            grey[f["top"] : f["bottom"] + 1, f["left"] : f["right"] + 1]
        )
    return out
