"""Iris engine speed against PNG decoding of the same files, in one run.

Builds 640 x 480 PNGs from ../shared/samples/iris (each sample scaled so that its height is 480
px times 0.85-1.0, then padded by reflection or cropped to 640 x 480, some mirrored), then
prints: the decode floor (cv2.imdecode to grey, per image), the native iris pass alone
(_native.iris_assess on the decoded grey array), the full record (bqat.assess on the path: read,
sniff, decode, iris pass, phash, record), each as ms per image and images per second of one
core (process CPU time, one process), the throughput of the full record with one and two worker
processes (wall clock), and the full record's ratio to the decode floor. MITRE BIQT-Iris runs at
7-8 images per second as a library call on this machine kind (algorithm 129-138 ms per image,
../shared/reference/biqt-iris-outputs.json); the target is >= 100 images per second per core.
Run: .venv/bin/python bench/iris.py [--images N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "iris"
WIDTH, HEIGHT = 640, 480


def build_set(folder: Path, count: int) -> list[Path]:
    sources = [cv2.imread(str(p)) for p in sorted(SAMPLES.iterdir())]
    rng = np.random.default_rng(11)
    paths = []
    for i in range(count):
        image = sources[i % len(sources)]
        scale = HEIGHT * float(rng.uniform(0.85, 1.0)) / image.shape[0]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        pad_y, pad_x = max(0, HEIGHT - image.shape[0]), max(0, WIDTH - image.shape[1])
        image = cv2.copyMakeBorder(
            image,
            pad_y // 2,
            pad_y - pad_y // 2,
            pad_x // 2,
            pad_x - pad_x // 2,
            cv2.BORDER_REFLECT,
        )
        top, left = (image.shape[0] - HEIGHT) // 2, (image.shape[1] - WIDTH) // 2
        image = image[top : top + HEIGHT, left : left + WIDTH]
        if i % 2:
            image = image[:, ::-1]
        path = folder / f"iris_{i:04d}.png"
        cv2.imwrite(str(path), np.ascontiguousarray(image))
        paths.append(path)
    return paths


def cpu_ms(work, items) -> float:
    start = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - start) / len(items) * 1e3


def _assess(path: Path) -> int | None:
    from bqat import assess

    return assess(path, "iris")["quality"]


def _warm(_: object = None) -> None:
    _assess(next(SAMPLES.iterdir()))


def throughput(paths: list[Path], workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_warm) as pool:
        pool.map(_warm, range(workers))
        start = time.perf_counter()
        pool.map(_assess, paths, chunksize=8)
        return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    from bqat import _native

    with tempfile.TemporaryDirectory() as tmp:
        paths = build_set(Path(tmp), args.images)
        blobs = [np.frombuffer(p.read_bytes(), np.uint8) for p in paths]
        greys = [cv2.imdecode(b, cv2.IMREAD_GRAYSCALE) for b in blobs]
        _warm()
        found = sum(_native.iris_assess(g)["found"] for g in greys)
        decode = min(
            cpu_ms(lambda b: cv2.imdecode(b, cv2.IMREAD_GRAYSCALE), blobs) for _ in range(3)
        )
        native = min(cpu_ms(_native.iris_assess, greys) for _ in range(3))
        record = min(cpu_ms(_assess, paths) for _ in range(2))
        one, two = throughput(paths, 1), throughput(paths, 2)
    print(f"{len(paths)} PNGs of {WIDTH} x {HEIGHT}, an eye found in {found}")
    print(
        f"decode floor (cv2.imdecode, grey)   {decode:6.2f} ms  {1e3 / decode:7.1f} img/s per core"
    )
    print(
        f"native iris pass (iris_assess)      {native:6.2f} ms  {1e3 / native:7.1f} img/s per core"
    )
    print(
        f"full record (bqat.assess, path)     {record:6.2f} ms  {1e3 / record:7.1f} img/s per core"
    )
    print(f"full record, 1 worker process       {one:7.1f} img/s")
    print(f"full record, 2 worker processes     {two:7.1f} img/s")
    ratio = record / decode
    print(f"full record / decode floor          {ratio:6.1f}x   (target: >= 100 img/s per core)")


if __name__ == "__main__":
    main()
