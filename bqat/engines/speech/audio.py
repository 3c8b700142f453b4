"""Audio decoding by content (libsndfile through soundfile), never by extension.

libsndfile recognises the container from the data itself, so MP3 (libsndfile >= 1.1), FLAC, Ogg
Vorbis/Opus, AIFF or CAF data under a `.wav` name decodes like any other, and a file that is not
audio is an `InputError` whose message says why. The duration limit is checked from the header,
before any sample is decoded. Samples come out as float32 in full-scale units (16-bit -32768 ->
-1.0), one column per channel.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from bqat.exceptions import InputError

# Bits per sample of the uncompressed (and losslessly packed: FLAC, ALAC) subtypes. Lossy and
# companded subtypes (MP3, Vorbis, Opus, A-law, mu-law, ADPCM, GSM) have no bit depth: null.
_BIT_DEPTH = {
    "PCM_S8": 8,
    "PCM_U8": 8,
    "PCM_16": 16,
    "PCM_24": 24,
    "PCM_32": 32,
    "FLOAT": 32,
    "DOUBLE": 64,
    "ALAC_16": 16,
    "ALAC_20": 20,
    "ALAC_24": 24,
    "ALAC_32": 32,
}
_INTEGER_PCM = {
    "PCM_S8",
    "PCM_U8",
    "PCM_16",
    "PCM_24",
    "PCM_32",
    "ALAC_16",
    "ALAC_20",
    "ALAC_24",
    "ALAC_32",
}
# Full scale of data without an integer bit depth (float, lossy): one 16-bit step below 1.
_DEFAULT_FULL_SCALE_BITS = 16
MIN_SAMPLE_RATE = 1000


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded samples (frames x channels, float32, full scale 1) and what the header says."""

    samples: np.ndarray
    sample_rate: int
    format: str | None
    subtype: str | None

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def bit_depth(self) -> int | None:
        """Bits per stored sample; None for lossy or companded formats and for bare arrays."""
        return _BIT_DEPTH.get(self.subtype) if self.subtype else None

    @property
    def full_scale(self) -> float:
        """The magnitude from which a sample counts as clipped (`full_scale`)."""
        return full_scale(self.subtype)


def full_scale(subtype: str | None) -> float:
    """The magnitude from which a sample of libsndfile `subtype` counts as clipped: the largest
    code of an integer format (1 - 2^-(bits-1): 32767/32768 at 16 bits), else that of 16 bits."""
    bits = _BIT_DEPTH.get(subtype) if subtype in _INTEGER_PCM else None
    return 1.0 - 2.0 ** -((bits or _DEFAULT_FULL_SCALE_BITS) - 1)


def decode_audio(sample: Any, *, max_duration_s: float) -> DecodedAudio:
    """Decode a path, encoded bytes, or an (array, sample_rate) pair into float32 samples.

    An array is frames (1-D) or frames x channels, float in full-scale units or integer PCM
    (scaled by its type's full scale).
    """
    if isinstance(sample, tuple):
        return _from_array(sample, max_duration_s)
    if isinstance(sample, np.ndarray):
        raise InputError("a speech sample array needs its sample rate: pass (array, sample_rate)")
    if isinstance(sample, str | Path):
        path = Path(sample)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        source: Any = str(path)
    elif isinstance(sample, bytes | bytearray | memoryview):
        if len(sample) == 0:
            raise InputError("empty input: no bytes")
        source = io.BytesIO(bytes(sample))
    else:
        raise InputError(f"cannot read a speech sample from {type(sample).__name__}")
    with reading(source) as f:
        rate, frames = int(f.samplerate), int(f.frames)
        _check(rate, frames, max_duration_s)
        samples = f.read(dtype="float32", always_2d=True)
        audio_format, subtype = f.format, f.subtype
    if samples.shape[0] == 0:
        raise InputError("the audio holds no samples")
    if not np.isfinite(samples).all():
        raise InputError("the audio holds non-finite samples (NaN or infinity)")
    return DecodedAudio(samples, rate, audio_format, subtype)


@contextmanager
def reading(source: Any) -> Iterator[soundfile.SoundFile]:
    """The audio file (a path or a binary file object) open for reading, its format recognised
    from its content; libsndfile's and soundfile's refusals become `InputError`."""
    try:
        with soundfile.SoundFile(source) as f:
            yield f
    except soundfile.LibsndfileError as exc:
        raise InputError(f"not a readable audio file: {exc.error_string}") from None
    except (RuntimeError, TypeError, ValueError) as exc:  # soundfile's own refusals
        raise InputError(f"not a readable audio file: {exc}") from None


def _check(rate: int, frames: int, max_duration_s: float) -> None:
    if rate < MIN_SAMPLE_RATE:
        raise InputError(f"sample rate {rate} Hz is below {MIN_SAMPLE_RATE} Hz")
    if frames <= 0:
        raise InputError("the audio holds no samples")
    if frames / rate > max_duration_s:
        raise InputError(
            f"the audio lasts {frames / rate:.1f} s, over the limit of {max_duration_s:g} s "
            "(option max_duration_s)"
        )


def _from_array(sample: tuple[Any, ...], max_duration_s: float) -> DecodedAudio:
    if len(sample) != 2 or not isinstance(sample[0], np.ndarray):
        raise InputError("a speech sample array is passed as (array, sample_rate)")
    array, rate = sample
    try:
        rate = int(rate)
    except (TypeError, ValueError):
        raise InputError(f"sample rate must be an integer, got {rate!r}") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] == 0:
        raise InputError(f"a speech array is frames or frames x channels, got {array.shape}")
    _check(rate, array.shape[0], max_duration_s)
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        scale = float(-int(info.min)) if info.min < 0 else (info.max + 1) / 2
        offset = 0.0 if info.min < 0 else scale
        samples = ((array.astype(np.float64) - offset) / scale).astype(np.float32)
    elif array.dtype.kind == "f":
        samples = np.ascontiguousarray(array, dtype=np.float32)
    else:
        raise InputError(f"speech samples must be numbers, got {array.dtype}")
    if not np.isfinite(samples).all():
        raise InputError("the audio holds non-finite samples (NaN or infinity)")
    return DecodedAudio(samples, rate, None, None)
