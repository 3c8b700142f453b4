"""Measure declarations: the 0-100 mapping and the specification entries they generate."""

from __future__ import annotations

import math

import pytest

from bqat.measures import Measure, Sigmoid


@pytest.mark.parametrize(
    ("mapping", "raw", "expected"),
    [
        (Sigmoid(x0=70, w=20), 70, 50),  # the midpoint of the sigmoid
        (Sigmoid(x0=70, w=20), 70 + 20 * math.log(3), 75),  # sigmoid(ln 3) = 3/4
        (Sigmoid(x0=70, w=20), 10_000, 100),
        (Sigmoid(x0=70, w=20), -10_000, 0),
        (Sigmoid(x0=0.2, w=0.06, a=1, s=-1), 0.2, 50),  # decreasing mapping
        (Sigmoid(x0=0, w=0.05, h=200, a=1, s=-1, centre=0.45), 0.45, 100),  # best at the centre
        (Sigmoid(x0=0, w=0.05, h=200, a=1, s=-1, centre=0.45), 0.45 + 0.05 * math.log(3), 50),
        (Sigmoid(x0=0, w=1, h=300), 5, 100),  # clipped to 100
    ],
)
def test_the_sigmoid_mapping_gives_known_components(mapping, raw, expected):
    assert mapping(raw) == expected


@pytest.mark.parametrize("raw", [None, math.nan, math.inf])
def test_missing_or_non_finite_raw_values_have_no_component(raw):
    assert Sigmoid(x0=1, w=1)(raw) is None


def test_a_measure_with_a_component_declares_two_columns():
    measure = Measure(
        name="iso_head_size",
        modality="face",
        type="number",
        description="Head height over image height.",
        unit="ratio",
        range=(0, None),
        direction="closer_to_target_is_better",
        clause="ISO/IEC 29794-5 head size",
        component=Sigmoid(x0=0, w=0.05, h=200, a=1, s=-1, centre=0.45),
    )
    columns = measure.columns()
    assert list(columns) == ["iso_head_size", "iso_head_size_scalar"]
    assert columns["iso_head_size"]["range"] == [0, None]
    assert columns["iso_head_size_scalar"]["type"] == "integer"
    assert columns["iso_head_size_scalar"]["range"] == [0, 100]
    assert "0.45" in str(columns["iso_head_size_scalar"]["description"])


def test_a_measure_without_a_component_declares_one_column():
    measure = Measure(name="smile", modality="face", type="boolean", description="Smiling.")
    assert list(measure.columns()) == ["smile"]
    assert measure.scalar_name is None
