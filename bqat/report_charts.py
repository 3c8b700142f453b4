"""The report's distribution panels: histograms and label shares as small inline SVG.

Drawn from the stored columns with NumPy (a 1 M-row column takes milliseconds), so a report
needs neither a plotting library nor a script, and weighs a few kilobytes per measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np

BINS = 24
WIDTH, HEIGHT = 320, 96  # the plot area of one panel, in CSS pixels
LABEL_HEIGHT = 16


@dataclass(frozen=True)
class Histogram:
    """Counts of a numeric column's values in consecutive bins [edges[i], edges[i + 1])."""

    edges: list[float]
    counts: list[int]
    low: float  # the smallest value
    high: float  # the largest value
    quantiles: dict[str, float]  # p5, median, p95 of the values
    missing: int  # rows without a value


def histogram(values: np.ndarray, *, integer: bool) -> Histogram | None:
    """The histogram of the finite `values` (NaN marks a missing one); None when there is none.

    Integers spanning at most BINS values get one bin per value, everything else BINS equal
    bins between the smallest and the largest value (one bin when they are equal).
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    if integer and high - low < BINS:
        edges = np.arange(low, high + 2.0) - 0.5
    elif low == high:
        edges = np.array([low - 0.5, high + 0.5])
    else:
        edges = np.linspace(low, high, BINS + 1)
    counts, _ = np.histogram(finite, bins=edges)
    p5, p50, p95 = np.percentile(finite, [5, 50, 95])
    return Histogram(
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        low=low,
        high=high,
        quantiles={"p5": float(p5), "median": float(p50), "p95": float(p95)},
        missing=int(values.size - finite.size),
    )


def histogram_svg(chart: Histogram) -> str:
    """Bars of the counts over the value axis, labelled with the first and last edge."""
    peak = max(chart.counts) or 1
    step = WIDTH / len(chart.counts)
    bars = "".join(
        f'<rect x="{i * step + 0.5:.1f}" y="{HEIGHT - HEIGHT * c / peak:.1f}" '
        f'width="{max(step - 1.0, 0.5):.1f}" height="{HEIGHT * c / peak:.1f}">'
        f"<title>{_edge(chart.edges[i])} to {_edge(chart.edges[i + 1])}: {c}</title></rect>"
        for i, c in enumerate(chart.counts)
        if c
    )
    axis = HEIGHT + LABEL_HEIGHT - 3
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT + LABEL_HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT + LABEL_HEIGHT}" role="img" class="chart">'
        f'<line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" class="axis"/>{bars}'
        f'<text x="0" y="{axis}">{_edge(chart.edges[0])}</text>'
        f'<text x="{WIDTH}" y="{axis}" text-anchor="end">{_edge(chart.edges[-1])}</text>'
        f'<text x="{WIDTH}" y="10" text-anchor="end">{peak} max</text></svg>'
    )


def shares_svg(shares: list[tuple[str, float]], shown: int = 8) -> str:
    """One horizontal bar per label (most frequent first), its share of the rows with a value."""
    row = 18
    kept = shares[:shown]
    bars = "".join(
        f'<text x="0" y="{i * row + 13}">{escape(label)}</text>'
        f'<rect x="110" y="{i * row + 3}" width="{(WIDTH - 160) * share:.1f}" height="{row - 6}"/>'
        f'<text x="{114 + (WIDTH - 160) * share:.1f}" y="{i * row + 13}">{share:.0%}</text>'
        for i, (label, share) in enumerate(kept)
    )
    height = row * len(kept)
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'class="chart">{bars}</svg>'
    )


def _edge(value: float) -> str:
    return f"{value:.4g}"
