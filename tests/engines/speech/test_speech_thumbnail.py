"""The report's picture of a speech sample: the waveform envelope, a PNG of the stated size."""

from __future__ import annotations

import base64

import cv2
import numpy as np
from speech_reference import wav_bytes

from bqat.thumbnails import thumbnail_uri

SIDE = 112
COLUMN = 100  # samples per pixel column


def decoded(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return cv2.imdecode(np.frombuffer(base64.b64decode(uri[len(prefix) :]), np.uint8), 1)


def test_a_known_signal_draws_its_envelope_and_marks_clipping(tmp_path):
    n = np.arange(56 * COLUMN)
    tone = 0.5 * np.sin(2 * np.pi * 1000 * n / 16000)  # peaks of exactly +-0.5 in each column
    square = np.where(np.arange(28 * COLUMN) % 16 < 8, 1.0, -1.0)  # full scale: clipped
    signal = np.concatenate([tone, np.zeros(28 * COLUMN), square])
    path = tmp_path / "known.wav"
    path.write_bytes(wav_bytes(signal, 16000))

    pixels = decoded(thumbnail_uri(path, "speech", SIDE))
    assert pixels.shape == (56, 112, 3)
    drawn = (pixels != 255).any(axis=2)
    red = (pixels[:, :, 2] > 150) & (pixels[:, :, 0] < 100)
    # +0.5 .. -0.5 spans rows round(0.25 * 55) .. round(0.75 * 55): 14 .. 41.
    assert all(np.flatnonzero(drawn[:, c]).tolist() == list(range(14, 42)) for c in range(56))
    assert drawn[:, 56:84].sum(axis=0).tolist() == [1] * 28  # silence: the zero line alone
    assert red[:, 84:].all() and not red[:, :84].any()  # every row, clipped columns only


def test_what_is_not_audio_has_no_thumbnail(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_text("not audio\n" * 20)
    assert thumbnail_uri(path, "speech") is None
