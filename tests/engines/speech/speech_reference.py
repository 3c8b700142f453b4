"""Slow, plain references for the speech kernels, written from the standards, and test signals.

- `p56_reference`: the ITU-T STL speech voltmeter (G.191 sv56) loop as P.56 method B states it,
  sample by sample and threshold by threshold, with the margin crossing found by the same
  straight-line interpolation solved by bisection to 1e-9 dB.
- `bs1770_reference`: ITU-R BS.1770-4 at 48 kHz with the coefficients printed in the
  Recommendation (Tables 1 and 2), scipy.signal.lfilter, and the gating of its Annex 1 in NumPy.
"""

from __future__ import annotations

import io
import math

import numpy as np
import scipy.signal
import soundfile

# ITU-R BS.1770-4, Table 1 (pre-filter) and Table 2 (RLB weighting), 48 kHz.
BS1770_PRE_48K = (
    (1.53512485958697, -2.69169618940638, 1.19839281085285),
    (1.0, -1.69065929318241, 0.73248077421585),
)
BS1770_RLB_48K = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))


def p56_reference(x: np.ndarray, fs: float) -> dict[str, float | None]:
    """Active level (dBov, None when none), activity and long-term level, the STL way."""
    x = np.asarray(x, np.float64)
    g = math.exp(-1.0 / (fs * 0.03))
    hangover = math.floor(0.2 * fs + 0.5)
    thresholds = 2.0 ** (np.arange(15) - 15.0)
    counts = np.zeros(15, np.int64)
    hang = np.full(15, hangover)
    p = q = 0.0
    for v in x:
        p = g * p + (1 - g) * abs(v)
        q = g * q + (1 - g) * p
        above = q >= thresholds
        counts[above] += 1
        hang[above] = 0
        held = ~above & (hang < hangover)
        counts[held] += 1
        hang[held] += 1
    sq = float(np.sum(x * x))
    long_term = 10 * math.log10(sq / len(x)) if sq > 0 else -math.inf
    if counts[0] == 0 or sq == 0:
        return {"level_db": None, "activity": 0.0, "long_term_db": long_term}
    a = [10 * math.log10(sq / c) if c else math.inf for c in counts]
    c = [20 * math.log10(t) for t in thresholds]
    if a[0] - c[0] < 15.9:
        return {"level_db": None, "activity": 0.0, "long_term_db": long_term}
    for j in range(1, 15):
        if counts[j] and a[j] - c[j] <= 15.9:
            lo, hi = 0.0, 1.0  # fraction of the way from threshold j - 1 to j
            for _ in range(200):
                mid = (lo + hi) / 2
                level = a[j - 1] + mid * (a[j] - a[j - 1])
                threshold = c[j - 1] + mid * (c[j] - c[j - 1])
                if level - threshold > 15.9:
                    lo = mid
                else:
                    hi = mid
            level = a[j - 1] + lo * (a[j] - a[j - 1])
            return {
                "level_db": level,
                "activity": 10 ** ((long_term - level) / 10),
                "long_term_db": long_term,
            }
    return {"level_db": None, "activity": 0.0, "long_term_db": long_term}


def bs1770_reference(x: np.ndarray) -> float | None:
    """Integrated loudness (LUFS) of a mono 48 kHz signal, None when nothing passes the gates."""
    y = scipy.signal.lfilter(*BS1770_PRE_48K, np.asarray(x, np.float64))
    y = scipy.signal.lfilter(*BS1770_RLB_48K, y)
    block, step = 19200, 4800  # 400 ms, 100 ms at 48 kHz
    count = (len(y) - block) // step + 1
    if count < 1:
        return None
    z = np.array([np.mean(y[j * step : j * step + block] ** 2) for j in range(count)])
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(z)
    kept = loudness > -70
    if not kept.any():
        return None
    relative = -0.691 + 10 * np.log10(z[kept].mean()) - 10
    kept &= loudness > relative
    return float(-0.691 + 10 * np.log10(z[kept].mean()))


def tone(
    seconds: float, fs: int, *, peak_dbfs: float = -20.0, hz: float = 997.0, phase: float = 0.0
) -> np.ndarray:
    """A sine of the given peak level (0 dBFS = full-scale amplitude), float64."""
    t = np.arange(round(seconds * fs)) / fs
    return 10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * hz * t + phase)


def speech_like(seconds: float, fs: int, seed: int) -> np.ndarray:
    """Gamma(0.4) noise in 4 Hz syllable-like bursts of random strength and pauses, low-passed."""
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    carrier = rng.gamma(0.4, 1.0, n) * rng.choice([-1.0, 1.0], n)
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * np.arange(n) / fs), 0, None) ** 2
    # Syllables of varying strength in 250 ms slots, 40 % of which are pauses.
    slot = fs // 4
    strength = rng.uniform(0.2, 1.0, n // slot + 1) * (rng.uniform(size=n // slot + 1) > 0.4)
    envelope *= np.repeat(strength, slot)[:n]
    b, a = scipy.signal.butter(4, min(3400, fs / 2 - 100) / (fs / 2))
    y = scipy.signal.lfilter(b, a, carrier * envelope)
    return 0.3 * y / np.abs(y).max()


def wav_bytes(x: np.ndarray, fs: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    """`x` (frames or frames x channels, full scale 1) encoded in memory."""
    buffer = io.BytesIO()
    soundfile.write(buffer, x, fs, subtype=subtype, format=fmt)
    return buffer.getvalue()
