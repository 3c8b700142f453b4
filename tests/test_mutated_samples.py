"""Damaged copies of real samples: each gives a record or a typed `BqatError`, never another
exception, and no measure fails with an error of its own code (those are logged by the record
loop; see bqat.engines.engine.record).

The damage is seeded, so the cases are the same on every run: bit flips, a cut tail, a copied
run of bytes spliced in, a zeroed run, and random bytes in the first 600 (the headers). A fuzz
run of 3 000 such copies found nothing on 2026-12-06; this keeps a sample of them as a guard.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

import pytest

import bqat
from bqat.exceptions import BqatError

SAMPLES = {
    "face": "face/268625316_1.jpg",
    "fingerprint": "fingerprint/00007_01.bmp",
    "iris": "iris/sample_1.png",
    "speech": "speech/stateless_speech.wav",
}
COPIES = 4  # per kind of damage and modality


def _flip(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 40)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def _cut(data: bytearray, rng: random.Random) -> None:
    del data[rng.randrange(1, len(data)) :]


def _splice(data: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(data))
    data[rng.randrange(len(data)) : 0] = data[start : start + rng.randint(1, 2000)]


def _zero(data: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 5000))
    data[start:end] = bytes(end - start)


def _header(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(min(len(data), 600))] = rng.randrange(256)


DAMAGE: dict[str, Callable[[bytearray, random.Random], None]] = {
    "flip": _flip,
    "cut": _cut,
    "splice": _splice,
    "zero": _zero,
    "header": _header,
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("modality", SAMPLES)
def test_a_damaged_sample_gives_a_record_or_a_typed_error(modality, damage, samples: Path, caplog):
    original = (samples / SAMPLES[modality]).read_bytes()
    rng = random.Random(f"{modality}/{damage}")
    outcomes = []
    with caplog.at_level(logging.ERROR, logger="bqat"):
        for _ in range(COPIES):
            data = bytearray(original)
            DAMAGE[damage](data, rng)
            try:
                record = bqat.assess(bytes(data), modality)
            except BqatError:
                outcomes.append("error")
            else:
                assert isinstance(record["measure_errors"], dict)
                outcomes.append("record")
    failed = [r.getMessage() for r in caplog.records if r.exc_info]
    assert not failed, f"measures failed with exceptions of their own code: {failed}"
    assert len(outcomes) == COPIES
