"""Model files (registry, verification, download) and the ONNX Runtime sessions that run them."""

from bqat.models.registry import (
    MODELS,
    InputSpec,
    ModelSpec,
    PyPISource,
    Verification,
    get_spec,
    resolve,
    verify,
)

__all__ = [
    "MODELS",
    "InputSpec",
    "ModelSpec",
    "PyPISource",
    "Verification",
    "get_spec",
    "resolve",
    "verify",
]
