"""The report's distribution panels: histogram counts and shares against hand-counted answers."""

from __future__ import annotations

import re

import numpy as np

from bqat.report_charts import BINS, histogram, histogram_svg, shares_svg


def test_small_integer_ranges_get_one_bin_per_value():
    chart = histogram(np.array([1, 2, 2, 3, 3, 3, np.nan]), integer=True)
    assert chart.counts == [1, 2, 3]
    assert chart.edges == [0.5, 1.5, 2.5, 3.5]
    assert chart.missing == 1
    assert chart.quantiles["median"] == 2.5


def test_numbers_get_equal_bins_from_the_smallest_to_the_largest_value():
    values = np.arange(240, dtype=np.float64) / 10.0  # 0.0 .. 23.9, ten per unit
    chart = histogram(values, integer=False)
    assert len(chart.counts) == BINS and sum(chart.counts) == 240
    assert chart.edges[0] == 0.0 and chart.edges[-1] == 23.9
    assert chart.counts[0] == 10 and chart.counts[-1] == 10  # numpy's last bin is closed
    assert chart.missing == 0


def test_a_constant_column_is_one_bar_and_an_empty_one_no_chart():
    assert histogram(np.full(5, 7.0), integer=False).counts == [5]
    assert histogram(np.array([np.nan, np.inf]), integer=False) is None


def test_the_drawing_has_a_bar_per_non_empty_bin_scaled_to_the_highest():
    svg = histogram_svg(histogram(np.array([1, 2, 2, 4]), integer=True))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights == [48.0, 96.0, 48.0]  # counts 1, 2, 0 (not drawn), 1 of a 96-px plot
    assert "2 max" in svg


def test_labels_of_shares_are_escaped():
    svg = shares_svg([("<b>", 0.75), ("x", 0.25)])
    assert "&lt;b&gt;" in svg and "<b>" not in svg and "75%" in svg
