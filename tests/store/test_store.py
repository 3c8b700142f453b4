"""The DuckLake store: latest event per file, safe queries, compaction, other processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pytest

from bqat import ConfigError, NotFoundError
from bqat.store import Filter, Store


@pytest.fixture
def store(tmp_path) -> Store:
    created = Store(tmp_path / "store")
    created.create_dataset("ds", "face")
    return created


def row(file: str, sha: str = "a" * 64, **measures) -> dict:
    return {
        "file": file,
        "sha256": sha,
        "engine_version": "test",
        "models": {},
        "options": {},
        **measures,
    }


def test_rows_and_errors_come_back_with_their_bookkeeping(store):
    store.append(
        "ds",
        rows=[row("a.jpg", ipd=60), row("b.jpg", ipd=70)],
        errors=[{"file": "c.png", "sha256": None, "reason": "truncated"}],
    )
    page = store.profiles("ds")
    assert page.total == 2
    assert [(r["file"], r["ipd"], r["dataset_id"]) for r in page.items] == [
        ("a.jpg", 60, "ds"),
        ("b.jpg", 70, "ds"),
    ]
    assert page.items[0]["scanned_at"].endswith("+00:00")
    assert page.items[0]["yaw_degree"] is None
    assert page.items[0]["measure_errors"] is None  # not given: unknown, not "none failed"
    assert store.errors("ds") == [{"file": "c.png", "reason": "truncated"}]
    info = store.dataset("ds")
    assert (info.modality, info.rows, info.errors) == ("face", 2, 1)


def test_the_object_columns_come_back_as_objects_and_export_as_json_text(store):
    failed = {"iso_sharpness": "ZeroDivisionError: division by zero"}
    store.append(
        "ds",
        rows=[
            {
                **row("a.jpg"),
                "models": {"face_mesh": "b" * 64},
                "options": {"confidence": 0.5},
                "measure_errors": failed,
            }
        ],
    )
    item = store.profiles("ds").items[0]
    assert item["models"] == {"face_mesh": "b" * 64}
    assert item["options"] == {"confidence": 0.5}
    assert item["measure_errors"] == failed
    table, _ = store.rows("ds")
    assert json.loads(table.column("measure_errors")[0].as_py()) == failed


def test_the_latest_event_per_file_wins(store):
    store.append("ds", rows=[row("a.jpg", sha="1" * 64, ipd=60), row("b.jpg", ipd=50)])
    store.append(
        "ds",
        rows=[row("a.jpg", sha="2" * 64, ipd=61)],
        errors=[{"file": "b.jpg", "sha256": "3" * 64, "reason": "now broken"}],
    )
    assert [(r["file"], r["ipd"]) for r in store.profiles("ds").items] == [("a.jpg", 61)]
    assert store.errors("ds") == [{"file": "b.jpg", "reason": "now broken"}]
    assert store.stored_hashes("ds") == {"a.jpg": "2" * 64}
    store.append("ds", rows=[row("b.jpg", ipd=52)])
    assert store.errors("ds") == []
    assert store.stored_hashes("ds") == {"a.jpg": "2" * 64, "b.jpg": "a" * 64}


def test_pages_are_ordered_filtered_and_counted(store):
    store.append(
        "ds",
        rows=[
            row(f"{i:02d}.jpg", ipd=i % 5, yaw_pose="Left" if i % 2 else "Right") for i in range(20)
        ],
    )
    page = store.profiles("ds", offset=2, limit=3, order_by=["-ipd"])
    assert page.total == 20
    assert [(r["ipd"], r["file"]) for r in page.items] == [
        (4, "14.jpg"),
        (4, "19.jpg"),
        (3, "03.jpg"),
    ]
    filtered = store.profiles(
        "ds", filters=[Filter("yaw_pose", "=", "Left"), Filter("ipd", ">=", 3)]
    )
    assert sorted(r["file"] for r in filtered.items) == ["03.jpg", "09.jpg", "13.jpg", "19.jpg"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order_by": ["ipd; DROP TABLE x"]}, "cannot order by"),
        ({"order_by": ["nope"]}, "cannot order by"),
        ({"filters": [Filter("ipd) OR (1=1", "=", 1)]}, "cannot filter on"),
        ({"filters": [Filter("ipd", "LIKE", 1)]}, "operator"),
        ({"filters": [Filter("ipd", ">=", "x")]}, "cannot compare"),
        ({"offset": -1}, "negative"),
    ],
)
def test_bad_queries_are_refused_before_any_sql_runs(store, kwargs, message):
    store.append("ds", rows=[row("a.jpg", ipd=1)])
    with pytest.raises(ConfigError, match=message):
        store.profiles("ds", **kwargs)


def test_filter_values_are_bound_not_spliced(store):
    store.append("ds", rows=[row("a.jpg", yaw_pose="Left")])
    assert store.profiles("ds", filters=[Filter("yaw_pose", "=", "x' OR '1'='1")]).total == 0


def test_compaction_keeps_the_answers_and_leaves_one_data_file(store):
    for i in range(5):
        store.append(
            "ds",
            rows=[row("a.jpg", ipd=i), *(row(f"{i}-{j}.jpg", ipd=i) for j in range(12))],
            errors=[{"file": f"bad{i}.png", "sha256": None, "reason": "x"}],
        )
    assert len(store.files("ds")) == 5
    before = (store.profiles("ds", order_by=["file"]).items, store.errors("ds"))
    assert store.compact("ds")
    assert len(store.files("ds")) == 1
    after = (Store(store.root).profiles("ds", order_by=["file"]).items, store.errors("ds"))
    assert after == before


def test_a_batch_of_one_row_is_a_data_file_of_its_own(store):
    # Not inlined in the catalog: readers beside a compaction's flush of inlined rows lost them.
    store.append("ds", rows=[row("a.jpg")])
    store.append("ds", errors=[{"file": "b.png", "sha256": None, "reason": "x"}])
    assert len(store.files("ds")) == 2


def test_a_dataset_remembers_the_folders_given_when_it_is_made_or_made_again(store, tmp_path):
    store.create_dataset("new", "face", source=tmp_path / "first")
    store.create_dataset("new", "face", source=tmp_path / "second")
    store.create_dataset("new", "face", source=tmp_path / "first")
    store.create_dataset("new", "face", source=tmp_path / "third")
    expected = [tmp_path / "first", tmp_path / "second", tmp_path / "third"]
    assert Store(store.root).sources("new") == expected


def test_a_measure_declared_later_is_a_new_nullable_column(store, monkeypatch):
    import bqat.store.store as module

    full = module.row_schema("face")
    older = pa.schema([f for f in full if f.name != "yaw_degree"])
    monkeypatch.setattr(module, "row_schema", lambda modality: older)
    store.create_dataset("old", "face")
    store.append("old", rows=[row("old.jpg", ipd=42)])
    assert "yaw_degree" not in store.profiles("old").items[0]
    monkeypatch.setattr(module, "row_schema", lambda modality: full)
    fresh = Store(store.root)
    assert fresh.profiles("old").items[0]["yaw_degree"] is None  # read before the column exists
    fresh.append("old", rows=[row("new.jpg", ipd=1, yaw_degree=3.5)])
    items = {r["file"]: r for r in fresh.profiles("old").items}
    assert items["old.jpg"]["ipd"] == 42 and items["old.jpg"]["yaw_degree"] is None
    assert items["new.jpg"]["yaw_degree"] == 3.5


def test_unknown_columns_are_refused(store):
    with pytest.raises(ConfigError, match="unknown columns"):
        store.append("ds", rows=[row("a.jpg", not_a_measure=1)])
    with pytest.raises(ConfigError, match="unknown columns"):
        store.append("ds", rows=pa.table({"file": ["a.jpg"], "not_a_measure": [1]}))


def test_a_writer_sees_its_dataset_dropped_or_made_again_by_another_store(store):
    """A store keeps the columns of the datasets it wrote to; another one may drop a dataset
    or make it again with another modality meanwhile."""
    store.append("ds", rows=[row("a.jpg", ipd=1)])
    other = Store(store.root)
    other.delete_dataset("ds")
    with pytest.raises(NotFoundError):
        store.append("ds", rows=[row("b.jpg", ipd=2)])
    other.create_dataset("ds", "iris")
    with pytest.raises(ConfigError, match="unknown columns for the store: ipd"):
        store.append("ds", rows=[row("b.jpg", ipd=2)])
    other.delete_dataset("ds")
    other.create_dataset("ds", "face")
    store.append("ds", rows=[row("c.jpg", ipd=3)])
    assert [(r["file"], r["ipd"]) for r in other.profiles("ds").items] == [("c.jpg", 3)]


def test_objects_shared_by_the_rows_of_a_batch_are_stored_in_each_row(store):
    shared = {"face_mesh": "b" * 64}
    failures = [{}, {"ipd": "no face"}, {}, None]
    rows = [
        {**row(f"{i}.jpg"), "models": shared, "options": shared, "measure_errors": failed}
        for i, failed in enumerate(failures)
    ]
    store.append("ds", rows=rows)
    items = store.profiles("ds", order_by=["file"]).items
    assert [item["measure_errors"] for item in items] == failures
    assert all(item["models"] == item["options"] == shared for item in items)


def test_a_batch_of_columns_is_stored_like_the_same_records(store):
    """A columnar caller hands over one Arrow table (JSON columns as text): no per-row work."""
    records = [row("a.jpg", ipd=60, models={"m": "1"}, yaw_pose="Right"), row("b.jpg", ipd=61)]
    store.create_dataset("columns", "face")
    store.append("ds", rows=records)
    table = pa.Table.from_pylist([{**r, "models": json.dumps(r["models"])} for r in records])
    store.append("columns", rows=table.drop_columns(["options"]))
    stored = store.profiles("columns").items
    expected = store.profiles("ds").items
    for item in (*stored, *expected):
        del item["dataset_id"], item["scanned_at"], item["options"]
    assert stored == expected and stored[0]["models"] == {"m": "1"}


def test_datasets_are_listed_checked_and_deleted(store):
    assert store.create_dataset("ds", "face").modality == "face"
    with pytest.raises(ConfigError, match="invalid dataset id"):
        store.create_dataset("../escape", "face")
    with pytest.raises(ConfigError, match="unknown modality 'retina'"):
        store.create_dataset("other", "retina")
    with pytest.raises(NotFoundError):
        store.profiles("absent")
    assert [d.dataset_id for d in store.datasets()] == ["ds"]
    store.delete_dataset("ds")
    assert store.datasets() == []
    with pytest.raises(NotFoundError):
        store.delete_dataset("ds")


def test_a_new_dataset_is_described_as_a_fresh_reader_reads_it(store):
    made = store.create_dataset("new", "iris")
    assert (made.rows, made.errors) == (0, 0)
    assert Store(store.root).dataset("new") == made
    store.append("new", rows=[row("a.png")])
    again = store.create_dataset("new", "iris")  # exists: read back, with its row
    assert (again.created, again.rows) == (made.created, 1)


def test_a_dataset_keeps_its_modality(store):
    with pytest.raises(ConfigError, match="holds face samples, not iris"):
        store.create_dataset("ds", "iris")
    assert Store(store.root).dataset("ds").modality == "face"


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bqat.store import Store
    store = Store(Path(sys.argv[1]))
    for batch in range(int(sys.argv[2])):
        rows = [{"file": f"{batch}-{i}.jpg", "sha256": "a" * 64, "ipd": i} for i in range(50)]
        store.append("ds", rows=rows)
        time.sleep(0.02)
    """
)


