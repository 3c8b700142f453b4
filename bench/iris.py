"""Iris engine speed against PNG decoding of the same files, in one run.

Builds 640 x 480 PNGs from ../shared/samples/iris (each sample scaled so that its height is 480
px times 0.85-1.0, then padded by reflection or cropped to 640 x 480, some mirrored), twice: as
captured (a grey sample stays a 1-channel PNG, as near-infrared iris cameras write them; a colour
one stays 3-channel) and all 3-channel (every PNG colour, grey ones with three equal channels).
For each set it prints the decode floor (cv2.imdecode to grey, per image), the native iris pass
alone (_native.iris_assess on the decoded grey array) and the full record (bqat.assess on the
path: read, sniff, decode, iris pass, phash, record), each as ms per image and images per second
of one core (process CPU time, one process, best of repeated passes), the full record's ratio to
the decode floor, and the full record's throughput with one and two worker processes (wall
clock). MITRE BIQT-Iris runs at 7-8 images per second as a library call on this machine kind
(algorithm 129-138 ms per image, ../shared/reference/biqt-iris-outputs.json); the target is
>= 100 images per second per core for the full record.
Run: .venv/bin/python bench/iris.py [--images N]
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from throughput import assess_field, cpu_ms, record_rate

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "iris"
WIDTH, HEIGHT = 640, 480
TARGET = 100.0  # full records per second per core


def build_set(folder: Path, count: int, *, colour: bool) -> list[Path]:
    """`count` 640 x 480 PNGs; `colour`: all 3-channel, else each keeps its source's channels."""
    sources = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(SAMPLES.iterdir())]
    sources = [s if s.ndim == 2 or s.shape[2] == 3 else s[:, :, :3] for s in sources]
    if colour:
        sources = [cv2.cvtColor(s, cv2.COLOR_GRAY2BGR) if s.ndim == 2 else s for s in sources]
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
        path = folder / f"iris_{'c' if colour else 'g'}{i:04d}.png"
        cv2.imwrite(str(path), np.ascontiguousarray(image))
        paths.append(path)
    return paths


def measure(paths: list[Path], title: str) -> None:
    from bqat import _native

    blobs = [np.frombuffer(p.read_bytes(), np.uint8) for p in paths]
    greys = [cv2.imdecode(b, cv2.IMREAD_GRAYSCALE) for b in blobs]
    channels = sorted({cv2.imdecode(b, cv2.IMREAD_UNCHANGED).ndim for b in blobs[:4]})
    found = sum(_native.iris_assess(g)["found"] for g in greys)
    decode = cpu_ms(lambda b: cv2.imdecode(b, cv2.IMREAD_GRAYSCALE), blobs, repeats=3)
    native = cpu_ms(_native.iris_assess, greys, repeats=3)
    record = cpu_ms(partial(assess_field, "iris", "quality"), paths, repeats=3)
    warm = next(SAMPLES.iterdir())
    one, two = (record_rate(paths, n, "iris", "quality", warm) for n in (1, 2))
    kinds = " and ".join({2: "1-channel", 3: "3-channel"}[c] for c in channels)
    print(f"{title}: {len(paths)} PNGs of {WIDTH} x {HEIGHT} ({kinds}), an eye found in {found}")
    for name, ms in (
        ("decode floor (cv2.imdecode, grey)", decode),
        ("native iris pass (iris_assess)", native),
        ("full record (bqat.assess, path)", record),
    ):
        print(f"  {name:36s} {ms:6.2f} ms  {1e3 / ms:7.1f} img/s per core")
    verdict = "met" if 1e3 / record >= TARGET else "NOT met"
    print(
        f"  {'full record / decode floor':36s} {record / decode:6.2f}x   "
        f"(target >= {TARGET:.0f} img/s per core: {verdict})"
    )
    print(f"  {'full record, 1 worker process':36s} {one:7.1f} img/s (wall clock)")
    print(f"  {'full record, 2 worker processes':36s} {two:7.1f} img/s (wall clock)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        assess_field("iris", "quality", next(SAMPLES.iterdir()))
        measure(build_set(Path(tmp), args.images, colour=False), "as captured")
        measure(build_set(Path(tmp), args.images, colour=True), "all 3-channel")


if __name__ == "__main__":
    main()
