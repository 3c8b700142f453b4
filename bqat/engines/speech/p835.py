"""The DNSMOS P.835 model on overlapping windows, its convolutions computed once per frame.

The model (`dnsmos_p835`) frames its 9.01 s input into 900 frames of 320 samples every 160,
takes their log power spectrum (161 bins), runs four 3 x 3 convolutions at full resolution,
which hold 94 % of its ~19 GMAC per window, then pools 2 x 2, convolves further, takes a global
maximum and maps it to (SIG, BAK, OVRL). Windows 1 s apart start 100 frames apart, so 8/9 of
each window's frames are its neighbour's too, and the reference recomputes them window after
window.

Here the registered graph is split after its first pooling (`conv2d_3/Relu:0_pooling0`, 32 x
450 x 80 per window), where its full-resolution part ends:
- the front (framed audio -> convolutions -> 2 x 2 pooling) runs once over every frame the
  windows cover, in chunks with four frames of real context either side (each 3 x 3 convolution
  reaches one frame further), so each pooled frame is that of any window holding it away from
  its edges; windows starting on an even frame (every 320 samples, 20 ms) share the pooling
  grid;
- a window's four first and four last frames (two pooled frames at each end) see zero padding
  instead of their neighbours in the reference: they are recomputed from an 8-frame strip of
  the window alone;
- the tail (convolutions, pooling, maximum, dense layers) runs per window on its 450 pooled
  frames, one window per call (batches of windows run slower per window on one core).
The result equals the whole model run per window (tested to 1e-5 on the raw outputs). Splitting
after the pooling rather than before it leaves the tail a quarter of the data to take in (ONNX
Runtime reorders every tail input into its blocked layout) and pools each frame once instead of
once per window. The split graphs are derived from the registered file in memory, after its
sha256 check, and run on the process's execution providers with its thread settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bqat.exceptions import InferenceError, ModelError

FRAMES_INPUT = "mos_estimator_logpow/concat:0"
FEATURES = "mos_estimator_logpow/conv2d_3/Relu:0_pooling0"
OUTPUT = "Identity:0"
FRAME = 320
FRAME_HOP = 160
SHARED_HOP = 2 * FRAME_HOP  # windows on this grid share the front's pooling grid
WINDOW_FRAMES = 900
POOL = 2  # the front ends with a 2 x 2 pooling
POOLED_FRAMES = WINDOW_FRAMES // POOL
CHANNELS = 32
POOLED_BINS = 80  # 161 bins pooled by 2, the last dropped
HALO = 4  # four 3 x 3 convolutions: a feature depends on the 4 frames either side
EDGE = HALO // POOL  # pooled frames at each end of a window that see its zero padding
CHUNK_FRAMES = 400  # front activations ~34 MB a chunk (128 channels at full resolution)
EDGE_BATCH = 32  # windows whose edge strips run in one call (~42 MB of activations)

PARTS = ("front", "tail")  # the sessions `dnsmos_p835/front` and `dnsmos_p835/tail`


def split_sessions(model_name: str) -> tuple[Any, Any]:
    """(front, tail) ONNX Runtime sessions of the registered P.835 model, made once per process."""
    from bqat.models.runtime import derived_session

    return tuple(
        derived_session(model_name, part, lambda path, part=part: _split(path)[part])
        for part in PARTS
    )  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _split(path: Path) -> dict[str, bytes]:
    """The serialised front and tail graphs of the model file at `path` (sha256 checked)."""
    try:
        import onnx
        import onnx.shape_inference
        import onnx.utils
    except ImportError as exc:
        raise ModelError(
            "the onnx package (a bqat dependency) is missing: it splits the DNSMOS P.835 graph; "
            "pip install -c requirements.lock onnx"
        ) from exc
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
        front = _extract(model, FRAMES_INPUT, FEATURES, ("N", "F", FRAME))
        tail = _extract(model, FEATURES, OUTPUT, ("N", CHANNELS, POOLED_FRAMES, POOLED_BINS))
    except Exception as exc:  # onnx raises its own errors for a graph it cannot split
        raise ModelError(f"DNSMOS P.835 model {path}: cannot split at {FEATURES}: {exc}") from exc
    return dict(zip(PARTS, (front.SerializeToString(), tail.SerializeToString()), strict=True))


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
    """Raw (SIG, BAK, OVRL) of the 9.01 s windows of `audio` at `starts` (multiples of 320)."""
    front, tail = split_sessions(model_name)
    frames = np.lib.stride_tricks.sliding_window_view(audio, FRAME)[::FRAME_HOP]
    offsets = [start // FRAME_HOP for start in starts]
    raw = np.empty((len(offsets), 3), np.float32)
    for i, window in enumerate(_pooled_windows(front, frames, offsets)):
        if i % EDGE_BATCH == 0:
            heads, ends = _edges(front, frames, offsets[i : i + EDGE_BATCH])
        window[:, :EDGE] = heads[i % EDGE_BATCH]
        window[:, POOLED_FRAMES - EDGE :] = ends[i % EDGE_BATCH]
        raw[i] = _run(tail, FEATURES, window[None])[0]
    return raw


def _edges(front: Any, frames: np.ndarray, offsets: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The first and last two pooled frames of the windows at `offsets`, each from an 8-frame
    strip of its own (pooled frames 0, 1 of the head strip, 2, 3 of the end strip), in one call."""
    strips = np.stack(
        [frames[o : o + 2 * HALO] for o in offsets]
        + [frames[o + WINDOW_FRAMES - 2 * HALO : o + WINDOW_FRAMES] for o in offsets]
    )
    edges = _run(front, FRAMES_INPUT, np.ascontiguousarray(strips, np.float32))
    return edges[: len(offsets), :, :EDGE], edges[len(offsets) :, :, EDGE:]


def _pooled_windows(front: Any, frames: np.ndarray, offsets: list[int]) -> Iterator[np.ndarray]:
    """Each window's pooled features (32 x 450 x 80, a copy), in order of their (even, rising)
    first frames `offsets`; the front runs once per frame, in chunks, keeping only the chunks
    that windows still to come hold."""
    chunks: list[tuple[int, int, np.ndarray]] = []  # (first frame, end frame, pooled)
    done, last = offsets[0], offsets[-1] + WINDOW_FRAMES
    for first in offsets:
        end = first + WINDOW_FRAMES
        chunks = [c for c in chunks if c[1] > first]
        done = max(done, first)
        while done < end:
            b = min(done + CHUNK_FRAMES, last)
            chunks.append((done, b, _front_chunk(front, frames, done, b)))
            done = b
        yield np.concatenate(
            [
                pooled[:, (max(first, a) - a) // POOL : (min(end, b) - a) // POOL]
                for a, b, pooled in chunks
            ],
            axis=1,
        )


def _front_chunk(front: Any, frames: np.ndarray, a: int, b: int) -> np.ndarray:
    """Pooled features (32 x (b - a) / 2 x 80) of frames a..b (a even), with four frames of real
    context either side where the audio has them."""
    lo, hi = max(a - HALO, 0), min(b + HALO, len(frames))
    chunk = _run(front, FRAMES_INPUT, np.ascontiguousarray(frames[lo:hi][None], np.float32))
    return chunk[0, :, (a - lo) // POOL : (b - lo) // POOL]
