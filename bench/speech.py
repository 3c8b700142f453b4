"""Speech engine speed, in multiples of real time per core, against the reference path.

Builds a small set from ../shared/samples/speech (the sample as it is, 44.1 kHz stereo; looped to
30 s at 16 kHz mono FLAC; a 5 s excerpt at 48 kHz), pins this process to one CPU core (ONNX
Runtime on one thread), then times on the same files, each after a warm-up:

- our signal record (`dnsmos=False`: decoding, P.56, BS.1770, statistics, roll-off, WADA-SNR);
- our full record (with DNSMOS, windows every 1 s as the reference);
- our full record with DNSMOS windows end to end (`dnsmos_hop_s=9.01`);
- the reference path: speechmos 0.0.1.1 `dnsmos.run(path)`, which reads the file with
  `librosa.load(path, sr=16000)` (only DNSMOS: it has no signal measures), when installed (the
  `bench` extra):
  .venv/bin/python -m pip install -c requirements.lock speechmos==0.0.1.1 'librosa>=0.10,<0.12'.

Throughput is seconds of audio per second ("x RT"): of wall time, and of this process's CPU time
on its one core ("x RT/core", what a busy machine does not distort). Targets (issue 14): full
record >= 100x real time per core and >= 3x the reference path. Run: make bench-speech (or
.venv/bin/python bench/speech.py [--repeat N]).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SAMPLE = (
    Path(__file__).resolve().parents[2] / "shared" / "samples" / "speech" / "stateless_speech.wav"
)


def pin_to_one_core() -> None:
    """Every measurement on one core: this process and ONNX Runtime's threads."""
    os.environ["BQAT_THREADS"] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def build_set(folder: Path) -> list[Path]:
    import soundfile
    import soxr

    x, fs = soundfile.read(SAMPLE, dtype="float32")
    mono16 = soxr.resample(x.mean(axis=1), fs, 16000, quality="HQ")
    looped = np.tile(mono16, int(np.ceil(30 * 16000 / len(mono16))))[: 30 * 16000]
    excerpt = soxr.resample(x[: 5 * fs], fs, 48000, quality="HQ")
    paths = [folder / "sample.wav", folder / "looped_30s.flac", folder / "excerpt_48k.wav"]
    paths[0].write_bytes(SAMPLE.read_bytes())
    soundfile.write(paths[1], looped, 16000, subtype="PCM_16")
    soundfile.write(paths[2], excerpt, 48000, subtype="PCM_24")
    return paths


def duration_s(paths: list[Path]) -> float:
    import soundfile

    return sum(soundfile.info(str(p)).duration for p in paths)


