"""Face engine speed against JPEG decoding of the same files, in one run.

Builds 200 JPEGs from ../shared/samples/face (resized copies, 40-100% of the original size),
then prints: the mean JPEG decode time, our full-record time per image in one process, our
throughput with one and with two worker processes, and the ratio of our time to the decode time.
Upstream BQAT needs about 50x the decode time (151 ms against 3.1 ms on this machine kind);
the target is <= 10x. Run: make bench-face (or .venv/bin/python bench/face.py [--images N]).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "face"


def build_set(folder: Path, count: int) -> list[Path]:
    sources = sorted(SAMPLES.glob("*.jpg"))
    rng = np.random.default_rng(5)
    paths = []
    for i in range(count):
        image = cv2.imread(str(sources[i % len(sources)]))
        scale = float(rng.uniform(0.4, 1.0))
        resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        path = folder / f"face_{i:04d}.jpg"
        cv2.imwrite(str(path), resized, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def decode_ms(paths: list[Path]) -> float:
    blobs = [np.frombuffer(p.read_bytes(), np.uint8) for p in paths]
    start = time.perf_counter()
    for blob in blobs:
        cv2.imdecode(blob, cv2.IMREAD_COLOR)
    return (time.perf_counter() - start) / len(blobs) * 1e3


def _assess(path: Path) -> int:
    from bqat import assess

    return assess(path, "face")["face_count"]


def _warm(_: object = None) -> None:
    _assess(next(SAMPLES.glob("*.jpg")))


def per_image_ms(paths: list[Path]) -> float:
    _warm()
    times = []
    for path in paths:
        start = time.perf_counter()
        _assess(path)
        times.append(time.perf_counter() - start)
    return statistics.mean(times) * 1e3


def throughput(paths: list[Path], workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_warm) as pool:
        pool.map(_warm, range(workers))
        start = time.perf_counter()
        pool.map(_assess, paths, chunksize=4)
        return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = build_set(Path(folder), args.images)
        decode = decode_ms(paths)
        ours = per_image_ms(paths)
        os.environ["BQAT_THREADS"] = "1"
        rates = {n: throughput(paths, n) for n in (1, 2)}
    print(f"images: {len(paths)} JPEGs from {SAMPLES}")
    print(f"JPEG decode (cv2.imdecode): {decode:8.2f} ms/image")
    print(f"bqat face record, 1 process: {ours:8.2f} ms/image = {1e3 / ours:6.1f} img/s")
    for workers, rate in rates.items():
        print(
            f"bqat face record, {workers} worker process(es), 1 ORT thread each: {rate:6.1f} img/s"
        )
    print(f"ratio to decode (1 process): {ours / decode:6.1f}x   (target <= 10x; upstream ~50x)")


if __name__ == "__main__":
    main()
