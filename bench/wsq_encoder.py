"""WSQ encoding speed: ours (bqat.wsq) against the `wsq` package's (NBIS through Pillow), in one
process on the same images.

Images: the real fingerprint samples (../shared/samples/fingerprint: three 240 x 320 BMPs and a
1600 x 1500 PNG) and a synthetic 1000 x 1000 noisy ridge pattern. Each encoder runs a few rounds,
alternating, and the best time of each is kept; ours at 0.75 bit/pixel (its default, the rate
the `wsq` package also states). Prints megapixels per second for both and their ratio
(ours / theirs: above 1 is faster); the target is ours >= 1 / 1.5 of theirs. The system load is
printed too: the figures are only comparable within one run.
Run: make bench-wsq (or .venv/bin/python bench/wsq_encoder.py [--rounds R]). Not named
bench/wsq.py: that would shadow the `wsq` package it compares with (the script's folder comes
first on the path).
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import wsq  # noqa: F401  (registers NBIS's codec with Pillow)
from PIL import Image

from bqat.wsq import encode_wsq

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "fingerprint"


def images() -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(SAMPLES.glob("*")):
        if path.suffix in (".bmp", ".png"):
            with Image.open(path) as image:
                found[path.name] = np.asarray(image.convert("L"))
    rows, cols = np.indices((1000, 1000))
    wave = 127.5 + 100 * np.sin(2 * np.pi * (rows + 0.6 * cols) / 9)
    noise = np.random.default_rng(0).normal(0, 8, wave.shape)
    found["ridges 1000 x 1000"] = np.clip(wave + noise, 0, 255).astype(np.uint8)
    return found


def theirs(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="WSQ")
    return buffer.getvalue()


def ours(pixels: np.ndarray) -> bytes:
    return encode_wsq(pixels, ppi=500)


def seconds(encode: Callable[[np.ndarray], bytes], pixels: np.ndarray) -> float:
    start = time.perf_counter()
    encode(pixels)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    total = {"ours": 0.0, "theirs": 0.0}
    megapixels = 0.0
    for name, pixels in images().items():
        ours(pixels), theirs(pixels)  # warm-up
        times = {"ours": [], "theirs": []}
        for _ in range(rounds):
            times["ours"].append(seconds(ours, pixels))
            times["theirs"].append(seconds(theirs, pixels))
        mp = pixels.size / 1e6
        rate = {key: mp / min(value) for key, value in times.items()}
        for key, value in times.items():
            total[key] += min(value)
        megapixels += mp
        ratio = rate["ours"] / rate["theirs"]
        print(
            f"{name:>22} {pixels.shape[1]:>4} x {pixels.shape[0]:<4}  ours {rate['ours']:6.1f} "
            f"MP/s  wsq package {rate['theirs']:6.1f} MP/s  ratio {ratio:.2f}"
        )
    print(
        f"{'all':>22}              ours {megapixels / total['ours']:6.1f} MP/s  wsq package "
        f"{megapixels / total['theirs']:6.1f} MP/s  ratio {total['theirs'] / total['ours']:.2f} "
        "(target >= 0.67)"
    )


if __name__ == "__main__":
    main()
