"""The registry of every model file bqat runs: where it came from, what it is, how to feed it.

Files are never downloaded on use. They resolve from `BQAT_MODEL_DIR`, then from the user cache
that `bqat models pull` fills, and every file is checked against its sha256 before it is trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bqat.exceptions import ModelError
from bqat.hashing import file_sha256
from bqat.settings import get_settings

_YUNET_SOURCE = (
    "https://raw.githubusercontent.com/ShiqiYu/libfacedetection.train/"
    "0047ac24afb1a50a0c6105001c89d1b5b805dbf1/onnx/"
)
_MEDIAPIPE_RECIPE = (
    "converted from the mediapipe==0.10.21 wheel with tf2onnx 1.17.0 (opset 13); "
    "recipe: shared/reference/models.md section 5"
)


@dataclass(frozen=True)
class InputSpec:
    """The tensor a model expects: name, shape (None = dynamic), layout, colour order, scaling.

    A pixel value p becomes (p - mean) / std after the colour order is applied.
    """

    name: str
    shape: tuple[int | None, ...]
    layout: Literal["NCHW", "NHWC"]
    colour: Literal["BGR", "RGB"]
    mean: float
    std: float


@dataclass(frozen=True)
class ModelSpec:
    """One registered model file and everything needed to obtain, verify and feed it."""

    name: str
    file: str
    sha256: str
    size: int
    licence: str
    source: str
    input: InputSpec
    upstream_url: str | None = None

    @property
    def how_to_obtain(self) -> str:
        """What a user can do when the file is missing."""
        if self.upstream_url:
            return f"run `bqat models pull` or copy {self.file} into BQAT_MODEL_DIR"
        return f"copy {self.file} into BQAT_MODEL_DIR ({self.source})"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yunet_640",
            file="face_detection_yunet_2023mar.onnx",
            sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            size=232_589,
            licence="Apache-2.0",
            source="ShiqiYu/libfacedetection.train onnx/yunet_s_640_640.onnx (opencv_zoo 2023mar)",
            input=InputSpec("input", (1, 3, 640, 640), "NCHW", "BGR", 0.0, 1.0),
            upstream_url=_YUNET_SOURCE + "yunet_s_640_640.onnx",
        ),
        ModelSpec(
            name="yunet_s_dynamic",
            file="face_detection_yunet_s_dynamic.onnx",
            sha256="daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3",
            size=237_823,
            licence="Apache-2.0",
            source="ShiqiYu/libfacedetection.train onnx/yunet_s_dynamic.onnx",
            input=InputSpec("input", (None, 3, None, None), "NCHW", "BGR", 0.0, 1.0),
            upstream_url=_YUNET_SOURCE + "yunet_s_dynamic.onnx",
        ),
        ModelSpec(
            name="yunet_n_dynamic",
            file="face_detection_yunet_n_dynamic.onnx",
            sha256="104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",
            size=322_906,
            licence="Apache-2.0",
            source="ShiqiYu/libfacedetection.train onnx/yunet_n_dynamic.onnx",
            input=InputSpec("input", (None, 3, None, None), "NCHW", "BGR", 0.0, 1.0),
            upstream_url=_YUNET_SOURCE + "yunet_n_dynamic.onnx",
        ),
        ModelSpec(
            name="face_mesh",
            file="mediapipe_face_landmark.onnx",
            sha256="2bb45cfb834dbcbe78c9ccb6687deaa647f4d9ec4ca513850f0cf1c3d4a98097",
            size=2_429_090,
            licence="Apache-2.0",
            source="mediapipe/modules/face_landmark/face_landmark.tflite, " + _MEDIAPIPE_RECIPE,
            input=InputSpec("input_1", (1, 192, 192, 3), "NHWC", "RGB", 0.0, 255.0),
        ),
        ModelSpec(
            name="iris_landmark",
            file="mediapipe_iris_landmark.onnx",
            sha256="ffe689bd7abb4093cea387ddfe746f29e0e63b54d40d96480509b73e70811884",
            size=2_627_343,
            licence="Apache-2.0",
            source="mediapipe/modules/iris_landmark/iris_landmark.tflite, " + _MEDIAPIPE_RECIPE,
            input=InputSpec("input_1", (1, 64, 64, 3), "NHWC", "RGB", 0.0, 255.0),
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The registered model called `name`; `ModelError` naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; registered: {', '.join(MODELS)}") from None


def search_dirs() -> list[Path]:
    """Folders searched for model files, in order: BQAT_MODEL_DIR, then the user cache."""
    settings = get_settings()
    dirs = [settings.model_dir] if settings.model_dir else []
    return [*dirs, settings.model_cache_dir]


@dataclass(frozen=True)
class Verification:
    """What `verify` found for one model: `ok`, `missing` or `mismatch`, and where."""

    spec: ModelSpec
    status: Literal["ok", "missing", "mismatch"]
    path: Path | None
    detail: str


def verify(spec: ModelSpec) -> Verification:
    """Find the model's file and check its sha256; the first folder holding the file decides."""
    for folder in search_dirs():
        path = folder / spec.file
        if path.is_file():
            actual = file_sha256(path)
            if actual == spec.sha256:
                return Verification(spec, "ok", path, "sha256 matches")
            return Verification(
                spec, "mismatch", path, f"sha256 is {actual}, expected {spec.sha256}"
            )
    searched = ", ".join(str(d) for d in search_dirs())
    return Verification(spec, "missing", None, f"not found in {searched}; {spec.how_to_obtain}")


def resolve(name: str) -> Path:
    """Path of a verified model file, or `ModelError` saying what is wrong and how to fix it."""
    result = verify(get_spec(name))
    if result.status != "ok" or result.path is None:
        raise ModelError(f"model {name} ({result.spec.file}): {result.detail}")
    return result.path
