"""The frozen per-sample context of the speech engine: every stage runs once, measures only read.

Stages: decode (by content) -> the mono mix (the mean of the channels: every level, loudness,
spectrum, SNR and DNSMOS measure is taken on it; peak, full-scale samples and DC on every
channel's samples) -> native one-pass statistics -> ITU-T P.56 active level -> ITU-R BS.1770-4
loudness -> Welch spectrum and its 99 % roll-off -> WADA-SNR -> DNSMOS at 16 kHz.

A stage that cannot give its value on this sample keeps the reason instead (`Failed`), and each
measure that reads it is then null with that reason in `measure_errors`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from bqat import _native
from bqat.engines.speech.audio import DecodedAudio
from bqat.engines.speech.dnsmos import DnsmosScores, dnsmos, resample_16k
from bqat.engines.speech.options import SpeechOptions
from bqat.engines.speech.wada import FLOOR, snr_from_statistics
from bqat.exceptions import InferenceError, MeasureError

T = TypeVar("T")
ROLLOFF = 0.99
# Welch segments of the power of two nearest to sample_rate / 10 Hz (4096 at 44.1 and 48 kHz,
# 2048 at 16 kHz): about 10 Hz resolution.
SPECTRUM_RESOLUTION_HZ = 10.0
MIN_SPECTRUM_SAMPLES = 64


@dataclass(frozen=True)
class Failed:
    """A stage that could not give its value on this sample, and why."""

    reason: str


@dataclass(frozen=True)
class SpeechContext:
    """Everything the speech measures read."""

    file: str | None
    audio: DecodedAudio
    mono: np.ndarray
    stats: dict[str, Any]
    level: dict[str, Any]
    loudness: dict[str, Any]
    bandwidth_hz: float | Failed
    snr_db: float | Failed
    dnsmos: DnsmosScores | Failed | None
    options: SpeechOptions


def value(outcome: T | Failed) -> T:
    """The stage's value, or `MeasureError` with the reason it has none."""
    if isinstance(outcome, Failed):
        raise MeasureError(outcome.reason)
    return outcome


def mono_mix(samples: np.ndarray) -> np.ndarray:
    """The mean of the channels, contiguous float32 (the channel itself when there is one)."""
    if samples.shape[1] == 1:
        return np.ascontiguousarray(samples[:, 0])
    mono = samples[:, 0].copy()
    for channel in range(1, samples.shape[1]):
        mono += samples[:, channel]
    mono *= np.float32(1.0 / samples.shape[1])
    return mono


def build_context(audio: DecodedAudio, file: str | None, options: SpeechOptions) -> SpeechContext:
    """Run every stage once on decoded audio."""
    mono = mono_mix(audio.samples)
    rate = audio.sample_rate
    stats = _native.sample_stats(audio.samples.reshape(-1), full_scale=audio.full_scale)
    level = _native.active_speech_level(mono, rate)
    return SpeechContext(
        file=file,
        audio=audio,
        mono=mono,
        stats=stats,
        level=level,
        loudness=_native.loudness(mono, rate),
        bandwidth_hz=_attempt(rolloff_hz, mono, rate),
        snr_db=_attempt(wada_snr_db, mono),
        dnsmos=_dnsmos_stage(mono, rate, level, options),
        options=options,
    )


def _attempt(stage: Callable[..., T], *args: Any) -> T | Failed:
    try:
        return stage(*args)
    except (MeasureError, InferenceError) as exc:
        return Failed(str(exc))


def rolloff_hz(mono: np.ndarray, sample_rate: int, fraction: float = ROLLOFF) -> float:
    """The lowest frequency below which `fraction` of the energy lies (Welch spectrum).

    Segments of n_fft samples every n_fft / 2, mean removed, periodic Hann window, one-sided power
    (as scipy.signal.welch); the roll-off is the first bin whose cumulative power reaches the
    fraction of the total.
    """
    n_fft = 2 ** round(math.log2(sample_rate / SPECTRUM_RESOLUTION_HZ))
    if len(mono) < n_fft:
        n_fft = 2 ** int(math.log2(len(mono)))
    if n_fft < MIN_SPECTRUM_SAMPLES:
        raise MeasureError(f"too short for a spectrum: fewer than {MIN_SPECTRUM_SAMPLES} samples")
    power = _native.power_spectrum(mono, n_fft)
    power[1:-1] *= 2.0
    cumulative = np.cumsum(power)
    if not cumulative[-1] > 0:
        raise MeasureError("no signal energy once the mean is removed (silence or DC only)")
    return float(np.searchsorted(cumulative, fraction * cumulative[-1]) * sample_rate / n_fft)


def wada_snr_db(mono: np.ndarray) -> float:
    """WADA-SNR of the signal (bqat.engines.speech.wada)."""
    stats = _native.wada_statistics(mono, floor=FLOOR)
    if stats["mean_abs"] is None:
        raise MeasureError("every sample is zero: no SNR")
    return snr_from_statistics(stats["mean_abs"], stats["mean_log_abs"])


def _dnsmos_stage(
    mono: np.ndarray, rate: int, level: dict[str, Any], options: SpeechOptions
) -> DnsmosScores | Failed | None:
    if not options.dnsmos:
        return None
    if level["activity"] <= 0:
        return Failed("no active speech (ITU-T P.56 activity 0): DNSMOS is not run on silence")
    return _attempt(dnsmos, resample_16k(mono, rate), options.dnsmos_hop_s)
