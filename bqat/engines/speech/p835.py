"""The DNSMOS P.835 model on overlapping windows, its convolutions computed once per frame.

The model (`dnsmos_p835`) frames its 9.01 s input into 900 frames of 320 samples every 160,
takes their log power spectrum (161 bins), runs four 3 x 3 convolutions at full resolution,
which hold 94 % of its ~21 GFLOP, then pools, convolves further, takes a global maximum and maps
it to (SIG, BAK, OVRL). Windows 1 s apart start 100 frames apart, so 8/9 of each window's frames
are its neighbour's too, and the reference recomputes them window after window.

Here the registered graph is split where its full-resolution part ends (`conv2d_3/Relu:0`):
- the front (framed audio -> 32 x frames x 161 features) runs once over every frame the windows
  cover, in chunks with four frames of real context either side (each 3 x 3 convolution reaches
  one frame further), so each frame's features are those of any window holding it away from its
  edges;
- a window's four first and four last frames see zero padding instead of their neighbours in the
  reference: they are recomputed from an 8-frame strip of the window alone;
- the tail (pooling, convolutions, maximum, dense layers) runs per window on its 900 frames.
The result equals the whole model run per window (tested to 1e-5 on the raw outputs). The split
graphs are derived from the registered file in memory, after its sha256 check, and run on the
process's execution providers with its thread settings.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from bqat.exceptions import InferenceError, ModelError

FRAMES_INPUT = "mos_estimator_logpow/concat:0"
FEATURES = "mos_estimator_logpow/conv2d_3/Relu:0"
OUTPUT = "Identity:0"
FRAME = 320
FRAME_HOP = 160
WINDOW_FRAMES = 900
CHANNELS = 32
BINS = 161
HALO = 4  # four 3 x 3 convolutions: a feature depends on the 4 frames either side
CHUNK_FRAMES = 400  # front activations ~34 MB a chunk (128 channels at full resolution)
GROUP_WINDOWS = 16  # windows whose features are held at once (~50 MB at a 1 s hop)

_lock = threading.Lock()
_sessions: dict[str, Any] = {}


def split_sessions(model_name: str) -> tuple[Any, Any]:
    """(front, tail) ONNX Runtime sessions of the registered P.835 model, made once per process."""
    with _lock:
        if model_name not in _sessions:
            _sessions[model_name] = _build(model_name)
        return _sessions[model_name]


def _build(model_name: str) -> tuple[Any, Any]:
    try:
        import onnx
        import onnx.shape_inference
        import onnx.utils
    except ImportError as exc:
        raise ModelError(
            "the onnx package (a bqat dependency) is missing: it splits the DNSMOS P.835 graph; "
            "pip install -c requirements.lock onnx"
        ) from exc

    from bqat.models.registry import resolve
    from bqat.models.runtime import onnxruntime_module, providers, session_options

    path = resolve(model_name)
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
        front = _extract(model, FRAMES_INPUT, FEATURES, ("N", "F", FRAME))
        tail = _extract(model, FEATURES, OUTPUT, ("N", CHANNELS, WINDOW_FRAMES, BINS))
    except Exception as exc:  # onnx raises its own errors for a graph it cannot split
        raise ModelError(f"model {model_name}: cannot split {path} at {FEATURES}: {exc}") from exc
    ort = onnxruntime_module()
    options = session_options()
    try:
        return tuple(
            ort.InferenceSession(part.SerializeToString(), options, providers=providers())
            for part in (front, tail)
        )  # type: ignore[return-value]
    except Exception as exc:
        raise ModelError(f"model {model_name}: ONNX Runtime cannot load its split: {exc}") from exc


def _extract(model: Any, start: str, end: str, shape: tuple[int | str, ...]) -> Any:
    import onnx.utils

    part = onnx.utils.Extractor(model).extract_model([start], [end])
    del part.graph.value_info[:]
    dims = part.graph.input[0].type.tensor_type.shape.dim
    del dims[:]
    for size in shape:
        dim = dims.add()
        if isinstance(size, str):
            dim.dim_param = size
        else:
            dim.dim_value = size
    part.graph.output[0].type.tensor_type.ClearField("shape")
    return part


def _run(session: Any, name: str, feed: np.ndarray) -> np.ndarray:
    try:
        return session.run([session.get_outputs()[0].name], {name: feed})[0]
    except Exception as exc:
        raise InferenceError(f"model dnsmos_p835 (split): inference failed: {exc}") from exc


def raw_scores(model_name: str, audio: np.ndarray, starts: list[int]) -> np.ndarray:
    """Raw (SIG, BAK, OVRL) of the 9.01 s windows of `audio` at `starts` (multiples of 160)."""
    front, tail = split_sessions(model_name)
    frames = np.lib.stride_tricks.sliding_window_view(audio, FRAME)[::FRAME_HOP]
    offsets = [start // FRAME_HOP for start in starts]
    # The edge strips of every window, in one call.
    strips = np.stack(
        [frames[o : o + 2 * HALO] for o in offsets]
        + [frames[o + WINDOW_FRAMES - 2 * HALO : o + WINDOW_FRAMES] for o in offsets]
    )
    edges = _run(front, FRAMES_INPUT, np.ascontiguousarray(strips, np.float32))
    heads, ends = edges[: len(offsets), :, :HALO], edges[len(offsets) :, :, HALO:]
    raw = np.empty((len(offsets), 3), np.float32)
    for group in range(0, len(offsets), GROUP_WINDOWS):
        members = range(group, min(group + GROUP_WINDOWS, len(offsets)))
        first, last = offsets[members[0]], offsets[members[-1]] + WINDOW_FRAMES
        features = np.empty((CHANNELS, last - first, BINS), np.float32)
        for a in range(first, last, CHUNK_FRAMES):
            b = min(a + CHUNK_FRAMES, last)
            lo, hi = max(a - HALO, 0), min(b + HALO, len(frames))
            chunk = _run(front, FRAMES_INPUT, np.ascontiguousarray(frames[lo:hi][None], np.float32))
            features[:, a - first : b - first] = chunk[0, :, a - lo : b - lo]
        for i in members:
            start = offsets[i] - first
            window = features[:, start : start + WINDOW_FRAMES].copy()
            window[:, :HALO] = heads[i]
            window[:, WINDOW_FRAMES - HALO :] = ends[i]
            raw[i] = _run(tail, FEATURES, window[None])[0]
    return raw
