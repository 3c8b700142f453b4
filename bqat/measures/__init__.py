"""Declared measures: the schema of every record, and the shared 0-100 component mapping."""

from bqat.measures.declaration import SCALAR_SUFFIX, Component, Linear, Measure, Sigmoid
from bqat.measures.registry import (
    available_modalities,
    check_modality,
    measures,
    quality_columns,
    specification,
)

__all__ = [
    "SCALAR_SUFFIX",
    "Component",
    "Linear",
    "Measure",
    "Sigmoid",
    "available_modalities",
    "check_modality",
    "measures",
    "quality_columns",
    "specification",
]
