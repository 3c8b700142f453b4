"""bqat: biometric quality assessment for face, fingerprint, iris and speech samples."""

from bqat._version import __version__
from bqat.assessment import assess, specification
from bqat.exceptions import (
    BqatError,
    ConfigError,
    InputError,
    ModelError,
    NativeError,
    NotFoundError,
    SampleTimeout,
)

# Store and scan entry points pull in DuckDB, pyarrow and (when run) Prefect: load them on use.
_LAZY = {"ScanSummary", "errors", "profiles", "scan"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bqat import scanning

        return getattr(scanning, name)
    raise AttributeError(f"module 'bqat' has no attribute {name!r}")


__all__ = [
    "BqatError",
    "ConfigError",
    "InputError",
    "ModelError",
    "NativeError",
    "NotFoundError",
    "SampleTimeout",
    "ScanSummary",
    "__version__",
    "assess",
    "errors",
    "profiles",
    "scan",
    "specification",
]
