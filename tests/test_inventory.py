"""What a scan would find, counted per modality and sub-folder without decoding anything: the
same files discovery finds (each real file once, links inside followed, links out and loops
not), checked against a tree whose counts are known and against discover_all itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bqat.exceptions import NotFoundError
from bqat.ingest import discover_all, inventory

IMAGE_MODALITIES = ("face", "fingerprint", "iris")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ top.bmp, notes.txt; faces/ a.jpg b.PNG copy.jpg->a.jpg loop.jpg<->loop2.jpg
    deep/c.jpeg; voices/ v.wav w.flac; out -> ../elsewhere (two images); empty/."""
    root = tmp_path / "root"
    elsewhere = tmp_path / "elsewhere"
    for folder in (root / "faces" / "deep", root / "voices", root / "empty", elsewhere):
        folder.mkdir(parents=True)
    for name in ("top.bmp", "notes.txt", "faces/a.jpg", "faces/b.PNG", "faces/deep/c.jpeg"):
        (root / name).write_bytes(b"x")
    for name in ("voices/v.wav", "voices/w.flac", "voices/x.mp4"):
        (root / name).write_bytes(b"x")
    (elsewhere / "e1.jpg").write_bytes(b"x")
    (elsewhere / "e2.jpg").write_bytes(b"x")
    os.symlink(root / "faces" / "a.jpg", root / "faces" / "copy.jpg")
    os.symlink(root / "faces" / "loop2.jpg", root / "faces" / "loop.jpg")
    os.symlink(root / "faces" / "loop.jpg", root / "faces" / "loop2.jpg")
    os.symlink(elsewhere, root / "out")
    return root


def test_counts_per_modality_and_folder_are_the_known_ones(tree: Path):
    found = inventory(tree)
    images = {"faces": 3, "voices": 0, "empty": 0}  # a, b, c: the link to a is a once
    assert found.folders == {
        name: {**dict.fromkeys(IMAGE_MODALITIES, count), "speech": 2 if name == "voices" else 0}
        for name, count in sorted(images.items())
    }
    assert found.files == {**dict.fromkeys(IMAGE_MODALITIES, 4), "speech": 2}  # + top.bmp


@pytest.mark.parametrize("modality", [*IMAGE_MODALITIES, "speech"])
def test_each_count_is_what_a_scan_of_that_folder_discovers(tree: Path, modality: str):
    found = inventory(tree)
    assert found.files[modality] == len(discover_all(tree, modality).samples)
    for name, files in found.folders.items():
        assert files[modality] == len(discover_all(tree / name, modality).samples), name


def test_a_missing_folder_is_not_found(tmp_path: Path):
    with pytest.raises(NotFoundError):
        inventory(tmp_path / "nowhere")


def test_the_verb_prints_the_counts(tree: Path, capsys):
    from bqat.cli import main

    assert main(["inputs", str(tree), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["folder"] for row in rows] == ["empty", "faces", "voices", f"(all of {tree})"]
    assert rows[1]["face"] == 3 and rows[2]["speech"] == 2 and rows[3]["fingerprint"] == 4
