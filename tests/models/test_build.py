"""`bqat models build`: converted files made again, checked by their outputs, trusted by record.

Nothing here touches the network or installs TensorFlow: the source archive is a file:// URL, and
the converter environment's Python is this one with stand-ins for `tensorflow` and `tf2onnx` on
its path (a tiny linear "TFLite" model that the stand-in converter turns into a real ONNX graph).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from bqat import ModelError
from bqat.cli import main
from bqat.models import MODELS, resolve, verify
from bqat.models.build import build, converter_environment, probe_inputs
from bqat.models.registry import ArchiveURL, build_record, missing_advice

TENSORFLOW = '''
import numpy as np

class lite:
    class Interpreter:
        """Runs the stand-in model as the reference: scores = points @ reference."""

        def __init__(self, model_path):
            self._weights = np.load(model_path)["reference"]

        def get_input_details(self):
            return [{"index": 0, "dtype": np.float32}]

        def get_output_details(self):
            return [{"index": 1, "name": "scores"}]

        def resize_tensor_input(self, index, shape):
            pass

        def allocate_tensors(self):
            pass

        def set_tensor(self, index, value):
            self._input = value

        def invoke(self):
            self._output = self._input.reshape(1, -1) @ self._weights

        def get_tensor(self, index):
            return self._output
'''

TF2ONNX = '''
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

class convert:
    @staticmethod
    def from_tflite(path, opset):
        """The stand-in model as ONNX: scores = flatten(points) @ weights."""
        model = np.load(path)
        graph = helper.make_graph(
            [
                helper.make_node("Flatten", [str(model["input"])], ["flat"]),
                helper.make_node("MatMul", ["flat", "weights"], ["scores"]),
            ],
            "stand-in",
            [helper.make_tensor_value_info(str(model["input"]), TensorProto.FLOAT, [1, 146, 2])],
            [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])],
            [numpy_helper.from_array(model["weights"].astype(np.float32), "weights")],
        )
        built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        built.ir_version = 8
        return built, None
'''

WEIGHTS = np.random.default_rng(7).normal(size=(292, 3)).astype(np.float32)


@pytest.fixture
def converter(tmp_path, monkeypatch) -> str:
    """This Python with the stand-in converter packages first on its path."""
    packages = tmp_path / "converter"
    (packages / "tensorflow").mkdir(parents=True)
    (packages / "tensorflow" / "__init__.py").write_text(TENSORFLOW)
    (packages / "tf2onnx").mkdir()
    (packages / "tf2onnx" / "__init__.py").write_text(TF2ONNX)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(packages), *sys.path]))
    return sys.executable


@pytest.fixture
def empty_dirs(tmp_path, set_env) -> Path:
    (tmp_path / "models").mkdir()
    set_env(BQAT_MODEL_DIR=str(tmp_path / "models"), BQAT_MODEL_CACHE_DIR=str(tmp_path / "cache"))
    return tmp_path / "cache"


def _spec(tmp_path: Path, *, reference=WEIGHTS, input_name="serving_default_input_points:0"):
    """The blendshapes entry, built from a bundle (file:// URL) holding the stand-in model."""
    member = io.BytesIO()
    np.savez(member, weights=WEIGHTS, reference=reference, input=input_name)
    bundle = tmp_path / "bundle.task"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("face_blendshapes.tflite", member.getvalue())
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    source = ArchiveURL(bundle.as_uri(), "bundle.task", digest, "face_blendshapes.tflite")
    return dataclasses.replace(MODELS["face_blendshapes_v2"], built_from=source)


def test_a_build_is_checked_against_the_tflite_outputs_and_trusted_by_its_record(
    tmp_path, empty_dirs, converter
):
    spec = _spec(tmp_path)
    assert verify(spec).status == "missing"
    done = build(spec, converter)
    assert done.action == "built" and done.path == empty_dirs / spec.file
    assert "within" in done.detail and "serving_default_input_points:0" in done.detail
    found = verify(spec)
    assert found.status == "ok" and found.detail.startswith("built here from file://")
    record = json.loads(build_record(done.path).read_text())
    assert record["sha256"] == hashlib.sha256(done.path.read_bytes()).hexdigest()
    assert record["converter"] == ["tensorflow-cpu==2.21.0", "tf2onnx==1.17.0"]
    # The installed graph computes what the reference does (checked here independently).
    probe = probe_inputs(spec.input, 1)
    (scores,) = ort.InferenceSession(str(done.path)).run(None, {spec.input.name: probe})
    np.testing.assert_allclose(scores, probe.reshape(1, -1) @ WEIGHTS, rtol=1e-5, atol=1e-3)
    assert sorted(p.name for p in empty_dirs.iterdir()) == sorted(
        [spec.file, build_record(done.path).name]
    ), "nothing but the model and its record is left"
    assert build(spec, "/nonexistent/python").action == "present", "not built twice"


def test_outputs_that_differ_from_tflite_install_nothing(tmp_path, empty_dirs, converter):
    spec = _spec(tmp_path, reference=WEIGHTS * 1.01)
    with pytest.raises(ModelError, match="differs from the TFLite model's"):
        build(spec, converter)
    assert list(empty_dirs.iterdir()) == []


def test_a_converted_input_other_than_the_registered_one_is_refused(
    tmp_path, empty_dirs, converter
):
    spec = _spec(tmp_path, input_name="points")
    with pytest.raises(ModelError, match="takes points"):
        build(spec, converter)
    assert list(empty_dirs.iterdir()) == []


def test_a_source_archive_with_another_sha256_is_discarded(tmp_path, empty_dirs, converter):
    spec = _spec(tmp_path)
    wrong = dataclasses.replace(spec.built_from, sha256="0" * 64)
    with pytest.raises(ModelError, match="discarded"):
        build(dataclasses.replace(spec, built_from=wrong), converter)
    assert list(empty_dirs.iterdir()) == []


def test_the_record_vouches_for_those_bytes_and_that_source_only(tmp_path, empty_dirs, converter):
    spec = _spec(tmp_path)
    path = build(spec, converter).path
    other_source = dataclasses.replace(spec.built_from, member="other.tflite")
    assert verify(dataclasses.replace(spec, built_from=other_source)).status == "mismatch"
    path.write_bytes(path.read_bytes() + b"\0")
    assert verify(spec).status == "mismatch"


def test_the_converter_environment_holds_the_pinned_packages_and_is_removed(tmp_path, set_env):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "standin-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("standin.py", "PINNED = True\n")
        info = "standin-1.0.dist-info/"
        wheel.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: standin\nVersion: 1.0\n")
        wheel.writestr(
            info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(info + "RECORD", "")
    set_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
    with converter_environment(("standin==1.0",)) as python:
        shown = subprocess.run(
            [python, "-c", "import standin, sys; print(standin.PINNED, sys.prefix)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert shown[0] == "True" and Path(shown[1]) != Path(sys.prefix)
    assert not Path(python).exists()
    refused = pytest.raises(ModelError, match="installing nothere==9")
    with refused, converter_environment(("nothere==9",)):
        pass


def test_models_build_with_every_file_present_converts_nothing(shared, set_env, capsys):
    set_env(BQAT_MODEL_DIR=str(shared / "models"))
    assert main(["models", "build", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"]: row["status"] for row in rows} == {
        "face_mesh": "present",
        "iris_landmark": "present",
        "face_landmarker_v2": "present",
        "face_blendshapes_v2": "present",
    }


def test_a_user_without_models_is_told_the_exact_commands(empty_dirs, shared, set_env):
    advice = missing_advice()
    bqat = Path(sys.executable).with_name("bqat")
    assert f"  to download them: {bqat} models pull" in advice
    assert f"  to convert them again: {bqat} models build" in advice
    assert any("face_mesh (mediapipe_face_landmark.onnx)" in line for line in advice)
    set_env(BQAT_MODEL_DIR=str(shared / "models"))
    assert missing_advice() == []
    assert resolve("face_mesh").parent == shared / "models"
