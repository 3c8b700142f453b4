"""Declared measures: the schema of every record, and the shared 0-100 component mapping."""

from bqat.measures.declaration import SCALAR_SUFFIX, Component, Linear, Measure, Modality, Sigmoid
from bqat.measures.registry import (
    MODALITIES,
    available_modalities,
    check_modality,
    declare,
    measures,
    quality_columns,
    specification,
)

__all__ = [
    "MODALITIES",
    "SCALAR_SUFFIX",
    "Component",
    "Linear",
    "Measure",
    "Modality",
    "Sigmoid",
    "available_modalities",
    "check_modality",
    "declare",
    "measures",
    "quality_columns",
    "specification",
]
