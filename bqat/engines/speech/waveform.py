"""A small waveform picture of a recording: what the report shows of a speech outlier.

A recording has no picture of its own, so the report's outlier table gets its envelope instead:
per pixel column, the range (minimum to maximum) of the mono mix over that column's share of the
recording, dark blue, and red where the column holds a clipped sample (a full-scale sample on any
channel, as `clipping_ratio` counts it). The file is read column by column, so an hour-long
recording never sits in memory whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bqat.engines.speech.audio import full_scale, reading

BACKGROUND = (255, 255, 255)
WAVE = (150, 80, 30)  # BGR: dark blue
CLIPPED = (40, 40, 220)  # BGR: red


def waveform(path: Path, side: int) -> np.ndarray:
    """The recording's envelope, `side` x `side` // 2 BGR pixels (+1 full scale at the top row,
    -1 at the bottom); `InputError` when the file is not readable audio."""
    width, height = side, max(2, side // 2)
    low, high = np.zeros(width), np.zeros(width)
    clipped = np.zeros(width, bool)
    with reading(str(path)) as f:
        limit = full_scale(f.subtype)
        edges = np.linspace(0, f.frames, width + 1).round().astype(np.int64)
        for column, size in enumerate(np.diff(edges)):
            block = f.read(int(size), dtype="float32", always_2d=True)
            if len(block):
                mono = block.mean(axis=1)
                low[column], high[column] = mono.min(), mono.max()
                clipped[column] = np.abs(block).max() >= limit
    row = np.arange(height)[:, None]
    top = np.round((1.0 - np.clip(high, -1.0, 1.0)) / 2.0 * (height - 1))
    bottom = np.round((1.0 - np.clip(low, -1.0, 1.0)) / 2.0 * (height - 1))
    pixels = np.full((height, width, 3), BACKGROUND, np.uint8)
    colour = np.where(clipped[:, None], CLIPPED, WAVE).astype(np.uint8)  # width x 3
    drawn = (row >= top[None]) & (row <= bottom[None])
    pixels[drawn] = np.broadcast_to(colour[None], (height, width, 3))[drawn]
    return pixels
