"""Synthetic signals with known answers, and metamorphic relations on the shared sample."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import soundfile
from speech_reference import speech_like, tone, wav_bytes

import bqat

SIGNAL_ONLY = {"dnsmos": False}


def assess(x: np.ndarray, fs: int, subtype: str = "PCM_16", **options):
    return bqat.assess(wav_bytes(x, fs, subtype), "speech", **{**SIGNAL_ONLY, **options})


def test_a_1_khz_tone_at_minus_20_dbfs():
    record = assess(tone(5.0, 48000, hz=1000.0), 48000, "FLOAT")
    assert record["peak_dbfs"] == pytest.approx(-20.0, abs=0.01)
    # dBov: 10 log10 of the mean square, full scale = 1, so a sine is 3.01 dB below its peak.
    assert record["active_speech_level_dbov"] == pytest.approx(-23.01, abs=0.05)
    assert record["speech_activity"] == pytest.approx(1.0, abs=0.01)
    assert record["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)  # K-weighting at 1 kHz ~ 0 dB
    assert record["bandwidth_hz"] == pytest.approx(1000.0, abs=48000 / 4096)
    assert record["clipping_ratio"] == 0.0
    assert record["dc_offset"] == pytest.approx(0.0, abs=1e-4)
    assert record["bit_depth"] == 32 and record["measure_errors"] == {}


def test_a_tone_switched_on_for_40_percent_of_the_time():
    fs = 16000
    x = np.zeros(10 * fs)
    x[3 * fs : 7 * fs] = tone(4.0, fs, hz=1000.0)
    record = assess(x, fs)
    # P.56 counts the 4 s of tone plus its 200 ms hangover (and the envelope's short decay).
    assert 0.42 <= record["speech_activity"] <= 0.45
    # The active level is the tone's mean square spread over the active share.
    activity = record["speech_activity"]
    expected = -23.01 - 10 * np.log10(activity / 0.4)
    assert record["active_speech_level_dbov"] == pytest.approx(expected, abs=0.05)
    # BS.1770: the absolute gate drops the 24 silent blocks; the 37 blocks inside the tone and
    # the 6 straddling its edges (25, 50, 75 % tone: within 10 LU) stay, so the mean square is
    # (37 + 2 (0.25 + 0.5 + 0.75)) / 43 = 40 / 43 of the tone's.
    assert record["loudness_lufs"] == pytest.approx(-23.01 + 10 * np.log10(40 / 43), abs=0.05)


def test_a_clipped_tone_counts_its_full_scale_samples():
    fs = 16000
    x = np.clip(tone(2.0, fs, peak_dbfs=6.0, hz=440.0), -1.0, 1.0)
    record = assess(x, fs)
    pcm = np.round(x * 32767) / 32767  # what PCM_16 stores: soundfile scales by 32767
    expected = np.mean(np.abs(pcm) >= 32767 / 32768)
    assert record["clipping_ratio"] == pytest.approx(expected, abs=1e-4)
    # A sine of amplitude 2 is above 1 for 2/3 of the time (|sin| > 1/2).
    assert record["clipping_ratio"] == pytest.approx(2 / 3, abs=0.01)
    assert record["peak_dbfs"] == pytest.approx(0.0, abs=0.01)


def test_a_dc_step_is_the_mean():
    fs = 16000
    x = 0.1 * speech_like(4.0, fs, seed=7)
    x[2 * fs :] += 0.2  # DC from the middle on: mean 0.1
    record = assess(x, fs, "FLOAT")
    assert record["dc_offset"] == pytest.approx(x.mean(), abs=1e-6)
    assert record["dc_offset"] == pytest.approx(0.1, abs=0.005)


def test_white_noise_band_limited_to_4_khz():
    fs = 16000
    rng = np.random.default_rng(8)
    sos = scipy.signal.butter(12, 4000, fs=fs, output="sos")
    x = 0.1 * scipy.signal.sosfiltfilt(sos, rng.standard_normal(10 * fs))
    record = assess(x, fs, "FLOAT")
    # Flat to 4 kHz: 99 % of the energy lies below ~3.96 kHz; the 12th-order filter's skirt
    # leaves the rest within a few hundred Hz.
    assert 3800 <= record["bandwidth_hz"] <= 4300
    full = assess(0.1 * rng.standard_normal(10 * fs), fs, "FLOAT")
    assert full["bandwidth_hz"] == pytest.approx(0.99 * fs / 2, abs=100)


@pytest.fixture(scope="module")
def excerpt(samples):
    """The sample's first 9.5 s (one DNSMOS window), stereo float."""
    x, fs = soundfile.read(samples / "speech" / "stateless_speech.wav", dtype="float32")
    return x[: int(9.5 * fs)], fs


