"""The preprocess-folder flow end to end: every input counted, the source untouched, the output
new and confined, and the CLI and Python entry points."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bqat
from bqat.exceptions import AccessError, ConfigError
from bqat.preparation import MANIFEST, OutputTaken
from bqat.progress import Progress, read_progress
from flows import names


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """Flow runs report to the session's Prefect server."""


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder`: a file's bytes, a link's target, a folder's mark."""
    entries: dict[str, bytes | str] = {}
    for current, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(current) / name
            key = path.relative_to(folder).as_posix()
            if path.is_symlink():
                entries[key] = f"-> {os.readlink(path)}"
            elif path.is_dir():
                entries[key] = "folder"
            else:
                entries[key] = path.read_bytes()
    return entries


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "faces"
    (folder / "nested").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for name in ("a.jpg", "nested/b.png", "nested/c.tif"):
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(folder / name)
    whole = (folder / "a.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "text.jpg").write_text("not an image")
    (folder / "loop.png").symlink_to("loop.png")
    return folder


def latest_run():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[names.PREPROCESS]))
        )
    return max(runs, key=lambda run: run.created)


def test_every_input_ends_as_a_file_or_an_error_and_the_source_is_untouched(source, tmp_path):
    from prefect.artifacts import Artifact

    from flows.artifacts import artifact_key

    before = snapshot(source)
    out = tmp_path / "data" / "prepared"
    summary = bqat.preprocess(source, out, format="png", scale=0.5, batch_size=2)
    assert snapshot(source) == before
    assert (summary.total, summary.written, summary.failed) == (6, 3, 3)
    assert [e.name for e in summary.errors] == ["loop.png", "text.jpg", "truncated.jpg"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        MANIFEST,
        "a.png",
        "nested",
        "nested/b.png",
        "nested/c.png",
    ]
    with Image.open(out / "nested" / "c.png") as image:
        assert image.size == (30, 20)
    run = latest_run()
    assert read_progress(str(run.id)) == Progress(total=6, done=6, failed=3, step=None)
    assert run.name == "preprocess faces → prepared · 6 files"
    listed = Artifact.get(artifact_key("preprocess-errors", str(run.id)))
    assert listed is not None and "truncated.jpg" in str(listed.data)


def test_an_existing_output_is_refused_before_anything_is_written(source, tmp_path):
    out = tmp_path / "data" / "exists"
    out.mkdir()
    with pytest.raises(ConfigError, match="exists"):
        bqat.preprocess(source, out)
    with pytest.raises(ConfigError, match="inside the input"):
        bqat.preprocess(source, source / "out")
    assert list(out.iterdir()) == [] and not (source / "out").exists()


def test_a_worker_run_stays_in_the_data_roots_and_writes_under_the_first(
    source, tmp_path, set_env, monkeypatch
):
    first = tmp_path / "first"
    first.mkdir()
    set_env(BQAT_DATA_ROOT=f"{first}:{tmp_path / 'data'}")
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(uuid.uuid4()))
    with pytest.raises(AccessError, match="outside the first data root"):
        bqat.preprocess(source, tmp_path / "data" / "second-root-output")
    with pytest.raises(AccessError, match="outside the data roots"):
        bqat.preprocess(tmp_path, first / "out")
    summary = bqat.preprocess(source, mode="grey", pattern=r"^nested/")
    run = latest_run()
    assert summary.output == str(first.resolve() / f"faces-prep-{run.id.hex[:8]}")
    assert (summary.total, summary.written, summary.failed) == (2, 2, 0)
    assert sorted(p.name for p in Path(summary.output, "nested").iterdir()) == ["b.png", "c.tif"]


def test_the_preprocess_verb(source, tmp_path, capsys):
    from bqat.cli import main

    out = tmp_path / "data" / "cli"
    args = ["preprocess", str(source), "--to", str(out), "--option", "resize_width=30"]
    assert main([*args, "--option", "format=jpg", "--option", "quality=80", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["written"], summary["failed"]) == (3, 3)
    with Image.open(out / "nested" / "b.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (30, 20))
    assert main([*args, "--option", "colour=grey"]) == 2
    assert "colour: Extra inputs are not permitted" in capsys.readouterr().err


def test_the_output_is_scanned_into_a_dataset_with_the_preprocessing_errors(tmp_path):
    source = tmp_path / "prints"
    source.mkdir()
    rows, cols = np.indices((160, 140))
    for i, period in enumerate((8, 10)):
        ridges = (127.5 + 100 * np.sin(2 * np.pi * (rows + 2 * cols) / period)).astype(np.uint8)
        Image.fromarray(ridges).save(source / f"{i}.png")
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    summary = bqat.preprocess(
        source, tmp_path / "wsq", format="wsq", modality="fingerprint", dataset_id="prints"
    )
    assert (summary.dataset_id, summary.written, summary.failed) == ("prints", 2, 1)
    assert sorted(row["file"] for row in bqat.profiles("prints")) == ["0.wsq", "1.wsq"]
    assert [(e["file"], e["reason"][:14]) for e in bqat.errors("prints")] == [
        ("broken.png", "preprocessing:")
    ]


KILLED_RUN = """
import sys
import bqat
bqat.preprocess(sys.argv[1], sys.argv[2], format="png", scale=0.5, batch_size=2)
"""


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_run_killed_mid_way_is_completed_by_running_it_again(tmp_path, crashes_killed_runs):
    from prefect.settings import PREFECT_API_URL

    source, out, clean = tmp_path / "in", tmp_path / "out", tmp_path / "clean"
    source.mkdir()
    rng = np.random.default_rng(7)
    names = [f"{i:02d}.png" for i in range(30)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(source / name)
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = [sys.executable, "-c", KILLED_RUN, str(source), str(out)]
    log = tmp_path / "killed.log"
    with log.open("wb") as stderr:  # a file: a pipe nobody reads could fill and block the run
        process = subprocess.Popen(command, env=env, stderr=stderr)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.png"))) < 4 and process.poll() is None:
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, log.read_text()[-2000:]
    written = files_under(out)
    assert 4 <= len([n for n in written if n.endswith(".png")]) < len(names)
    with pytest.raises(OutputTaken, match="not an interrupted preprocessing"):
        bqat.preprocess(source, out, format="png", scale=0.25)  # other options: refused
    summary = bqat.preprocess(source, out, format="png", scale=0.5, batch_size=2)
    assert (summary.written, summary.failed) == (len(names), 0)
    assert summary.kept == len([n for n in written if not n.startswith(".")])
    bqat.preprocess(source, clean, format="png", scale=0.5)
    assert files_under(out) == files_under(clean) == sorted([MANIFEST, *names])
    for name in names:
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
        with Image.open(source / name) as original:
            expected = np.asarray(original.reduce(2), dtype=int)
        assert np.abs(pixels(out / name) - expected).max() <= 1, name


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image, dtype=int)
