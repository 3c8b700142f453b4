"""One ONNX Runtime session per model per process, on the best execution provider available.

onnxruntime (CPU) and onnxruntime-gpu install the same Python package, so which one is present is
checked here, at first use, with an actionable message instead of an ImportError deep in a scan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bqat.exceptions import ConfigError, ModelError
from bqat.models.registry import get_spec, resolve
from bqat.settings import get_settings

if TYPE_CHECKING:
    import onnxruntime

_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"
PART_SEPARATOR = "/"  # a session derived from part of a model's graph: "model/part"
_lock = threading.Lock()
_sessions: dict[str, onnxruntime.InferenceSession] = {}


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def onnxruntime_module() -> ModuleType:
    """The imported onnxruntime package, after checking that exactly one flavour is installed."""
    if _installed("onnxruntime") and _installed("onnxruntime-gpu"):
        raise ConfigError(
            "onnxruntime and onnxruntime-gpu are both installed and overwrite each other; "
            "uninstall both, then install bqat[cpu] or bqat[gpu]"
        )
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            "ONNX Runtime is not installed: pip install 'bqat[cpu]' (or 'bqat[gpu]' on CUDA hosts)"
        ) from exc
    return onnxruntime


def providers() -> list[str]:
    """Execution providers to ask for, best first; CPU is always the last fallback."""
    choice = get_settings().execution_provider
    available = onnxruntime_module().get_available_providers()
    if choice == "cuda" and _CUDA not in available:
        raise ConfigError(
            "BQAT_EXECUTION_PROVIDER=cuda but this ONNX Runtime offers only "
            f"{', '.join(available)}; install bqat[gpu] on a CUDA host"
        )
    if choice != "cpu" and _CUDA in available:
        return [_CUDA, _CPU]
    return [_CPU]


def session_options() -> onnxruntime.SessionOptions:
    """The options of every session bqat creates: BQAT_THREADS intra-op threads, quiet, every
    graph optimisation."""
    ort = onnxruntime_module()
    options = ort.SessionOptions()
    # ONNX Runtime's default, stated because it was measured: ORT_ENABLE_BASIC gives the same
    # outputs (within 2 float32 ulps) but makes a face record 1.3x slower (YuNet 3x, the DNSMOS
    # graphs 2x), and FaceLandmarker v2, the one model it might help, runs at 0.9-1.06x.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = get_settings().threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle intra-op threads would otherwise spin and steal the cores from the next model of
    # the chain (measured: 53 ms -> 28 ms for detector + mesh + irises on 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def session(name: str) -> onnxruntime.InferenceSession:
    """The process's session for registered model `name`, created on first use.

    ONNX Runtime sessions are safe to `run` from several threads, so one per process serves all.
    """
    if not get_spec(name).is_onnx:
        raise ModelError(f"model {name} ({get_spec(name).file}) is not an ONNX model")
    return _session(name, name, str)


def derived_session(
    model: str, part: str, graph: Callable[[Path], bytes]
) -> onnxruntime.InferenceSession:
    """The process's session `model/part`: the graph `graph` derives from the model's verified
    file (serialised ONNX), created on first use, listed beside the whole model's sessions."""
    return _session(f"{model}{PART_SEPARATOR}{part}", model, graph)


def model_of(session_name: str) -> str:
    """The registered model a session (`model` or `model/part`) runs."""
    return session_name.split(PART_SEPARATOR, 1)[0]


def _session(
    key: str, model: str, graph: Callable[[Path], str | bytes]
) -> onnxruntime.InferenceSession:
    with _lock:
        existing = _sessions.get(key)
        if existing is not None:
            return existing
        ort = onnxruntime_module()
        path = resolve(model)
        chosen = providers()
        source = graph(path)
        if chosen == [_CPU]:
            from bqat.models.cpu_graph import rewrite_prelu  # imports onnx, only when needed

            source = rewrite_prelu(source)
        try:
            created = ort.InferenceSession(source, session_options(), providers=chosen)
        except Exception as exc:  # ORT raises its own untyped errors for corrupt graphs
            raise ModelError(
                f"model {model}: ONNX Runtime cannot load {key} from {path}: {exc}"
            ) from exc
        _sessions[key] = created
        return created


def loaded_providers() -> dict[str, list[str]]:
    """session name -> the providers it actually runs on, for each session created so far.

    ONNX Runtime drops a requested provider it cannot initialise (CUDA without a usable GPU), so
    this can be less than `providers()` asked for.
    """
    with _lock:
        return {name: list(s.get_providers()) for name, s in _sessions.items()}


def active_providers() -> list[str]:
    """Providers the sessions created so far actually run on, best first (CUDA before CPU)."""
    used = {p for names in loaded_providers().values() for p in names}
    if not used:
        return []
    ranked = onnxruntime_module().get_available_providers()  # ONNX Runtime's priority order
    return sorted(used, key=lambda p: (ranked.index(p) if p in ranked else len(ranked), p))
