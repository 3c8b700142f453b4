"""Discovery: extensions, recursion, patterns, and symlinks that never leave the folder."""

from __future__ import annotations

import os

import pytest

from bqat import ConfigError, NotFoundError
from bqat.ingest import discover


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
