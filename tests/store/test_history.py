"""History and time travel: every commit is a snapshot that names its dataset and flow run."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import bqat.store.store as module
from bqat import ConfigError, NotFoundError
from bqat.store import Store


def row(file: str, **measures) -> dict:
    return {"file": file, "sha256": "a" * 64, "engine_version": "test", **measures}


@pytest.fixture
def store(tmp_path) -> Store:
    created = Store(tmp_path / "store")
    created.create_dataset("ds", "face")
    return created


def test_each_batch_is_a_snapshot_that_can_be_read_back(store):
    store.append("ds", rows=[row("a.jpg", ipd=1), row("b.jpg", ipd=2)])
    first = store.history("ds")[-1]
    time.sleep(0.01)
    between = datetime.now(UTC).isoformat()
    store.append(
        "ds",
        rows=[row("a.jpg", ipd=10), row("c.jpg", ipd=3)],
        errors=[{"file": "b.jpg", "sha256": None, "reason": "broken now"}],
    )
    history = store.history("ds")
    assert [(h["added"], h["changed"], h["removed"]) for h in history] == [
        (0, 0, 0),  # the dataset's creation
        (2, 0, 0),
        (1, 2, 0),
    ]
    assert history[1] == first and first["flow_run"] is None
    assert datetime.fromisoformat(first["time"]) < datetime.fromisoformat(history[2]["time"])

    def ipds(**kwargs):
        return {r["file"]: r["ipd"] for r in store.profiles("ds", **kwargs).items}

    assert ipds() == {"a.jpg": 10, "c.jpg": 3}
    for as_of in (first["snapshot"], str(first["snapshot"]), between):
        assert ipds(as_of=as_of) == {"a.jpg": 1, "b.jpg": 2}, as_of
        assert store.errors("ds", as_of=as_of) == []
        assert store.dataset("ds", as_of=as_of).rows == 2
    assert store.errors("ds") == [{"file": "b.jpg", "reason": "broken now"}]
    assert ipds(as_of=history[0]["snapshot"]) == {}


def test_as_of_refuses_what_it_cannot_name(store):
    with pytest.raises(NotFoundError, match="no snapshot 999"):
        store.profiles("ds", as_of=999)
    with pytest.raises(NotFoundError, match="no snapshot at or before"):
        store.profiles("ds", as_of="2000-01-01T00:00:00Z")
    with pytest.raises(ConfigError, match="neither a snapshot id nor an ISO 8601 time"):
        store.profiles("ds", as_of="yesterday")
    store.create_dataset("later", "face")
    with pytest.raises(NotFoundError, match="unknown dataset later at snapshot"):
        store.profiles("later", as_of=store.history("ds")[0]["snapshot"])
    with pytest.raises(NotFoundError):
        store.history("absent")


def test_the_commits_of_one_flow_run_are_one_entry(store, monkeypatch):
    monkeypatch.setattr(module, "_flow_run", lambda: "run-1")
    store.append("ds", rows=[row("a.jpg")])
    store.append("ds", rows=[row("b.jpg"), row("a.jpg")])
    monkeypatch.setattr(module, "_flow_run", lambda: "run-2")
    store.append("ds", rows=[row("b.jpg")])
    history = store.history("ds")
    assert [(h["flow_run"], h["added"], h["changed"]) for h in history] == [
        (None, 0, 0),
        ("run-1", 2, 1),
        ("run-2", 0, 1),
    ]
    runs = {h["flow_run"]: h["snapshot"] for h in history}
    assert store.profiles("ds", as_of=runs["run-1"]).total == 2


def test_a_reader_never_sees_the_older_of_two_racing_events(store, monkeypatch):
    """Two writers insert the same new file at once (no row to delete: both commits succeed):
    readers see the later event, and the next batch of that file leaves one row."""
    store.append("ds", rows=[row("a.jpg", ipd=1)])
    with store._cursor() as (cur, lk):  # the older event, committed last
        older = {**row("a.jpg", ipd=0), "dataset_id": "ds", "scanned_at": datetime(2000, 1, 1)}
        columns = ", ".join(older)
        cur.execute(
            f"INSERT INTO {lk}.ds ({columns}) VALUES ({', '.join('?' * len(older))})",
            list(older.values()),
        )
    assert [r["ipd"] for r in Store(store.root).profiles("ds").items] == [1]
    store.append("ds", rows=[row("a.jpg", ipd=2)])
    with store._cursor() as (cur, lk):
        assert cur.execute(f"SELECT count(*) FROM {lk}.ds").fetchone()[0] == 1


def test_the_cli_lists_history_and_datasets(capsys):
    import json

    from bqat.cli import main

    store = Store()
    store.create_dataset("ds", "face")
    store.append("ds", rows=[row("a.jpg")])
    assert main(["history", "ds", "--json"]) == 0
    assert [h["added"] for h in json.loads(capsys.readouterr().out)] == [0, 1]
    assert main(["datasets", "list", "--json"]) == 0
    assert [d["dataset_id"] for d in json.loads(capsys.readouterr().out)] == ["ds"]
    assert main(["history", "nope"]) == 2


def test_a_dataset_at_a_snapshot_is_named_id_at_snapshot(store):
    store.append("ds", rows=[row("a.jpg", ipd=1)])
    snapshot = store.history("ds")[-1]["snapshot"]
    store.append("ds", rows=[row("a.jpg", ipd=2)])
    assert store.table(f"ds@{snapshot}", ["ipd"]).column(0).to_pylist() == [1]
    assert store.dataset(f"ds@{snapshot}").modality == "face"
    assert store.table("ds", ["ipd"]).column(0).to_pylist() == [2]
