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

It also prints the floor the models set: their multiply-accumulates (MACs) per second of audio,
counted from the ONNX graphs (P.835: the full-resolution front once per 10 ms frame, as
bqat.engines.speech.p835 shares it between windows, plus its tail per window; P.808 per window),
and the CPU time they need at the rate ONNX Runtime runs the P.835 front on this core. Where
the time goes (profiled, one core): ONNX Runtime runs are ~97 % of the full record, the front
alone ~60 %; decoding, resampling, the native measures and the P.808 log-mel take ~5 %.
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

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE = SHARED / "samples" / "speech" / "stateless_speech.wav"


def pin_to_one_core() -> None:
    """Every measurement on one core: this process and ONNX Runtime's threads."""
    os.environ["BQAT_THREADS"] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def model_floor() -> None:
    """Print the MACs the DNSMOS models need per second of audio and the time that takes here."""
    from bqat.engines.speech import dnsmos, p835
    from bqat.models import resolve

    front, tail = _convolution_macs(resolve(dnsmos.P835_MODEL))
    p808 = sum(_convolution_macs(resolve(dnsmos.P808_MODEL)))
    per_frame = front / p835.WINDOW_FRAMES
    x, fs = read(SAMPLE)
    audio = dnsmos.tiled(dnsmos.resample_16k(x, fs))
    frames = np.lib.stride_tricks.sliding_window_view(audio, p835.FRAME)[:: p835.FRAME_HOP]
    chunk = np.ascontiguousarray(frames[None, : p835.CHUNK_FRAMES], np.float32)
    session = p835.split_sessions(dnsmos.P835_MODEL)[0]
    best = float("inf")
    for _ in range(6):  # the first warms up; the fastest run is the least disturbed
        cpu = time.process_time()
        session.run(None, {p835.FRAMES_INPUT: chunk})
        best = min(best, time.process_time() - cpu)
    rate = per_frame * len(chunk[0]) / best
    print(
        f"models: P.835 front {per_frame / 1e6:.1f} MMAC per 10 ms frame, tail "
        f"{tail / 1e9:.2f} GMAC and P.808 {p808 / 1e9:.2f} GMAC per window; "
        f"front run at {rate / 1e9:.0f} GMAC/s on this core"
    )
    for hop in (1.0, 9.01):
        need = 100 * per_frame + (tail + p808) / hop  # per second of a long recording
        print(
            f"floor at hop {hop:g} s, long recordings: {need / 1e9:.2f} GMAC per second of audio = "
            f"{need / rate * 1e3:.1f} ms CPU at that rate: at most {rate / need:.0f}x real time "
            "per core"
        )


def _convolution_macs(path: Path) -> tuple[float, float]:
    """MACs of one window in the graph's convolutions: (those at the full 900-frame time
    resolution, the rest); its dense layers are under 0.1 %."""
    import onnx
    import onnx.shape_inference

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*model.graph.value_info, *model.graph.output)
    }
    kernels = {w.name: list(w.dims) for w in model.graph.initializer}
    full = rest = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out, kernel = shapes[node.output[0]], kernels[node.input[1]]
            macs = float(np.prod(out[1:]) * np.prod(kernel[1:]))
            if out[2] == 900:
                full += macs
            else:
                rest += macs
    return full, rest


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
    if "BQAT_MODEL_DIR" not in os.environ and (SHARED / "models").is_dir():
        os.environ["BQAT_MODEL_DIR"] = str(SHARED / "models")
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
        model_floor()
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
