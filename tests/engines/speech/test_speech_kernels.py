"""The speech kernels of bqat._native against slow references written from the standards."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from speech_reference import (
    BS1770_PRE_48K,
    BS1770_RLB_48K,
    bs1770_reference,
    p56_reference,
    speech_like,
    tone,
)

from bqat import _native
from bqat.exceptions import NativeError


@pytest.mark.parametrize(("fs", "seed"), [(8000, 1), (8000, 2), (11025, 3), (16000, 4)])
def test_p56_matches_the_stl_loop_sample_by_sample(fs, seed):
    x = speech_like(1.0, fs, seed)
    expected = p56_reference(x, fs)
    ours = _native.active_speech_level(x, fs)
    assert ours["level_db"] == pytest.approx(expected["level_db"], abs=1e-6)
    assert ours["activity"] == pytest.approx(expected["activity"], abs=1e-7)
    assert ours["long_term_db"] == pytest.approx(expected["long_term_db"], abs=1e-9)


def test_p56_counts_the_hangover_after_a_burst_and_nothing_before_it():
    fs = 8000
    x = np.zeros(fs)
    x[2000:2400] = tone(0.05, fs, peak_dbfs=-10)
    ours = _native.active_speech_level(x, fs)
    expected = p56_reference(x, fs)
    assert ours["level_db"] == pytest.approx(expected["level_db"], abs=1e-6)
    assert ours["activity"] == pytest.approx(expected["activity"], abs=1e-7)
    counts = np.asarray(ours["counts"])
    assert np.all(np.diff(counts) <= 0)  # a higher threshold is never reached more often
    # Nothing before the burst; after it the envelope's decay, then the 200 ms (1600) hangover.
    assert 400 + 1600 <= counts[0] <= 8000 - 2000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_p56_of_silence_has_no_level_and_no_activity(dtype):
    ours = _native.active_speech_level(np.zeros(4000, dtype), 8000)
    assert ours["level_db"] is None and ours["activity"] == 0.0
    assert ours["long_term_db"] == -np.inf


def test_k_weighting_at_48k_is_the_recommendations_table():
    (pre_b, pre_a), (rlb_b, rlb_a) = _native.k_weighting(48000)
    np.testing.assert_allclose(pre_b, BS1770_PRE_48K[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(pre_a, BS1770_PRE_48K[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rlb_b, BS1770_RLB_48K[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rlb_a, BS1770_RLB_48K[1], rtol=0, atol=1e-11)


def _gain_db(filters, hz: float, fs: int) -> float:
    response = [abs(scipy.signal.freqz(b, a, [hz], fs=fs)[1][0]) for b, a in filters]
    return 20 * float(np.log10(np.prod(response)))


@pytest.mark.parametrize("fs", [16000, 22050, 44100, 96000])
@pytest.mark.parametrize("hz", [50.0, 100.0, 500.0, 1000.0, 2000.0])
def test_k_weighting_has_the_48k_response_at_other_rates(fs, hz):
    # Same analogue prototype at another rate: the same gain, to within the bilinear transform's
    # frequency warping (largest at 16 kHz, where 2 kHz is a quarter of the band).
    expected = _gain_db([BS1770_PRE_48K, BS1770_RLB_48K], hz, 48000)
    assert _gain_db(_native.k_weighting(fs), hz, fs) == pytest.approx(expected, abs=0.05)


@pytest.mark.parametrize("seed", [1, 2])
def test_loudness_matches_bs1770_at_48k(seed):
    x = speech_like(4.0, 48000, seed)
    assert _native.loudness(x, 48000)["lufs"] == pytest.approx(bs1770_reference(x), abs=1e-9)
    quiet = x * 10 ** (-45 / 20)  # loud and quiet halves: the relative gate drops the quiet one
    mixed = np.concatenate([x, quiet])
    ours = _native.loudness(mixed, 48000)
    assert ours["lufs"] == pytest.approx(bs1770_reference(mixed), abs=1e-9)
    assert ours["gated_blocks"] < ours["blocks"]


@pytest.mark.parametrize("fs", [16000, 44100, 48000])
def test_a_997_hz_sine_at_minus_20_dbfs_reads_minus_23_lufs(fs):
    # BS.1770-4: a 0 dB FS 997 Hz sine in one channel reads -3.01 LKFS.
    assert _native.loudness(tone(3.0, fs), fs)["lufs"] == pytest.approx(-23.01, abs=0.05)


def test_loudness_needs_one_block_and_a_level_above_the_absolute_gate():
    assert _native.loudness(tone(0.39, 48000), 48000) == {
        "lufs": None,
        "blocks": 0,
        "gated_blocks": 0,
    }
    silent = _native.loudness(np.zeros(48000), 48000)
    assert silent["lufs"] is None and silent["blocks"] == 7 and silent["gated_blocks"] == 0
    very_quiet = _native.loudness(tone(1.0, 48000, peak_dbfs=-75), 48000)
    assert very_quiet["lufs"] is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sample_stats_match_numpy(dtype):
    rng = np.random.default_rng(3)
    x = np.clip(rng.normal(0.01, 0.5, 10001), -1, 1).astype(dtype)
    ours = _native.sample_stats(x, full_scale=0.999)
    assert ours["peak"] == float(np.abs(x).max())
    assert ours["at_full_scale"] == int(np.sum(np.abs(x) >= dtype(0.999)))
    assert ours["sum"] == pytest.approx(float(x.astype(np.float64).sum()), rel=1e-12)
    assert ours["sum_squares"] == pytest.approx(float(np.sum(x.astype(np.float64) ** 2)), rel=1e-12)
    assert ours["count"] == x.size


def test_wada_statistics_match_numpy():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.1, 20000)
    x[::7] = 0.0  # exact zeros meet the floor
    ours = _native.wada_statistics(x, floor=1e-10)
    z = np.maximum(np.abs(x) / np.abs(x).max(), 1e-10)
    assert ours["peak"] == np.abs(x).max()
    assert ours["mean_abs"] == pytest.approx(z.mean(), rel=1e-12)
    assert ours["mean_log_abs"] == pytest.approx(np.log(z).mean(), rel=1e-10)
    assert _native.wada_statistics(np.zeros(10))["mean_abs"] is None


@pytest.mark.parametrize("n_fft", [2, 64, 1024, 4096])
def test_power_spectrum_is_welchs(n_fft):
    rng = np.random.default_rng(n_fft)
    x = rng.normal(0.2, 1.0, 3 * n_fft + 17)
    ours = _native.power_spectrum(x, n_fft)
    _, expected = scipy.signal.welch(x, nperseg=n_fft, scaling="spectrum", return_onesided=True)
    ours[1:-1] *= 2  # scipy's one-sided spectrum doubles the bins that have a mirror
    np.testing.assert_allclose(ours / ours.sum(), expected / expected.sum(), rtol=1e-9, atol=1e-15)


STRIDED = [
    pytest.param(lambda x: x[::3], id="every-third"),
    pytest.param(lambda x: x[::-1], id="reversed"),
    pytest.param(lambda x: np.stack([x, -x], axis=1)[:, 0], id="one-channel-of-two"),
]


@pytest.mark.parametrize("view", STRIDED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_read_strided_views_like_their_copy(view, dtype):
    x = view(speech_like(1.0, 16000, 5).astype(dtype))
    copy = np.ascontiguousarray(x)
    assert _native.active_speech_level(x, 16000) == _native.active_speech_level(copy, 16000)
    assert _native.loudness(x, 16000) == _native.loudness(copy, 16000)
    assert _native.sample_stats(x) == _native.sample_stats(copy)
    assert _native.wada_statistics(x) == _native.wada_statistics(copy)
    np.testing.assert_array_equal(_native.power_spectrum(x, 256), _native.power_spectrum(copy, 256))


KERNELS = [
    pytest.param(lambda x: _native.active_speech_level(x, 8000), id="active_speech_level"),
    pytest.param(lambda x: _native.loudness(x, 8000), id="loudness"),
    pytest.param(lambda x: _native.sample_stats(x), id="sample_stats"),
    pytest.param(lambda x: _native.wada_statistics(x), id="wada_statistics"),
    pytest.param(lambda x: _native.power_spectrum(x, 4), id="power_spectrum"),
]


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernels_refuse_what_is_not_a_float_signal(kernel):
    with pytest.raises(NativeError, match="must be float32 or float64, got int16"):
        kernel(np.zeros(100, np.int16))
    with pytest.raises(NativeError, match=r"must be 1-D, got shape \(50, 2\)"):
        kernel(np.zeros((50, 2)))
    with pytest.raises(NativeError, match=r"empty|shorter"):
        kernel(np.zeros(0))


def test_kernels_refuse_bad_parameters():
    x = np.zeros(100)
    with pytest.raises(NativeError, match="sample_rate must be finite and positive"):
        _native.active_speech_level(x, 0.0)
    with pytest.raises(NativeError, match="sample_rate must be finite and positive"):
        _native.loudness(x, float("nan"))
    with pytest.raises(NativeError, match="full_scale must be finite and positive"):
        _native.sample_stats(x, full_scale=-1.0)
    with pytest.raises(NativeError, match="n_fft must be a power of two"):
        _native.power_spectrum(x, 48)
    with pytest.raises(NativeError, match="shorter than n_fft = 128"):
        _native.power_spectrum(x, 128)


def test_the_kernels_release_the_gil(main_thread_ran_during):
    x = np.random.default_rng(9).normal(0, 0.1, 30 * 48000).astype(np.float32)
    for kernel in (
        lambda: _native.active_speech_level(x, 48000),
        lambda: _native.loudness(x, 48000),
        lambda: _native.power_spectrum(x, 4096),
    ):
        assert main_thread_ran_during(kernel)
