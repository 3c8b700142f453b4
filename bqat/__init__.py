"""bqat: biometric quality assessment for face, fingerprint, iris and speech samples."""

from bqat.assessment import assess, specification
from bqat.errors import (
    BqatError,
    ConfigError,
    InputError,
    ModelError,
    NativeError,
    NotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "BqatError",
    "ConfigError",
    "InputError",
    "ModelError",
    "NativeError",
    "NotFoundError",
    "__version__",
    "assess",
    "specification",
]
