"""`bqat models build`: make the converted model files again from their published sources.

MediaPipe publishes its models as TFLite (in the mediapipe wheel on PyPI, and the FaceLandmarker
bundle); ours are tf2onnx conversions of them, and tf2onnx output is not byte-stable, so a rebuilt
file cannot match the registered sha256. A build therefore checks what the file does instead:
the pinned source archive is downloaded (its sha256 checked), the TFLite member converted with
the pinned converter in a throw-away virtual environment, and the result accepted only when it
takes the registered input, has the TFLite model's outputs, and on seeded probe inputs gives what
the TFLite interpreter gives, within a tolerance. The accepted file goes into the model cache
with a build record (its sha256, source, converter, what was checked) that `verify` trusts for
exactly those bytes. Nothing is installed when any step fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from bqat.exceptions import ModelError
from bqat.hashing import file_sha256
from bqat.models.fetch import cache_scratch, downloading, fetch_member
from bqat.models.registry import InputSpec, ModelSpec, build_record, verify
from bqat.models.runtime import onnxruntime_module

CONVERTER = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0")  # as the registered files were made
OPSET = 13
PROBES = 4
_SEED = 29794
# Of the largest reference output's magnitude (at least 1): the shared conversions were within
# 6.4e-4 px of 256 px landmarks (2.5e-6) and 2e-5 on logits.
TOLERANCE = 1e-4
_SCRIPT = Path(__file__).with_name("tflite_convert.py")
_OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class Built:
    """What `build` did for one model: found it already verified, or built and checked it."""

    spec: ModelSpec
    action: Literal["present", "built"]
    path: Path
    detail: str


def _run(command: list[str], doing: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-_OUTPUT_TAIL:]
        raise ModelError(f"{doing} failed (exit {done.returncode}):\n{output}")


@contextmanager
def converter_environment(packages: tuple[str, ...] = CONVERTER) -> Iterator[str]:
    """A throw-away virtual environment holding `packages` (from pip's configured index);
    yields its Python. Removed on exit, whatever happened."""
    with tempfile.TemporaryDirectory(prefix="bqat-converter-") as scratch:
        env = Path(scratch) / "env"
        _run([sys.executable, "-m", "venv", str(env)], "creating the converter environment")
        python = str(env / "bin" / "python")
        _run(
            [python, "-m", "pip", "install", "--quiet", *packages],
            f"installing {' '.join(packages)} into the converter environment",
        )
        yield python


def probe_inputs(given: InputSpec, count: int = PROBES) -> np.ndarray:
    """`count` seeded inputs of the model's shape (a dynamic dimension is 1): values drawn in
    0..255 (pixels, or pixel coordinates) and scaled as the model is fed."""
    shape = tuple(1 if d is None else d for d in given.shape[1:])
    raw = np.random.default_rng(_SEED).uniform(0.0, 255.0, (count, *shape))
    return ((raw - given.mean) / given.std).astype(np.float32)


def check_outputs(
    spec: ModelSpec,
    registered: InputSpec,
    onnx_path: Path,
    probes: np.ndarray,
    expected: dict[str, np.ndarray],
) -> str:
    """What was checked, in words; `ModelError` when the ONNX model does not take the
    `registered` input or does not give the TFLite model's outputs within TOLERANCE."""
    ort = onnxruntime_module()
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own untyped errors for corrupt graphs
        raise ModelError(f"model {spec.name}: the converted file does not load: {exc}") from exc
    (given,) = session.get_inputs()
    have = tuple(d if isinstance(d, int) else None for d in given.shape)
    fits = len(have) == len(registered.shape) and all(
        want is None or want == d for want, d in zip(registered.shape, have, strict=True)
    )
    if given.name != registered.name or not fits:
        raise ModelError(
            f"model {spec.name}: the converted model takes {given.name} {list(given.shape)}, "
            f"the registry says {registered.name} {list(registered.shape)}"
        )
    names = [output.name for output in session.get_outputs()]
    missing = sorted(set(expected) - set(names))
    if missing:
        raise ModelError(f"model {spec.name}: the converted model lacks the outputs {missing}")
    order = sorted(expected)
    got = [session.run(order, {given.name: probe[None]}) for probe in probes]
    worst = 0.0
    for index, name in enumerate(order):
        ours = np.concatenate([run[index] for run in got]).reshape(expected[name].shape)
        scale = max(1.0, float(np.abs(expected[name]).max()))
        difference = float(np.abs(ours - expected[name]).max()) / scale
        if not difference <= TOLERANCE:  # NaN fails too
            raise ModelError(
                f"model {spec.name}: output {name} differs from the TFLite model's by "
                f"{difference:.3g} of its scale (tolerance {TOLERANCE:g}); not installed"
            )
        worst = max(worst, difference)
    return (
        f"input {given.name} as registered; outputs {', '.join(order)} within {worst:.2g} of "
        f"their scale from the TFLite interpreter's on {len(probes)} probe inputs"
    )


def build(spec: ModelSpec, python: str) -> Built:
    """Make `spec`'s converted file with the converter environment's `python` (see
    `converter_environment`), unless a verified file is already present."""
    found = verify(spec)
    if found.status == "ok" and found.path is not None:
        return Built(spec, "present", found.path, found.detail)
    if spec.built_from is None or spec.input is None:
        raise ModelError(f"model {spec.name} is not built by conversion; {spec.how_to_obtain}")
    with cache_scratch(spec) as (work, cache):
        with downloading(spec, str(spec.built_from)):
            tflite = fetch_member(spec, spec.built_from, work / "model.tflite")
        probes = probe_inputs(spec.input)
        np.savez(work / "probes.npz", input=probes)
        converted = work / "model.onnx"
        doc = (
            f"{spec.name}: {spec.built_from}, converted by `bqat models build` with "
            f"{' '.join(CONVERTER)} (opset {OPSET})"
        )
        command = [python, str(_SCRIPT), str(tflite), str(converted), str(work / "probes.npz")]
        _run([*command, str(work / "expected.npz"), str(OPSET), doc], f"converting {spec.name}")
        with np.load(work / "expected.npz") as expected:
            checked = check_outputs(spec, spec.input, converted, probes, dict(expected))
        record = work / "record.json"
        record.write_text(
            json.dumps(
                {
                    "sha256": file_sha256(converted),
                    "source": str(spec.built_from),
                    "converter": list(CONVERTER),
                    "opset": OPSET,
                    "checked": checked,
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                indent=2,
            )
        )
        target = cache / spec.file
        os.replace(converted, target)
        os.replace(record, build_record(target))
    after = verify(spec)
    if after.status != "ok":
        raise ModelError(f"model {spec.name}: built into {target}, but {after.path} comes first")
    return Built(spec, "built", target, checked)
