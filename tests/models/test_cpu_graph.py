"""The PRelu rewrite for the CPU provider: the same function as PRelu, fewer slow operators.

Expected values come from NumPy's PRelu (np.where) on small graphs built here, and from ONNX
Runtime running the untouched registered model files.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from bqat.models import cpu_graph, runtime
from bqat.models.cpu_graph import rewrite_prelu, split_prelus
from bqat.models.registry import resolve


def _graph(slope: np.ndarray, input_shape: list[int | str]) -> onnx.ModelProto:
    """x -> PRelu(x, slope) -> Identity, opset 13."""
    nodes = [
        helper.make_node("PRelu", ["x", "slope"], ["p"]),
        helper.make_node("Identity", ["p"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(slope.astype(np.float32), "slope")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: bytes | str, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _ops(model: bytes) -> list[str]:
    return [node.op_type for node in onnx.load_from_string(model).graph.node]


@pytest.mark.parametrize("slope_shape", [(1, 32, 1, 1), (32, 1, 1)])
def test_a_per_channel_prelu_gives_numpys_values(slope_shape):
    rng = np.random.default_rng(3)
    # Slopes of every kind the registered models hold: negative, between 0 and 1, above 1.
    slope = rng.uniform(-5.0, 20.0, slope_shape)
    x = rng.normal(0.0, 3.0, (2, 32, 17, 9)).astype(np.float32)
    x[0, 0, 0, :3] = [0.0, -0.0, 1e-30]
    rewritten = rewrite_prelu(_graph(slope, ["n", 32, 17, 9]).SerializeToString())

    assert "PRelu" not in _ops(rewritten)
    expected = np.where(x > 0, x, slope.reshape(1, 32, 1, 1).astype(np.float32) * x)
    # Bit for bit: one of Relu(x), Relu(-x) is zero, the other term is PRelu's own product.
    np.testing.assert_array_equal(_run(rewritten, x), expected)


def test_a_slope_along_another_axis_is_left_as_prelu():
    # A (1, 1, W) slope varies along the last axis: not a per-channel scale.
    model = _graph(np.linspace(-1.0, 2.0, 9).reshape(1, 1, 9), [1, 4, 5, 9])
    assert split_prelus(model) == 0
    assert [node.op_type for node in model.graph.node] == ["PRelu", "Identity"]


def test_a_prelu_on_a_3d_input_is_left_as_prelu():
    model = _graph(np.full((4, 1), 0.25), [1, 4, 5])
    assert split_prelus(model) == 0


def test_a_model_without_prelu_is_handed_back_untouched(tmp_path):
    path = tmp_path / "plain.onnx"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    onnx.save(helper.make_model(graph), path)
    assert rewrite_prelu(path) is path


@pytest.mark.parametrize(
    ("model", "shape", "prelus"),
    [("face_landmarker_v2", (1, 256, 256, 3), 69), ("face_mesh", (1, 192, 192, 3), 23)],
)
def test_the_registered_landmark_models_keep_their_outputs(shared, model, shape, prelus):
    path = resolve(model)
    loaded = onnx.load(path)
    assert split_prelus(loaded) == prelus
    rewritten = loaded.SerializeToString()
    assert "PRelu" not in _ops(rewritten)
    x = np.random.default_rng(11).random(shape, dtype=np.float32)
    original, ours = _run(str(path), x), _run(rewritten, x)
    np.testing.assert_allclose(ours, original, rtol=0, atol=1e-5 * np.abs(original).max())


def test_cpu_sessions_run_the_rewritten_graph(shared, monkeypatch):
    monkeypatch.setattr(runtime, "_sessions", {})
    handed: list[object] = []

    def spy(source):
        handed.append(rewrite_prelu(source))
        return handed[-1]

    monkeypatch.setattr(cpu_graph, "rewrite_prelu", spy)
    runtime.session("face_mesh")
    assert len(handed) == 1 and isinstance(handed[0], bytes)
    assert "PRelu" not in _ops(handed[0])
