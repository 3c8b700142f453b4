"""The speech record of the shared sample against independent tools
(../shared/reference/speech-outputs.json: ITU-T STL actlev and bs1770demo, pyloudnorm, speechmos
0.0.1.1, NumPy scripts for roll-off and WADA-SNR)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import soxr
from speech_reference import bs1770_reference

import bqat
from bqat import _native


@pytest.fixture(scope="module")
def sample(samples):
    return samples / "speech" / "stateless_speech.wav"


@pytest.fixture(scope="module")
def reference(shared):
    return json.loads((shared / "reference" / "speech-outputs.json").read_text())


@pytest.fixture(scope="module")
def record(sample):
    return bqat.assess(sample, "speech")


def test_the_header_fields(record):
    assert record["sample_rate"] == 44100 and record["channels"] == 2 and record["bit_depth"] == 16
    assert record["duration_s"] == pytest.approx(12.669, abs=1e-3)
    assert record["measure_errors"] == {}


def test_active_speech_level_and_activity_match_stl_actlev(record, reference):
    stl = reference["signal"]["itu_p56_actlev_stl"]["mono44k"]
    assert record["active_speech_level_dbov"] == pytest.approx(stl["ActLev_dB"], abs=0.05)
    assert record["speech_activity"] == pytest.approx(stl["Active_pct"] / 100, abs=0.005)


def test_active_speech_level_at_16k_matches_stl_actlev(sample, reference):
    stl = reference["signal"]["itu_p56_actlev_stl"]["mono16k_resampled"]
    x, fs = soundfile.read(sample, dtype="float32")
    mono = soxr.resample(x.mean(axis=1), fs, 16000, quality="HQ")
    ours = _native.active_speech_level(mono, 16000)
    assert ours["level_db"] == pytest.approx(stl["ActiveSpeechLevel_dBov"], abs=0.05)
    assert ours["activity"] == pytest.approx(stl["Activity_pct"] / 100, abs=0.005)
    assert ours["long_term_db"] == pytest.approx(stl["RMS_dBov"], abs=0.05)


def test_loudness_matches_the_stl_and_a_48k_reference(record, reference, sample):
    signal = reference["signal"]
    # The ITU-T STL's bs1770demo (mono, at 48 kHz) and our slow reference with the
    # Recommendation's own 48 kHz coefficients on the same mix resampled to 48 kHz.
    assert record["loudness_lufs"] == pytest.approx(
        signal["itu_bs1770demo_stl_LKFS"]["mono_48k"], abs=0.05
    )
    x, fs = soundfile.read(sample, dtype="float32")
    at_48k = soxr.resample(x.mean(axis=1), fs, 48000, quality="VHQ")
    assert record["loudness_lufs"] == pytest.approx(bs1770_reference(at_48k), abs=0.02)
    # pyloudnorm normalises the RLB high-pass to unity gain (the Recommendation's numerator is
    # [1, -2, 1], +0.04 dB) and approximates the shelf: it reads 0.07 LU lower.
    assert record["loudness_lufs"] == pytest.approx(signal["bs1770_pyloudnorm_mono_LUFS"], abs=0.1)


def test_peak_clipping_and_dc_match_the_samples(record, reference):
    signal = reference["signal"]
    assert record["peak_dbfs"] == pytest.approx(signal["peak_dBFS"], abs=1e-6)
    assert record["clipping_ratio"] == 0.0
    assert signal["clipping"]["samples_at_full_scale_L_R"] == [0, 0]
    assert record["dc_offset"] == pytest.approx(np.mean(signal["dc_offset_L_R"]), abs=1e-7)


def test_bandwidth_is_the_99_percent_rolloff(record, reference):
    bin_hz = 44100 / 4096
    assert record["bandwidth_hz"] == pytest.approx(reference["signal"]["rolloff99_Hz"], abs=bin_hz)


def test_snr_matches_wada_snr(record, reference):
    assert record["snr_db"] == pytest.approx(reference["signal"]["wada_snr_dB_approx"], abs=0.5)


def test_dnsmos_matches_speechmos_on_the_mono_mix(record, reference):
    expected = reference["dnsmos"]["speechmos_file_path"]
    assert record["dnsmos_ovrl"] == pytest.approx(expected["ovrl_mos"], abs=0.01)
    assert record["dnsmos_sig"] == pytest.approx(expected["sig_mos"], abs=0.01)
    assert record["dnsmos_bak"] == pytest.approx(expected["bak_mos"], abs=0.01)
    assert record["dnsmos_p808"] == pytest.approx(expected["p808_mos"], abs=0.01)
