"""DNSMOS internals: the shared-convolution P.835 path equals the whole model run per window,
the P.808 features equal librosa's (when installed), and the windows are the reference's."""

from __future__ import annotations

import numpy as np
import pytest
from speech_reference import speech_like

from bqat.engines.speech import dnsmos, p835
from bqat.models.inference import run_model


def per_window(audio: np.ndarray, starts: list[int]) -> np.ndarray:
    """The registered model, whole, on each window: what the reference runs."""
    return np.concatenate(
        [
            run_model(
                dnsmos.P835_MODEL, {"input_1": audio[None, s : s + dnsmos.WINDOW]}, ["Identity:0"]
            )[0]
            for s in starts
        ]
    )


def test_shared_convolutions_give_the_whole_models_outputs(monkeypatch):
    audio = (0.5 * speech_like(13.5, 16000, seed=21)).astype(np.float32)
    starts = dnsmos.window_starts(len(audio))  # 0, 1, 2, 3 s
    assert starts == [0, 16000, 32000, 48000]
    monkeypatch.setattr(p835, "EDGE_BATCH", 3)  # the edge strips in two calls: 3 + 1 windows
    shared = p835.raw_scores(dnsmos.P835_MODEL, audio, starts)
    np.testing.assert_allclose(shared, per_window(audio, starts), rtol=0, atol=1e-5)


def test_windows_apart_on_the_grid_give_the_whole_models_outputs():
    audio = (0.5 * speech_like(18.61, 16000, seed=25)).astype(np.float32)
    starts = [0, 153600]  # a 9.6 s hop: 0.59 s between the windows that no window holds
    shared = p835.raw_scores(dnsmos.P835_MODEL, audio, starts)
    np.testing.assert_allclose(shared, per_window(audio, starts), rtol=0, atol=1e-5)


def test_windows_off_the_frame_grid_run_the_whole_model():
    audio = (0.5 * speech_like(10.1, 16000, seed=22)).astype(np.float32)
    assert dnsmos.window_starts(len(audio), hop_s=0.95) == [0, 15200]  # 95 frames: odd
    odd = [0, 15200]  # off the shared 320-sample grid
    np.testing.assert_allclose(
        dnsmos.p835_raw(audio, odd), per_window(audio, odd), rtol=0, atol=1e-6
    )


def test_the_windows_are_the_references():
    assert len(dnsmos.window_starts(30 * 16000)) == 21  # int(30 - 9.01) + 1
    assert len(dnsmos.window_starts(30 * 16000, 9.01)) == 3
    assert len(dnsmos.tiled(np.zeros(8000, np.float32))) == 16 * 16000  # 0.5 s doubled 5 times
    assert len(dnsmos.window_starts(16 * 16000)) == 7


def test_p808_features_are_librosas_log_mel():
    librosa = pytest.importorskip("librosa")  # the bench extra: the reference's own features
    window = (0.3 * speech_like(9.01, 16000, seed=23)).astype(np.float32)
    mel = librosa.feature.melspectrogram(
        y=window[:-160], sr=16000, n_fft=321, hop_length=160, n_mels=120
    )
    expected = ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T
    np.testing.assert_allclose(dnsmos.p808_features(window), expected, rtol=0, atol=1e-4)


def test_shared_mel_frames_give_each_windows_own_p808_features():
    audio = (0.5 * speech_like(27.0, 16000, seed=24)).astype(np.float32)
    starts = dnsmos.window_starts(len(audio))
    assert len(starts) == 18 > 16  # two groups of windows
    alone = np.stack([dnsmos.p808_features(audio[s : s + dnsmos.WINDOW]) for s in starts])
    shared = np.stack(list(dnsmos.p808_inputs(audio, starts)))
    np.testing.assert_allclose(shared, alone, rtol=0, atol=1e-6)
    odd = [0, 16008]
    alone = np.stack([dnsmos.p808_features(audio[s : s + dnsmos.WINDOW]) for s in odd])
    np.testing.assert_array_equal(np.stack(list(dnsmos.p808_inputs(audio, odd))), alone)
