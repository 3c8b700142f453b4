"""DNSMOS (Microsoft, MIT): non-intrusive MOS estimates, ITU-T P.835 (SIG, BAK, OVRL) and P.808.

The recipe of the reference implementation (the speechmos 0.0.1.1 wheel's `dnsmos.py`, which
ships the same model files), reproduced without librosa:

- the mono mix resampled to 16 kHz with soxr at its "HQ" quality (librosa's default
  resampler, `soxr_hq`), padded with zeros to ceil(n * 16000 / rate) samples as librosa does;
- audio shorter than one 9.01 s window (144 160 samples) is appended to itself until it fills one;
- windows of 9.01 s every `hop_s` seconds (1 s in the reference), the number of windows being
  int((floor(duration) - 9.01) / hop_s) + 1 as there (a trailing part shorter than a hop is
  not scored). Unlike the reference, every one of them is scored: the reference ends window i
  at int((i + 9.01) * 16000) in floating point, one sample short for i = 7..23 and 119..122,
  and skips those windows (of a 30 s recording it scores 7 of 21), so on recordings longer than
  17 s our mean covers more windows than its;
- P.835: the raw window into `dnsmos_p835`, raw SIG, BAK, OVRL mapped by the published
  non-personalised polynomials; overlapping windows on the 20 ms grid (any hop of a multiple
  of 20 ms, 1 s included) share the model's full-resolution convolutions, computed once per
  frame (`p835.py`: the same values, a fraction of the work);
- P.808: the window without its last 160 samples as a 120-band log-mel spectrogram (n_fft 321,
  hop 160, periodic Hann, centred with zero padding, Slaney mel scale and norm; power in dB
  relative to the window's maximum, floored 80 dB below it), (dB + 40) / 40, into `dnsmos_p808`;
- each score is the mean over the windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soxr

from bqat.engines.speech import p835
from bqat.models.inference import run_model

P835_MODEL = "dnsmos_p835"
P808_MODEL = "dnsmos_p808"
RATE = 16_000
WINDOW_S = 9.01
WINDOW = int(WINDOW_S * RATE)  # 144 160 samples
N_FFT = 321
HOP = 160
N_MELS = 120
MEL_GROUP_WINDOWS = 16  # windows whose mel frames are held at once
# Published polynomials (highest power first) mapping the raw model outputs to P.835 MOS.
SIG_POLY = (-0.08397278, 1.22083953, 0.0052439)
BAK_POLY = (-0.13166888, 1.60915514, -0.39604546)
OVRL_POLY = (-0.06766283, 1.11546468, 0.04602535)


@dataclass(frozen=True)
class DnsmosScores:
    sig: float
    bak: float
    ovrl: float
    p808: float
    windows: int


def resample_16k(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """The mono signal at 16 kHz (soxr HQ), float32."""
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if sample_rate == RATE:
        return mono
    out = soxr.resample(mono, sample_rate, RATE, quality="HQ").astype(np.float32, copy=False)
    # librosa (the reference) pads the result with zeros to ceil(n * 16000 / rate) samples.
    size = -(-len(mono) * RATE // sample_rate)
    return np.pad(out, (0, size - len(out))) if len(out) < size else out[:size]


def tiled(audio: np.ndarray) -> np.ndarray:
    """Audio shorter than one window appended to itself until it fills one (as the reference)."""
    while len(audio) < WINDOW:
        audio = np.concatenate([audio, audio])
    return audio


def window_starts(samples: int, hop_s: float = 1.0) -> list[int]:
    """First samples of the 9.01 s windows of `samples` (tiled) 16 kHz samples."""
    hop = round(hop_s * RATE)
    count = int((np.floor(samples / RATE) - WINDOW_S) / hop_s) + 1
    return [i * hop for i in range(count) if i * hop + WINDOW <= samples]


def windows(audio: np.ndarray, hop_s: float = 1.0) -> np.ndarray:
    """The 9.01 s windows (N x 144 160) of 16 kHz audio, as the reference cuts them."""
    audio = tiled(audio)
    return np.stack([audio[s : s + WINDOW] for s in window_starts(len(audio), hop_s)])


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """120 x 161 Slaney-normalised triangular filters on the Slaney mel scale, 0-8 kHz."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, float)
        linear = f * 3.0 / 200.0  # 200/3 Hz per mel below 1 kHz
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, linear)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        linear = m * 200.0 / 3.0
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, linear)

    fft_hz = np.arange(N_FFT // 2 + 1) * RATE / N_FFT
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(RATE / 2), N_MELS + 2))
    ramps = mel_hz[:, None] - fft_hz[None, :]
    widths = np.diff(mel_hz)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)


