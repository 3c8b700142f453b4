"""bqat: biometric quality assessment for face, fingerprint, iris and speech samples."""

import importlib

from bqat._version import __version__
from bqat.assessment import assess, specification
from bqat.exceptions import (
    AccessError,
    BqatError,
    ConfigError,
    DatasetInUse,
    InferenceError,
    InputError,
    MeasureError,
    ModelError,
    NativeError,
    NotFoundError,
    PathNameError,
    SampleTimeout,
    ServiceUnavailable,
)

# The store pulls in DuckDB and pyarrow, and `scan` runs a Prefect flow: load them on use.
_LAZY = {
    "ScanSummary": "scanning",
    "delete_dataset": "runner",
    "errors": "scanning",
    "history": "scanning",
    "import_results": "imports",
    "preprocess": "runner",
    "profiles": "scanning",
    "scan": "runner",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module = importlib.import_module(f"bqat.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'bqat' has no attribute {name!r}")


__all__ = [
    "AccessError",
    "BqatError",
    "ConfigError",
    "DatasetInUse",
    "InferenceError",
    "InputError",
    "MeasureError",
    "ModelError",
    "NativeError",
    "NotFoundError",
    "PathNameError",
    "SampleTimeout",
    "ScanSummary",
    "ServiceUnavailable",
    "__version__",
    "assess",
    "delete_dataset",
    "errors",
    "history",
    "import_results",
    "preprocess",
    "profiles",
    "scan",
    "specification",
]
