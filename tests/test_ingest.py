"""Discovery: extensions, recursion, patterns, and symlinks that never leave the folder."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bqat import ConfigError, NotFoundError
from bqat.exceptions import AccessError
from bqat.ingest import BROKEN, LOOP, OUTSIDE, discover, discover_all


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "data"
    (root / "sub" / "deeper").mkdir(parents=True)
    for name in (
        "a.JPG",
        "b.png",
        "notes.txt",
        "sub/c.jpeg",
        "sub/deeper/d.bmp",
        "sub/e.tally",
        "sub/x.webp",
    ):
        (root / name).write_bytes(b"x" + name.encode())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"secret")
    return root, outside


def names(samples):
    return [s.name for s in samples]


def test_images_are_found_recursively_by_extension_in_any_case(tree, tally_modality):
    root, _ = tree
    assert names(discover(root, "face")) == [
        "a.JPG",
        "b.png",
        "sub/c.jpeg",
        "sub/deeper/d.bmp",
        "sub/x.webp",
    ]
    assert names(discover(root, tally_modality)) == ["sub/e.tally"]  # the engine's extensions


def test_a_pattern_selects_by_relative_name(tree):
    root, _ = tree
    assert names(discover(root, "face", pattern=r"^sub/.*\.(jpeg|bmp)$")) == [
        "sub/c.jpeg",
        "sub/deeper/d.bmp",
    ]
    with pytest.raises(ConfigError, match="invalid pattern"):
        discover(root, "face", pattern="(")


def test_symlinks_leaving_the_folder_or_looping_are_not_followed(tree):
    root, outside = tree
    os.symlink(outside / "secret.jpg", root / "link.jpg")
    os.symlink(outside, root / "outside_dir")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "b.png", root / "sub" / "same.png")
    found = names(discover(root, "face"))
    assert "link.jpg" not in found and not any("secret" in n for n in found)
    assert not any(n.startswith("sub/loop") for n in found)
    assert found.count("b.png") + found.count("sub/same.png") == 1


def test_a_file_list_is_read_relative_to_the_folder(tree):
    root, _ = tree
    assert names(discover(root, "face", files=["sub/c.jpeg", "notes.txt", "missing.jpg"])) == [
        "sub/c.jpeg"
    ]
    for bad in ("/etc/passwd", "../outside/secret.jpg"):
        with pytest.raises(ConfigError, match="relative"):
            discover(root, "face", files=[bad])


def test_a_missing_folder_is_not_found(tmp_path):
    with pytest.raises(NotFoundError):
        discover(tmp_path / "absent", "face")


def reasons(found):
    return {s.name: s.reason for s in found.skipped}


def test_a_symlink_loop_is_reported_and_the_rest_is_found(tree):
    """`Path.resolve` raises RuntimeError on a loop (Python 3.11): one loop failed a scan."""
    root, outside = tree
    os.symlink("loop_b.jpg", root / "loop_a.jpg")
    os.symlink("loop_a.jpg", root / "loop_b.jpg")
    os.symlink("gone.jpg", root / "broken.jpg")
    os.symlink("self", root / "sub" / "self")  # a looping link without an image extension
    os.symlink(outside / "secret.jpg", root / "out.jpg")
    os.symlink(outside, root / "out_dir")
    found = discover_all(root, "face")
    assert names(found.samples) == [
        "a.JPG",
        "b.png",
        "sub/c.jpeg",
        "sub/deeper/d.bmp",
        "sub/x.webp",
    ]
    assert reasons(found) == {
        "broken.jpg": BROKEN,
        "loop_a.jpg": LOOP,
        "loop_b.jpg": LOOP,
        "out.jpg": OUTSIDE,
        "out_dir": OUTSIDE,
    }


def test_an_unreadable_sub_folder_is_reported(tree, monkeypatch):
    root, _ = tree
    real = os.scandir
    locked = root / "sub" / "deeper"

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover_all(root, "face")
    assert "sub/deeper/d.bmp" not in names(found.samples)
    assert reasons(found) == {"sub/deeper": "cannot read folder: Permission denied"}
    monkeypatch.setattr(
        os, "scandir", lambda path=".": scandir(locked) if Path(path) == root else real(path)
    )
    with pytest.raises(AccessError, match="cannot read folder"):
        discover_all(root, "face")


def test_each_listed_entry_is_a_sample_or_skipped_with_its_reason(tree):
    root, outside = tree
    os.symlink(outside / "secret.jpg", root / "out.jpg")
    os.symlink("loop.jpg", root / "loop.jpg")
    found = discover_all(
        root,
        "face",
        files=["sub/c.jpeg", "sub", "notes.txt", "missing.jpg", "out.jpg", "loop.jpg", "a.JPG"],
    )
    assert names(found.samples) == ["a.JPG", "sub/c.jpeg"]
    got = reasons(found)
    assert set(got) == {"sub", "notes.txt", "missing.jpg", "out.jpg", "loop.jpg"}
    assert got["sub"].startswith("a folder in a file list")
    assert got["notes.txt"].startswith("not a face file: the extension '.txt'")
    assert (got["missing.jpg"], got["out.jpg"], got["loop.jpg"]) == ("no such file", OUTSIDE, LOOP)


def test_a_scan_folder_that_is_a_loop_is_not_found(tmp_path):
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(NotFoundError, match="symbolic link loop"):
        discover_all(tmp_path / "loop", "face")
