"""The hostile corpus scanned for real (the scan-dataset flow, in process): every file ends as
the row or the error row it is owed, a loop or an unreadable corner never fails the scan, and
nothing but the valid files is stored.

Unreadable files and folders are made with chmod; running as root (which ignores modes), the
same errors are raised where the scan meets them (hashing, listing a folder).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from corpus import LIST_CASES, folder_cases

import bqat
from bqat.outliers import read_outliers
from bqat.report_files import report_path
from bqat.store import Store


@pytest.fixture
def face(samples: Path) -> bytes:
    return (samples / "face" / "268284860_1.jpg").read_bytes()


@pytest.fixture
def hostile(tmp_path: Path, face: bytes, monkeypatch: pytest.MonkeyPatch):
    """The scanned folder with every case in it, and the cases."""
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(face)
    cases = folder_cases(face)
    for case in cases:
        case.make(root / case.name, outside)
    locked = {root / c.name for c in cases if c.unreadable}
    for path in locked:
        path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: fail where a real permission error would
        _refuse_as_root(monkeypatch, locked)
    yield root, cases
    for path in locked:
        path.chmod(0o755)


def _refuse_as_root(monkeypatch: pytest.MonkeyPatch, locked: set[Path]) -> None:
    import bqat.scanning

    real_hash, real_scandir = bqat.scanning.file_sha256, os.scandir

    def file_sha256(path):
        if Path(path) in locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_hash(path)

    def scandir(path="."):
        if Path(path) in locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(bqat.scanning, "file_sha256", file_sha256)
    monkeypatch.setattr(os, "scandir", scandir)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_symlink())


@pytest.mark.timeout(240)
def test_every_hostile_file_ends_as_its_row_or_error_row(hostile):
    root, cases = hostile
    before = _listing(root)
    summary = bqat.scan(root, "face", dataset_id="hostile")

    store = Store()
    rows = {r["file"]: r for r in store.profiles("hostile").items}
    errors = {e["file"]: e["reason"] for e in store.errors("hostile")}
    expected_rows = {c.name for c in cases if c.outcome == "row"}
    expected_errors = {c.name: c.reason for c in cases if c.outcome == "error"}
    assert set(rows) == expected_rows
    assert set(errors) == set(expected_errors)
    for name, part in expected_errors.items():
        assert part in errors[name], (name, errors[name])
    assert (summary.discovered, summary.assessed, summary.failed, summary.skipped) == (
        len(expected_rows) + len(expected_errors),
        len(expected_rows),
        len(expected_errors),
        0,
    )
    # Pixels as a viewer shows them: EXIF orientation applied, 16-bit, CMYK, alpha decoded.
    good = rows["good.jpg"]
    assert good["face_count"] == 1
    rotated = rows["exif_rotated.jpg"]
    assert (rotated["image_width"], rotated["image_height"]) == (
        good["image_width"] // 3,
        good["image_height"] // 3,
    )
    for name in ("grey16.png", "cmyk.jpg", "rgba.png", "grey.png", "animated_gif.png"):
        assert rows[name]["face_count"] == 1, name
    assert rows["one_pixel.png"]["face_count"] == 0
    # The scan's report and outlier detection ran on this dataset too.
    assert report_path("hostile").is_file() and read_outliers("hostile") is not None
    # Only the dataset is stored, and the scanned folder is as it was.
    assert [d.dataset_id for d in store.datasets()] == ["hostile"]
    assert _listing(root) == before

    again = bqat.scan(root, "face", dataset_id="hostile")  # rows skipped, errors retried
    assert (again.skipped, again.assessed, again.failed) == (
        len(expected_rows),
        0,
        len(expected_errors),
    )
    assert store.profiles("hostile").total == len(expected_rows)


@pytest.mark.timeout(180)
def test_each_entry_of_a_file_list_ends_as_a_row_or_an_error_row(hostile):
    from flows.scan import scan_dataset

    root, _ = hostile
    entries = [case.entry for case in LIST_CASES]
    summary = scan_dataset(str(root), "face", dataset_id="listed", files=entries)
    store = Store()
    rows = {r["file"] for r in store.profiles("listed").items}
    errors = {e["file"]: e["reason"] for e in store.errors("listed")}
    assert rows == {c.entry for c in LIST_CASES if c.outcome == "row"}
    assert set(errors) == {c.entry for c in LIST_CASES if c.outcome == "error"}
    for case in LIST_CASES:
        if case.outcome == "error":
            assert case.reason in errors[case.entry], (case.entry, errors[case.entry])
    assert summary.discovered == len(LIST_CASES)