def _mel(frames: np.ndarray) -> np.ndarray:
    """Mel power (n x 120) of n frames of 321 samples."""
    power = np.abs(np.fft.rfft(np.asarray(frames, np.float64) * _hann(), axis=1)) ** 2
    return power @ _mel_basis().T


def _to_features(mel: np.ndarray) -> np.ndarray:
    """librosa's power_to_db(ref=max, top_db=80), then (dB + 40) / 40, as float32."""
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db -= 10.0 * np.log10(max(1e-10, float(mel.max())))
    db = np.maximum(db, db.max() - 80.0)
    return ((db + 40.0) / 40.0).astype(np.float32)


def p808_features(window: np.ndarray) -> np.ndarray:
    """The P.808 model input (900 x 120, float32) of one 9.01 s window."""
    padded = np.pad(np.asarray(window[:-HOP], np.float64), N_FFT // 2)
    frames = 1 + (len(padded) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    return _to_features(_mel(padded[index]))


def p808_inputs(audio: np.ndarray, starts: list[int]) -> Iterator[np.ndarray]:
    """The P.808 input (900 x 120) of each window of (tiled) `audio` at `starts`, in order.

    Frame k of a window starting at sample 160 o is centred on sample 160 (o + k): for
    k = 1 .. 898 it is the same frame for every window holding it, so on the 160-sample grid the
    mel spectrum of each frame is taken once (for a group of windows at a time, so a long
    recording's spectrum is never held whole); the first and last frames, which reach into the
    window's zero padding, are taken per window. Off the grid, each window is framed alone.
    """
    if any(start % HOP for start in starts):
        yield from (p808_features(audio[s : s + WINDOW]) for s in starts)
        return
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP]  # frames[g] at 160 g
    count = (WINDOW - HOP) // HOP  # 900 frames per window; frame k centred on its sample 160 k
    half = N_FFT // 2
    for group in range(0, len(starts), MEL_GROUP_WINDOWS):
        members = starts[group : group + MEL_GROUP_WINDOWS]
        # Frame k (1 .. 898) of the window at 160 o spans audio[160 (o + k - 1) :][:321].
        first = members[0] // HOP
        mel = _mel(frames[first : members[-1] // HOP + count - 2])
        for start in members:
            o = start // HOP
            window = np.asarray(audio[start : start + WINDOW - HOP], np.float64)
            head = np.concatenate([np.zeros(half), window[: N_FFT - half]])
            tail = np.concatenate([window[HOP * (count - 1) - half :], np.zeros(1)])
            ends = _mel(np.stack([head, tail]))
            inner = mel[o - first : o - first + count - 2]
            yield _to_features(np.vstack([ends[:1], inner, ends[1:]]))


def p835_raw(audio: np.ndarray, starts: list[int]) -> np.ndarray:
    """Raw P.835 outputs (N x 3) of the windows of (tiled) `audio` at `starts`.

    Several windows on the 320-sample grid share their convolutions
    (bqat.engines.speech.p835); a single window, or windows off the grid, run the whole model.
    """
    if len(starts) > 1 and all(start % p835.SHARED_HOP == 0 for start in starts):
        return p835.raw_scores(P835_MODEL, audio, starts)
    return np.concatenate(
        [
            run_model(P835_MODEL, {"input_1": audio[None, s : s + WINDOW]}, ["Identity:0"])[0]
            for s in starts
        ]
    )


def dnsmos(audio_16k: np.ndarray, hop_s: float = 1.0) -> DnsmosScores:
    """The DNSMOS scores of 16 kHz mono audio in full-scale units."""
    audio = tiled(np.ascontiguousarray(audio_16k, np.float32))
    starts = window_starts(len(audio), hop_s)
    raw = p835_raw(audio, starts).astype(np.float64)
    # One window per call: a batch runs slower per window on one core (measured 5.3 ms per
    # window alone, 6.8 ms in a batch of 29: its activations no longer stay in the cache).
    p808 = np.array(
        [
            run_model(P808_MODEL, {"input_1": features[None]}, ["Identity:0"])[0][0, 0]
            for features in p808_inputs(audio, starts)
        ],
        np.float64,
    )
    return DnsmosScores(
        sig=float(np.polyval(SIG_POLY, raw[:, 0]).mean()),
        bak=float(np.polyval(BAK_POLY, raw[:, 1]).mean()),
        ovrl=float(np.polyval(OVRL_POLY, raw[:, 2]).mean()),
        p808=float(p808.mean()),
        windows=len(starts),
    )
