"""Per-channel PRelu rewritten into operators ONNX Runtime's CPU provider runs fast.

Why: ONNX Runtime 1.32's CPU PRelu is not vectorised (about 3.4 ns an element here) and has no
blocked-layout (NCHWc) kernel, so every PRelu also costs a reorder out of the blocked layout the
convolutions around it use, and back. In FaceLandmarker v2 the 69 PRelus took 12.5 ms and their
reorders 3 ms of a 22 ms run, more than the 106 convolutions (4.2 ms).

The rewrite uses PRelu(x) = Relu(x) + (-slope) * Relu(-x): one of the two terms is always zero,
so each element is what PRelu gives, bit for bit (x, or one rounding of slope * x). The two
per-channel products are BatchNormalizations (zero mean and bias, unit variance, epsilon 0),
which ONNX Runtime runs as blocked depthwise convolutions, with the Relu after the first fused
in; Relu and Add stay blocked too. Measured on one thread, 100 runs on one input: FaceLandmarker
v2 16.9 -> 6.3 ms a run, the light face mesh 4.1 -> 1.4 ms (bench/face.py shows the stages).
The form slope * x + (1 - slope) * Relu(x), one operator fewer, was no faster and is off by up
to |slope| ulps on positive inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


def rewrite_prelu(source: str | Path | bytes) -> bytes | str | Path:
    """The model with every per-channel PRelu on a 4-D input replaced (see the module docstring).

    `source` is a model file or serialised model; a model without such a PRelu is returned as
    it came, so that ONNX Runtime loads it exactly as before.
    """
    model = onnx.load_from_string(source) if isinstance(source, bytes) else onnx.load(source)
    if not split_prelus(model):
        return source
    return model.SerializeToString()


def split_prelus(model: onnx.ModelProto) -> int:
    """Rewrite, in place, each PRelu whose slope is a constant per channel of a 4-D input;
    return how many were rewritten. Any other PRelu is left as it is."""
    graph = model.graph
    if not any(node.op_type == "PRelu" for node in graph.node):
        return 0  # no shape inference for models without PRelu (YuNet, DNSMOS, blendshapes)
    constants = {tensor.name: tensor for tensor in graph.initializer}
    ranks = _ranks(model)
    nodes: list[onnx.NodeProto] = []
    replaced: set[str] = set()
    count = 0
    for index, node in enumerate(graph.node):
        slope = _channel_slope(node, constants, ranks)
        if slope is None:
            nodes.append(node)
            continue
        replaced.add(node.input[1])
        count += 1
        prefix = f"bqat_prelu_{index}_"
        graph.initializer.extend(_batchnorm_constants(prefix, slope))
        nodes.extend(_prelu_nodes(prefix, node.input[0], node.output[0]))
    if not count:
        return 0
    graph.ClearField("node")
    graph.node.extend(nodes)
    still_used = {name for node in nodes for name in node.input}
    kept = [t for t in graph.initializer if t.name not in replaced or t.name in still_used]
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    return count


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    """The rank of each tensor that shape inference can tell."""
    inferred = onnx.shape_inference.infer_shapes(model)
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    return {
        value.name: len(value.type.tensor_type.shape.dim)
        for value in values
        if value.type.tensor_type.HasField("shape")
    }


def _channel_slope(
    node: onnx.NodeProto, constants: dict[str, onnx.TensorProto], ranks: dict[str, int]
) -> np.ndarray | None:
    """The slope as one value per channel, when `node` is a PRelu this rewrite may replace."""
    if node.op_type != "PRelu" or node.domain not in ("", "ai.onnx"):
        return None
    if ranks.get(node.input[0]) != 4 or node.input[1] not in constants:
        return None
    slope = numpy_helper.to_array(constants[node.input[1]])
    if slope.dtype != np.float32:
        return None
    # Broadcast against (N, C, H, W): the slope varies along C at most.
    shape = (1,) * (4 - slope.ndim) + slope.shape
    if slope.ndim > 4 or shape[0] != 1 or shape[2] != 1 or shape[3] != 1 or shape[1] == 1:
        return None
    return slope.reshape(-1)


def _batchnorm_constants(prefix: str, slope: np.ndarray) -> list[onnx.TensorProto]:
    ones = np.ones_like(slope)
    return [
        numpy_helper.from_array(-ones, prefix + "minus_one"),
        numpy_helper.from_array(-slope, prefix + "minus_slope"),
        numpy_helper.from_array(np.zeros_like(slope), prefix + "zero"),
        numpy_helper.from_array(ones, prefix + "one"),
    ]


def _scale(prefix: str, x: str, factor: str, y: str) -> onnx.NodeProto:
    """y = factor * x per channel: a BatchNormalization with zero mean and bias, unit variance
    and epsilon 0, so that ONNX Runtime multiplies by `factor` exactly."""
    zero, one = prefix + "zero", prefix + "one"
    return helper.make_node(
        "BatchNormalization", [x, factor, zero, zero, one], [y], name=y, epsilon=0.0
    )


def _prelu_nodes(prefix: str, x: str, y: str) -> list[onnx.NodeProto]:
    """Relu(x) + (-slope) * Relu(-x)."""
    return [
        helper.make_node("Relu", [x], [prefix + "positive"], name=prefix + "positive"),
        _scale(prefix, x, prefix + "minus_one", prefix + "negated"),
        helper.make_node(
            "Relu", [prefix + "negated"], [prefix + "negative"], name=prefix + "negative"
        ),
        _scale(prefix, prefix + "negative", prefix + "minus_slope", prefix + "sloped"),
        helper.make_node("Add", [prefix + "positive", prefix + "sloped"], [y], name=prefix + "add"),
    ]
