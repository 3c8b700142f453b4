"""NIST NFIQ 2 v2.3's random forest, from its arrays (`nfiq2_forest`, nfiq2_rf.npz).

Each of the 100 trees is walked natively (go left when feature <= threshold, in float32 as
NIST's OpenCV forest compares); the NFIQ 2 score is the number of trees whose leaf is class 1.
The arrays are loaded once per process (no pickle) and checked against the feature order the
engine produces.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bqat import _native
from bqat.exceptions import ModelError, NativeError
from bqat.models import resolve

MODEL = "nfiq2_forest"

# NFIQ 2 v2.3's 69 native features in the forest's order (the `feature_names` of the file).
FEATURES: tuple[str, ...] = (
    *(f"FDA_Bin10_{i}" for i in range(10)),
    "FDA_Bin10_Mean",
    "FDA_Bin10_StdDev",
    "FingerJetFX_MinCount_COMMinRect200x200",
    "FingerJetFX_MinutiaeCount",
    "FJFXPos_Mu_MinutiaeQuality_2",
    "FJFXPos_OCL_MinutiaeQuality_80",
    "ImgProcROIArea_Mean",
    *(f"LCS_Bin10_{i}" for i in range(10)),
    "LCS_Bin10_Mean",
    "LCS_Bin10_StdDev",
    "MMB",
    "Mu",
    *(f"OCL_Bin10_{i}" for i in range(10)),
    "OCL_Bin10_Mean",
    "OCL_Bin10_StdDev",
    *(f"OF_Bin10_{i}" for i in range(10)),
    "OF_Bin10_Mean",
    "OF_Bin10_StdDev",
    "OrientationMap_ROIFilter_CoherenceRel",
    "OrientationMap_ROIFilter_CoherenceSum",
    *(f"RVUP_Bin10_{i}" for i in range(10)),
    "RVUP_Bin10_Mean",
    "RVUP_Bin10_StdDev",
)

_ARRAYS = {
    "var": np.int16,
    "thr": np.float32,
    "left": np.int32,
    "right": np.int32,
    "value": np.float32,
    "tree_off": np.int32,
    "tree_n": np.int32,
}
_lock = threading.Lock()
_loaded: dict[str, Forest] = {}


@dataclass(frozen=True)
class Forest:
    """The forest's node arrays, contiguous and typed, and the native walker checked on them."""

    arrays: dict[str, np.ndarray]
    model_hash: str
    walker: _native.Nfiq2Forest

    def score(self, features: Mapping[str, float | None]) -> int:
        """Votes for class 1 of the feature vector (a missing or null feature reads as NaN)."""
        x = np.array(
            [math.nan if features.get(n) is None else features[n] for n in FEATURES], np.float32
        )
        return int(self.walker.votes(x))


def forest() -> Forest:
    """The process's forest, loaded and checked on first use (`ModelError` if unusable)."""
    with _lock:
        existing = _loaded.get(MODEL)
        if existing is not None:
            return existing
        loaded = load(str(resolve(MODEL)))
        _loaded[MODEL] = loaded
        return loaded


def load(path: str) -> Forest:
    """Read and check the arrays of an nfiq2_rf.npz file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = tuple(str(n) for n in data["feature_names"])
            arrays = {k: np.ascontiguousarray(data[k], dtype=t) for k, t in _ARRAYS.items()}
            model_hash = str(data["model_hash"]) if "model_hash" in data.files else ""
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"model {MODEL}: cannot read the forest arrays in {path}: {exc}") from exc
    if names != FEATURES:
        raise ModelError(
            f"model {MODEL}: {path} orders its {len(names)} features differently from NFIQ 2 "
            f"v2.3's {len(FEATURES)}"
        )
    try:
        walker = _native.Nfiq2Forest(**arrays, features=len(FEATURES))
    except NativeError as exc:
        raise ModelError(f"model {MODEL}: {path} is not a valid forest: {exc}") from exc
    return Forest(arrays, model_hash, walker)
