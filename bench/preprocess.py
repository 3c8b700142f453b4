"""Preprocessing speed against a bare single-process Pillow loop doing the same conversion.

Makes N JPEGs of 640 x 480 (generated, quality 90), then converts them to half-size PNGs: a plain
loop in this process (Pillow: open, EXIF transpose, RGB, box-filter resize, save at Pillow's
default PNG level, as bqat writes them), and `bqat.preprocess(..., format="png", scale=0.5)`, the
`preprocess-folder` flow with its task runner (after one warm-up call that starts Prefect's
temporary server and loads the imports). The two alternate for a few rounds, so that a load
that comes and goes on a shared machine weighs on both; prints each round's rates in images per
second and ratio, then the median ratio; the target is bqat >= 1.6x the loop on two cores.
Run: make bench-preprocess (or .venv/bin/python bench/preprocess.py [--images N] [--rounds R]).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

import bqat


def write_images(folder: Path, count: int) -> None:
    """`count` different 640 x 480 JPEGs (shifted copies of one noise image)."""
    base = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    for i in range(count):
        Image.fromarray(np.roll(base, i, axis=1)).save(folder / f"{i:05d}.jpg", quality=90)


def pillow_loop(source: Path, output: Path) -> None:
    """The same conversion, one file after another."""
    output.mkdir()
    for path in sorted(source.glob("*.jpg")):
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
            half = upright.resize((upright.width // 2, upright.height // 2), Image.Resampling.BOX)
            half.save(output / f"{path.stem}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        source = root / "in"
        source.mkdir()
        write_images(source, args.images)
        bqat.preprocess(source, root / "warm", format="png", scale=0.5, pattern="^00000")
        for round_ in range(args.rounds):
            start = time.perf_counter()
            pillow_loop(source, root / f"pillow-{round_}")
            loop_s = time.perf_counter() - start
            start = time.perf_counter()
            summary = bqat.preprocess(source, root / f"ours-{round_}", format="png", scale=0.5)
            ours_s = time.perf_counter() - start
            ratios.append(loop_s / ours_s)
            print(
                f"{args.images} JPEGs 640x480 -> half-size PNG: Pillow loop "
                f"{args.images / loop_s:.1f} img/s; bqat.preprocess {args.images / ours_s:.1f} "
                f"img/s ({summary.written} written, {summary.failed} failed); "
                f"ratio {ratios[-1]:.2f}",
                flush=True,
            )
    print(f"median ratio of {args.rounds} rounds: {statistics.median(ratios):.2f} (target >= 1.6)")


if __name__ == "__main__":
    main()
