"""The speech record: every field declared once, in record order, with the rule that computes it.

Levels are in full-scale units: dBFS = 20 log10 |x| (a full-scale sine peaks at 0 dBFS), dBov =
10 log10 of a mean square (ITU-T P.56/G.191: a full-scale square wave is 0 dBov, so a sine of
peak -20 dBFS is at -23.0 dBov). Stereo and multichannel audio is measured on the mono mix (the
mean of the channels), except peak, full-scale samples and DC, which are taken over every
channel's samples.
"""

from __future__ import annotations

import math
from typing import Any

from bqat.engines.speech.context import SpeechContext, value
from bqat.exceptions import MeasureError
from bqat.measures import Measure
from bqat.measures.common import file_measure

MODALITY = "speech"
P56 = "ITU-T P.56 (method B)"
BS1770 = "ITU-R BS.1770-4"
P835 = "ITU-T P.835"
P808 = "ITU-T P.808"


def _active_level(ctx: SpeechContext) -> float:
    level = ctx.level["level_db"]
    if level is None:
        raise MeasureError(
            "no active speech by ITU-T P.56: silence, or every sample below -90 dBov"
        )
    return level


def _loudness(ctx: SpeechContext) -> float:
    lufs = ctx.loudness["lufs"]
    if lufs is None:
        if ctx.loudness["blocks"] == 0:
            raise MeasureError("shorter than one 400 ms gating block")
        raise MeasureError("every 400 ms block is below the -70 LKFS absolute gate (silence)")
    return lufs


def _peak_dbfs(ctx: SpeechContext) -> float:
    peak = ctx.stats["peak"]
    if peak <= 0:
        raise MeasureError("every sample is zero: the peak is -infinity dBFS")
    return 20.0 * math.log10(peak)


def _dnsmos(field: str) -> Any:
    def rule(ctx: SpeechContext) -> float | None:
        scores = ctx.dnsmos
        return None if scores is None else getattr(value(scores), field)

    return rule


def _measure(name: str, **fields: Any) -> Measure:
    return Measure(name=name, modality=MODALITY, **fields)


