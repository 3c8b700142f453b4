"""WADA-SNR: the signal-to-noise ratio of a speech recording from its amplitude distribution.

Kim and Stern (Interspeech 2008) model clean speech amplitudes as Gamma-distributed (shape 0.4)
and the noise as Gaussian. The statistic G = ln E|z| - E ln|z| of the recording (magnitudes
normalised by the peak, floored at 1e-10) grows monotonically with the SNR; the SNR is read off a
table of G for SNR = -20..100 dB (linear interpolation, clipped to the table's ends). The table
is ours, tabulated by Monte Carlo (scripts/build_wada_table.py). Both statistics are computed
natively in one pass over the samples (`_native.wada_statistics`).

Known limits: the estimate assumes stationary Gaussian noise and Gamma-like speech; music,
tones or heavily processed audio give meaningless values, and it saturates below -20 dB and
above ~60 dB, where G barely changes.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

SHAPE = 0.4
SNR_DB = np.arange(-20.0, 101.0)
FLOOR = 1e-10
TABLE_FILE = Path(__file__).with_name("data") / "wada_table.json"


@lru_cache(maxsize=1)
def table() -> tuple[np.ndarray, np.ndarray]:
    """(snr_db, g) of the shipped table, G increasing."""
    data = json.loads(TABLE_FILE.read_text())
    return np.asarray(data["snr_db"], float), np.asarray(data["g"], float)


def snr_from_statistics(mean_abs: float, mean_log_abs: float) -> float:
    """The WADA-SNR in dB of a signal whose peak-normalised magnitudes have these means."""
    g = math.log(max(mean_abs, FLOOR)) - mean_log_abs
    snr, values = table()
    return float(np.interp(g, values, snr))