def timed(
    runs: dict[str, Callable[[Path], object]], paths: list[Path], repeat: int
) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per pass over `paths` for each (warm) run, the best of `repeat`.

    The runs take turns file by file, so a change in the machine's load hits them alike; the
    CPU time (this process, all its threads, on its one core) is what other processes on a
    busy machine do not inflate.
    """
    best = dict.fromkeys(runs, (float("inf"), float("inf")))
    for _ in range(repeat):
        spent = dict.fromkeys(runs, (0.0, 0.0))
        for path in paths:
            for name, run in runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run(path)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                spent[name] = (spent[name][0] + wall, spent[name][1] + cpu)
        best = {name: min(best[name], spent[name], key=lambda t: t[1]) for name in runs}
    return best


def reference_path() -> Callable[[Path], object] | None:
    """speechmos's DNSMOS on `librosa.load(path, sr=16000)`, its sessions on one thread.

    speechmos opens its ONNX Runtime sessions with the default options, whose thread pool does
    not stay on the one core this process is pinned to; the same model files on one thread make
    the comparison per core.
    """
    try:
        import librosa  # noqa: F401  (speechmos loads and resamples the file with it)
        import onnxruntime
        from speechmos import dnsmos
    except ImportError:
        return None
    dnsmos.run(np.zeros(16000, np.float32), sr=16000)  # creates speechmos's DNSMOS object
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    model = dnsmos.dnsmos
    for attribute, path in (
        ("onnx_sess", model.primary_model_path),
        ("p808_onnx_sess", str(Path(model.primary_model_path).with_name("model_v8.onnx"))),
    ):
        setattr(model, attribute, onnxruntime.InferenceSession(path, options))

    primary = model.onnx_sess

    class Counted:
        """The P.835 session, counting the windows speechmos scores."""

        windows = 0

        def run(self, *args: object) -> object:
            Counted.windows += 1
            return primary.run(*args)

    model.onnx_sess = Counted()

    def run(path: Path) -> object:
        return dnsmos.run(str(path), sr=16000)  # librosa.load(path, sr=16000) inside

    run.windows = Counted  # type: ignore[attr-defined]
    return run


def read(path: Path) -> tuple[np.ndarray, int]:
    """The mono mix and rate, as the engine reads them."""
    import soundfile

    x, fs = soundfile.read(str(path), dtype="float32", always_2d=True)
    return x.mean(axis=1), fs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="timed passes (the best is kept)")
    args = parser.parse_args()
    pin_to_one_core()
    from bqat.engines import assess_with
    from bqat.engines.speech import ENGINE
    from bqat.engines.speech.dnsmos import resample_16k, windows

    def assess(path: Path, **options: object) -> dict:
        return assess_with(ENGINE, path, file=path.name, options=options)

    with tempfile.TemporaryDirectory() as tmp:
        paths = build_set(Path(tmp))
        audio_s = duration_s(paths)
        print(f"{len(paths)} files, {audio_s:.1f} s of audio; one core, one ONNX Runtime thread")
        runs = {
            "ours, signal record (dnsmos=False)": lambda p: assess(p, dnsmos=False),
            "ours, full record (DNSMOS hop 1 s)": lambda p: assess(p),
            "ours, full record (DNSMOS hop 9.01 s)": lambda p: assess(p, dnsmos_hop_s=9.01),
        }
        reference = reference_path()
        if reference is not None:
            runs["reference: librosa.load + speechmos DNSMOS"] = reference
        for run in runs.values():
            run(paths[0])  # warm-up: imports, sessions, caches
        if reference is not None:
            reference.windows.windows = 0  # type: ignore[attr-defined]
        times = timed(runs, paths, args.repeat)
        print(f"{'':45s} {'wall s':>7s} {'x RT':>7s} {'CPU s':>7s} {'x RT/core':>9s}")
        for name, (wall, cpu) in times.items():
            print(f"{name:45s} {wall:7.2f} {audio_s / wall:7.1f} {cpu:7.2f} {audio_s / cpu:9.1f}")
        if reference is None:
            print(
                "reference path not installed (the bench extra): .venv/bin/python -m pip install "
                "-c requirements.lock speechmos==0.0.1.1 'librosa>=0.10,<0.12' to compare",
                file=sys.stderr,
            )
            return
        ref = times["reference: librosa.load + speechmos DNSMOS"]
        full = times["ours, full record (DNSMOS hop 1 s)"]
        # The reference skips the windows whose float end falls one sample short (see
        # bqat/engines/speech/dnsmos.py); compare the CPU time per scored window too.
        ours_windows = sum(len(windows(resample_16k(*read(p)), 1.0)) for p in paths)
        ref_windows = reference.windows.windows // args.repeat  # type: ignore[attr-defined]
        ours_per, ref_per = full[1] / ours_windows, ref[1] / ref_windows
        print(
            f"full record vs reference path: {ref[1] / full[1]:.2f}x in CPU time, "
            f"{ref[0] / full[0]:.2f}x in wall time; windows scored: ours {ours_windows}, "
            f"reference {ref_windows}; CPU per window: ours {ours_per:.3f} s, "
            f"reference {ref_per:.3f} s ({ref_per / ours_per:.2f}x)"
        )


if __name__ == "__main__":
    main()