def test_minus_20_db_lowers_the_level_by_20_db_and_moves_dnsmos_little(excerpt):
    x, fs = excerpt
    loud = bqat.assess(wav_bytes(x, fs, "FLOAT"), "speech")
    quiet = bqat.assess(wav_bytes(x * 0.1, fs, "FLOAT"), "speech")
    drop = loud["active_speech_level_dbov"] - quiet["active_speech_level_dbov"]
    assert drop == pytest.approx(20.0, abs=0.3)
    assert loud["loudness_lufs"] - quiet["loudness_lufs"] == pytest.approx(20.0, abs=0.01)
    assert loud["peak_dbfs"] - quiet["peak_dbfs"] == pytest.approx(20.0, abs=1e-3)
    assert quiet["speech_activity"] == pytest.approx(loud["speech_activity"], abs=0.02)
    assert quiet["snr_db"] == pytest.approx(loud["snr_db"], abs=0.01)
    # P.808 reads a log-mel spectrogram relative to its maximum: level-invariant. The P.835 model
    # reads raw log power and is not: on this noisy excerpt -20 dB raises SIG by 0.25, BAK by
    # 0.43 (the noise is quieter too) and OVRL by 0.32 (on the whole sample: -0.08, +0.39, +0.15).
    assert quiet["dnsmos_p808"] == pytest.approx(loud["dnsmos_p808"], abs=0.01)
    for key in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"):
        assert quiet[key] == pytest.approx(loud[key], abs=0.5), key


def test_clipping_a_copy_raises_the_clipping_ratio(excerpt):
    x, fs = excerpt
    clean = assess(x, fs)
    clipped = assess(np.clip(x * 4.0, -1.0, 1.0), fs)
    assert clean["clipping_ratio"] == 0.0
    assert clipped["clipping_ratio"] > 0.05
    assert clipped["peak_dbfs"] == pytest.approx(0.0, abs=0.01)


def test_added_dc_is_measured(excerpt):
    x, fs = excerpt
    base = assess(x, fs, "FLOAT")
    shifted = assess(x + np.float32(0.05), fs, "FLOAT")
    assert shifted["dc_offset"] - base["dc_offset"] == pytest.approx(0.05, abs=1e-6)
    # The roll-off removes each segment's mean: DC does not change the bandwidth.
    assert shifted["bandwidth_hz"] == pytest.approx(base["bandwidth_hz"], abs=2 * fs / 4096)


def test_silence_has_no_activity_and_null_dnsmos_with_a_reason():
    record = bqat.assess(wav_bytes(np.zeros(3 * 16000), 16000), "speech")
    assert record["speech_activity"] == 0.0
    assert record["clipping_ratio"] == 0.0 and record["dc_offset"] == 0.0
    errors = record["measure_errors"]
    for key in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"):
        assert record[key] is None
        assert (
            errors[key] == "no active speech (ITU-T P.56 activity 0): DNSMOS is not run on silence"
        )
    for key in ("active_speech_level_dbov", "loudness_lufs", "peak_dbfs", "bandwidth_hz", "snr_db"):
        assert record[key] is None and key in errors


def test_a_half_second_clip_is_repeated_into_a_dnsmos_window(excerpt):
    x, fs = excerpt
    short = x[int(2.0 * fs) : int(2.5 * fs)]
    record = bqat.assess(wav_bytes(short, fs, "FLOAT"), "speech")
    assert record["duration_s"] == pytest.approx(0.5, abs=1e-3)
    assert record["measure_errors"] == {}
    for key in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"):
        assert 1.0 <= record[key] <= 5.0, key
    assert record["loudness_lufs"] is not None  # 0.5 s holds two 400 ms gating blocks


def test_a_clip_under_400_ms_has_no_loudness_and_says_why():
    record = assess(tone(0.3, 16000), 16000)
    assert record["loudness_lufs"] is None
    assert record["measure_errors"] == {"loudness_lufs": "shorter than one 400 ms gating block"}