def test_one_process_writes_batches_while_another_queries(store):
    batches = 20
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store.root), str(batches)])
    totals = []
    try:
        deadline = time.monotonic() + 60
        while writer.poll() is None and time.monotonic() < deadline:
            totals.append(store.profiles("ds", limit=10, order_by=["-ipd"]).total)
            if len(totals) % 4 == 0:
                store.compact("ds")
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    assert len(totals) > 3, "the reader never ran while the writer was writing"
    assert totals == sorted(totals), "a reader saw rows disappear"
    assert all(t % 50 == 0 for t in totals), "a reader saw half a batch"
    assert store.profiles("ds").total == batches * 50


def test_a_cached_reader_sees_every_later_batch_like_a_fresh_reader(store, monkeypatch):
    import bqat.store.store as module

    store.append("ds", rows=[row(f"{i}.jpg", ipd=i) for i in range(6)])
    assert store.profiles("ds").total == 6  # the reader now holds a snapshot
    loads = []
    real = module._Entry._load
    monkeypatch.setattr(module._Entry, "_load", lambda e, *a: loads.append(e) or real(e, *a))
    steps = [
        {"rows": [row("6.jpg", ipd=6)]},  # a new file
        {"rows": [row("2.jpg", ipd=20)]},  # a changed file
        {"errors": [{"file": "3.jpg", "sha256": None, "reason": "broken now"}]},
        {
            "rows": [row("3.jpg", ipd=30), row("7.jpg", ipd=7)],
            "errors": [{"file": "8.png", "sha256": None, "reason": "x"}],
        },
    ]
    for step in steps:
        store.append("ds", **step)
        cached = store.profiles("ds", order_by=["-ipd"]).items
        fresh = Store(store.root).profiles("ds", order_by=["-ipd"]).items
        assert [(r["file"], r["ipd"]) for r in cached] == [(r["file"], r["ipd"]) for r in fresh]
        assert store.errors("ds") == Store(store.root).errors("ds")
    assert len(loads) == 2 * len(steps)  # the fresh readers only: the cached one extends
    assert [r["ipd"] for r in store.profiles("ds", order_by=["-ipd"]).items] == [
        30,
        20,
        7,
        6,
        5,
        4,
        1,
        0,
    ]
    store.compact("ds")
    assert [r["ipd"] for r in store.profiles("ds", order_by=["-ipd"]).items] == [
        30,
        20,
        7,
        6,
        5,
        4,
        1,
        0,
    ]


