"""The speech engine: decoding by content, native signal measures, DNSMOS."""

from __future__ import annotations

from typing import Any

from bqat.engines.engine import Engine
from bqat.engines.speech.audio import decode_audio
from bqat.engines.speech.context import SpeechContext, build_context
from bqat.engines.speech.dnsmos import P808_MODEL, P835_MODEL
from bqat.engines.speech.measures import MODALITY, SPEECH_MEASURES
from bqat.engines.speech.options import SpeechOptions
from bqat.engines.speech.p835 import PARTS
from bqat.engines.speech.profiles import PROFILES
from bqat.engines.speech.waveform import waveform
from bqat.models.runtime import PART_SEPARATOR

EXTENSIONS = frozenset({".wav", ".flac"})


def speech_context(sample: Any, file: str | None, options: SpeechOptions) -> SpeechContext:
    """Decode the sample (path, encoded bytes or (array, sample_rate)) and run every stage once."""
    return build_context(decode_audio(sample, max_duration_s=options.max_duration_s), file, options)


ENGINE = Engine(
    modality=MODALITY,
    measures=SPEECH_MEASURES,
    options=SpeechOptions,
    models=(P835_MODEL, P808_MODEL),
    extensions=EXTENSIONS,
    context=speech_context,
    derived_sessions=tuple(f"{P835_MODEL}{PART_SEPARATOR}{part}" for part in PARTS),
    thumbnail=waveform,
    profiles=PROFILES,
)