SPEECH_MEASURES: tuple[Measure, ...] = (
    file_measure(MODALITY),
    _measure(
        "duration_s",
        type="number",
        unit="s",
        range=(0, None),
        description="Length of the recording: frames / sample rate.",
        compute=lambda c: c.audio.duration_s,
    ),
    _measure(
        "sample_rate",
        type="integer",
        unit="Hz",
        range=(1000, None),
        description="Samples per second per channel, as stored.",
        compute=lambda c: c.audio.sample_rate,
    ),
    _measure(
        "channels",
        type="integer",
        unit="channels",
        range=(1, None),
        description="Channels as stored; the measures below read their mean (the mono mix) "
        "unless they say otherwise.",
        compute=lambda c: c.audio.channels,
    ),
    _measure(
        "bit_depth",
        type="integer",
        unit="bits",
        range=(8, 64),
        description="Bits per stored sample (PCM, float, FLAC, ALAC); null for lossy or companded "
        "formats (MP3, Vorbis, Opus, A-law, mu-law).",
        compute=lambda c: c.audio.bit_depth,
    ),
    _measure(
        "active_speech_level_dbov",
        type="number",
        unit="dBov",
        range=(None, 0),
        direction="closer_to_target_is_better",
        clause=P56,
        description="Active speech level of the mono mix: mean square over the active samples "
        "in dB relative to full scale (envelope T = 30 ms, hangover 200 ms, margin 15.9 dB, "
        "thresholds one 16-bit step apart by powers of two, as the ITU-T STL speech voltmeter; "
        "the margin crossing interpolated exactly). Nominal telephony level: -26 dBov. "
        "Null with a reason when no speech is active.",
        compute=_active_level,
    ),
    _measure(
        "speech_activity",
        type="number",
        unit="ratio",
        range=(0, 1),
        direction="higher_is_better",
        clause=P56,
        description="Share of the recording that ITU-T P.56 finds active (with its 200 ms "
        "hangover), 0-1: mean square over all samples / mean square over the active ones. "
        "0 for silence.",
        compute=lambda c: c.level["activity"],
    ),
    _measure(
        "loudness_lufs",
        type="number",
        unit="LUFS",
        range=(-70, None),
        direction="closer_to_target_is_better",
        clause=BS1770,
        description="Integrated loudness of the mono mix (one channel, weight 1): K-weighting, "
        "400 ms blocks every 100 ms, absolute gate -70 LKFS, relative gate -10 LU. A full-scale "
        "1 kHz sine reads -3.0 LUFS; broadcast target -23 LUFS (EBU R 128). Null with a reason "
        "for silence or under 400 ms.",
        compute=_loudness,
    ),
    _measure(
        "peak_dbfs",
        type="number",
        unit="dBFS",
        range=(None, None),
        direction="closer_to_target_is_better",
        description="Largest sample magnitude over every channel, 20 log10 |x| (0 dBFS = full "
        "scale); values above 0 are possible in float files.",
        compute=_peak_dbfs,
    ),
    _measure(
        "clipping_ratio",
        type="number",
        unit="ratio",
        range=(0, 1),
        direction="lower_is_better",
        description="Share of the samples (every channel) at full scale: |x| >= the largest code "
        "of the stored bit depth (32767/32768 at 16 bits; the 16-bit value for float and lossy "
        "formats).",
        compute=lambda c: c.stats["at_full_scale"] / c.stats["count"],
    ),
    _measure(
        "dc_offset",
        type="number",
        unit="full scale",
        range=(-1, 1),
        direction="closer_to_target_is_better",
        description="Mean of every sample (full scale = 1): the DC component; 0 is ideal.",
        compute=lambda c: c.stats["sum"] / c.stats["count"],
    ),
    _measure(
        "bandwidth_hz",
        type="number",
        unit="Hz",
        range=(0, None),
        direction="higher_is_better",
        description="99 % spectral roll-off of the mono mix: the lowest frequency below which 99 % "
        "of the energy lies, on Welch's spectrum (periodic Hann segments of the power of two "
        "nearest to rate / 10 Hz, half overlapping, mean removed). A 4 kHz band-limited "
        "recording reads under 4000.",
        compute=lambda c: value(c.bandwidth_hz),
    ),
    _measure(
        "snr_db",
        type="number",
        unit="dB",
        range=(-20, 100),
        direction="higher_is_better",
        description="Signal-to-noise ratio of the mono mix by WADA-SNR (Kim and Stern 2008): the "
        "amplitude statistic ln E|z| - E ln|z| read off a table for Gamma(0.4) speech in "
        "Gaussian noise (ours, scripts/build_wada_table.py), -20..100 dB. Blind: assumes "
        "stationary noise; meaningless for music or tones.",
        compute=lambda c: value(c.snr_db),
    ),
    _measure(
        "dnsmos_sig",
        type="number",
        unit="MOS",
        range=(1, 5),
        direction="higher_is_better",
        clause=P835,
        description="DNSMOS P.835 speech signal quality (SIG, 1-5) of the mono mix at 16 kHz: "
        "mean over 9.01 s windows every second (shorter audio repeated to one window), "
        "non-personalised polynomial. Null with a reason for silence; null when the dnsmos "
        "option is off.",
        compute=_dnsmos("sig"),
    ),
    _measure(
        "dnsmos_bak",
        type="number",
        unit="MOS",
        range=(1, 5),
        direction="higher_is_better",
        clause=P835,
        description="DNSMOS P.835 background noise quality (BAK, 1-5; higher = less intrusive "
        "noise), windows as dnsmos_sig.",
        compute=_dnsmos("bak"),
    ),
    _measure(
        "dnsmos_ovrl",
        type="number",
        unit="MOS",
        range=(1, 5),
        direction="higher_is_better",
        clause=P835,
        description="DNSMOS P.835 overall quality (OVRL, 1-5), windows as dnsmos_sig.",
        compute=_dnsmos("ovrl"),
    ),
    _measure(
        "dnsmos_p808",
        type="number",
        unit="MOS",
        range=(1, 5),
        direction="higher_is_better",
        clause=P808,
        description="DNSMOS P.808 overall MOS (1-5) from the 120-band log-mel spectrogram of each "
        "window, windows as dnsmos_sig.",
        compute=_dnsmos("p808"),
    ),
)
