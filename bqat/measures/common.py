"""Measures every modality's record carries, whatever the sample is."""

from __future__ import annotations

from bqat.measures.declaration import Measure


def file_measure(modality: str) -> Measure:
    """`file`: the sample's name in its dataset."""
    return Measure(
        name="file",
        modality=modality,
        type="string",
        example="subject_0001.jpg",
        description="Path of the sample relative to the scanned folder (null for bytes or arrays).",
        compute=lambda c: c.file,
    )
