"""One engine per modality behind one interface (bqat.engines.engine) and one registry."""

from bqat.engines.engine import MEASURE_ERRORS, Engine, assess_with, checked_options, record
from bqat.engines.registry import MODALITIES, engines, get_engine, register, unregister

__all__ = [
    "MEASURE_ERRORS",
    "MODALITIES",
    "Engine",
    "assess_with",
    "checked_options",
    "engines",
    "get_engine",
    "record",
    "register",
    "unregister",
]
