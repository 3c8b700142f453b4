"""The specification is generated from the declarations and agrees with the records."""

from __future__ import annotations

import pytest

import bqat
from bqat import ConfigError
from bqat.measures import measures


def test_the_face_specification_describes_every_declared_column():
    spec = bqat.specification("face")
    declared = measures("face")
    assert len(spec) == len(declared) + sum(m.component is not None for m in declared)
    for name, entry in spec.items():
        assert entry["modality"] == "face"
        assert entry["type"] in ("integer", "number", "boolean", "string"), name
        assert entry["description"], name
    assert spec["yaw_pose"]["values"] == ["Left", "Right", "Forward"]
    assert spec["iso_inter_eye_distance_scalar"]["range"] == [0, 100]


def test_every_declared_measure_computes_something():
    assert all(m.compute is not None for m in measures("face"))


def test_unknown_and_unbuilt_modalities_are_config_errors():
    from bqat.engines import get_engine, register, unregister

    with pytest.raises(ConfigError, match="unknown modality 'voice'"):
        bqat.specification("voice")
    face = get_engine("face")
    unregister("face")  # a modality of the design whose engine is absent
    try:
        with pytest.raises(ConfigError, match="modality not built yet 'face'; available: "):
            bqat.specification("face")
    finally:
        register(face)