def test_a_cached_reader_agrees_with_a_model_of_events_through_compactions(store):
    """Random batches of rows and errors, and compactions; answers follow a plain dict."""
    rng = random.Random(7)
    files = [f"{i:02d}.jpg" for i in range(12)]
    expected: dict[str, tuple[str, object]] = {}  # file -> ("row", ipd) or ("error", reason)
    for step in range(25):
        action = rng.random()
        if action < 0.1:
            store.compact("ds")
        else:
            row_files = rng.sample(files, rng.randint(0, 3))
            error_files = rng.sample(files, rng.randint(0, 2))
            rows = [row(f, ipd=step * 100 + i) for i, f in enumerate(row_files)]
            errors = [{"file": f, "sha256": None, "reason": f"bad {step}"} for f in error_files]
            store.append("ds", rows=rows, errors=errors)
            expected.update({r["file"]: ("row", r["ipd"]) for r in rows})
            expected.update({e["file"]: ("error", e["reason"]) for e in errors})  # ties: error
        got = {r["file"]: ("row", r["ipd"]) for r in store.profiles("ds", order_by=["-ipd"]).items}
        got.update({e["file"]: ("error", e["reason"]) for e in store.errors("ds")})
        assert got == expected, f"step {step}"
        info = store.dataset("ds")
        assert (info.rows, info.errors) == (
            sum(kind == "row" for kind, _ in expected.values()),
            sum(kind == "error" for kind, _ in expected.values()),
        )


