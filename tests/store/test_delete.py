"""Deleting a dataset leaves none of its values in any data file or catalog row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bqat import NotFoundError
from bqat.store import Store

NAMES = [f"subject-{i:03d}-left.jpg" for i in range(40)]
HASHES = [f"{i:02x}" + "5eca" * 15 + "ff" for i in range(40)]


def row(file: str, sha: str, **measures) -> dict:
    return {"file": file, "sha256": sha, "engine_version": "test", **measures}


def found_in(root: Path, needles: list[str]) -> list[str]:
    """Where under `root` any needle occurs: Parquet column by column, the SQLite catalog
    table by table and byte by byte (free pages and the WAL included), other files as bytes."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                text = "\n".join(map(str, table.column(name).to_pylist()))
                hits += [f"{path.name}:{name}:{n}" for n in needles if n in text]
        elif path.name == "catalog.sqlite":
            with sqlite3.connect(path) as db:
                tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for (table,) in tables.fetchall():
                    text = repr(db.execute(f'SELECT * FROM "{table}"').fetchall())
                    hits += [f"catalog:{table}:{n}" for n in needles if n in text]
        data = path.read_bytes()
        hits += [f"{path.name}:bytes:{n}" for n in needles if n.encode() in data]
    return hits


def test_a_deleted_dataset_leaves_no_value_in_any_file_or_catalog_row(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("gone", "face", source=tmp_path / "subject-folder")
    store.create_dataset("kept", "face")
    store.append("gone", rows=[row(n, h, ipd=1) for n, h in zip(NAMES[:3], HASHES, strict=False)])
    store.append("kept", rows=[row("other.jpg", "0" * 64, ipd=5)])
    store.append("gone", rows=[row(n, h, ipd=2) for n, h in zip(NAMES, HASHES, strict=True)])
    store.append("gone", errors=[{"file": NAMES[5], "sha256": HASHES[5], "reason": "broken"}])
    store.compact("gone")  # old files stay for time travel until their snapshots expire
    store.append("gone", rows=[row(NAMES[0], HASHES[0], ipd=3)])
    needles = [*NAMES, *HASHES, "subject-folder"]
    assert found_in(store.root, needles)
    history = store.history("kept")

    store.delete_dataset("gone")

    assert found_in(store.root, needles) == []
    assert [d.dataset_id for d in store.datasets()] == ["kept"]
    with pytest.raises(NotFoundError):
        store.profiles("gone")
    with pytest.raises(NotFoundError):
        store.delete_dataset("gone")
    assert [r["file"] for r in Store(store.root).profiles("kept").items] == ["other.jpg"]
    assert store.history("gone") == [store.history("gone")[-1]]  # the deletion itself
    assert store.history("gone")[-1]["removed"] == 40
    # Snapshots are the store's, not a dataset's: those that held the deleted rows are gone,
    # and with them the past states of other datasets in that time; their rows stay.
    with pytest.raises(NotFoundError):
        store.profiles("kept", as_of=history[-1]["snapshot"])


def test_a_deletion_cut_short_is_finished_by_the_maintenance(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("gone", "face")
    store.append("gone", rows=[row(n, h) for n, h in zip(NAMES, HASHES, strict=True)])
    with store._cursor() as (cur, lk):
        cur.execute(f"DROP TABLE {lk}.gone")  # the process died before the purge
    assert found_in(store.root, NAMES)
    store.maintain(keep_days=90)
    assert found_in(store.root, [*NAMES, *HASHES]) == []