def test_compaction_and_other_datasets_keep_a_reader_s_cached_rows(store, monkeypatch):
    import bqat.store.store as module

    for i in range(3):
        store.append("ds", rows=[row(f"{i}-{j}.jpg", ipd=i) for j in range(12)])
    assert store.profiles("ds", order_by=["-ipd"]).total == 36
    reads = []
    real = module._Entry.latest
    monkeypatch.setattr(module._Entry, "latest", lambda e, s: reads.append(e) or real(e, s))
    store.compact("ds")
    store.create_dataset("other", "face")
    store.append("other", rows=[row("x.jpg")])
    assert store.profiles("ds", order_by=["-ipd"]).total == 36
    assert [e._latest is not None for e in reads] == [True]  # served from the cache
    store.append("ds", rows=[row("new.jpg")])
    assert store.profiles("ds").total == 37


def test_a_snapshot_of_many_chunks_gathers_rows_like_a_plain_take():
    from bqat.store.store import _Latest

    chunks = [list(range(0, 5)), [], list(range(5, 12)), list(range(12, 13))]
    table = pa.Table.from_batches(
        [pa.record_batch({"file": [f"{i}" for i in c], "v": c}) for c in chunks if c]
        + [pa.record_batch({"file": pa.array([], pa.string()), "v": pa.array([], pa.int64())})]
    )
    indices = pa.array([12, 0, 7, 5, 4, 11, 3], type=pa.uint64())
    got = _Latest(table).take(indices)
    assert got.column("v").to_pylist() == [12, 0, 7, 5, 4, 11, 3]
    assert got.to_pylist() == table.combine_chunks().take(indices).to_pylist()


def test_the_extensions_are_the_signed_files_of_their_packages(store):
    with store._cursor() as (cur, _):
        loaded = cur.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded "
            "AND extension_name IN ('ducklake', 'sqlite_scanner')"
        ).fetchall()
        settings = cur.execute(
            "SELECT current_setting('allow_unsigned_extensions'), "
            "current_setting('autoinstall_known_extensions')"
        ).fetchone()
    assert sorted(loaded) == [("ducklake",), ("sqlite_scanner",)]
    assert settings == (False, False)


def test_the_shared_store_is_one_per_lake_and_releases_what_it_read(tmp_path, set_env, monkeypatch):
    import bqat.store.store as module

    monkeypatch.setattr(module, "_SHARED", {})
    set_env(BQAT_HOME=str(tmp_path / "one"))
    shared = module.shared_store()
    assert module.shared_store() is shared
    set_env(BQAT_HOME=str(tmp_path / "two"))
    assert module.shared_store() is not shared

    shared.create_dataset("ds", "face")
    shared.append("ds", rows=[row("a.jpg", ipd=1)])
    loads = []
    real = module._Entry._load
    monkeypatch.setattr(module._Entry, "_load", lambda e, *a: loads.append(e) or real(e, *a))
    assert shared.profiles("ds").total == 1
    assert shared.profiles("ds").total == 1
    assert len(loads) == 1  # held between the two reads
    shared.release("ds")
    assert shared.profiles("ds").total == 1
    assert len(loads) == 2  # read again after the release
