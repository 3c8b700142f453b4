"""Upkeep of the store (merges, expiry, clean-up), and the refusal of the old layout."""

from __future__ import annotations

import time

import pytest

from bqat import ConfigError
from bqat.store import Store


def row(file: str, **measures) -> dict:
    return {"file": file, "sha256": "a" * 64, "engine_version": "test", **measures}


def test_maintenance_merges_expires_and_cleans_up_without_changing_a_row(tmp_path):
    store = Store(tmp_path / "store")
    store.create_dataset("ds", "face")
    for i in range(4):
        store.append("ds", rows=[row("same.jpg", ipd=i), *(row(f"{i}-{j}.jpg") for j in range(12))])
    before = store.profiles("ds", order_by=["file"]).items
    old = store.history("ds")[1]["snapshot"]
    parquet = lambda: sorted(p for p in (tmp_path / "store" / "data").rglob("*.parquet"))  # noqa: E731
    written = parquet()
    time.sleep(0.05)
    store.maintain(keep_days=0.01 / 86400, grace_s=0)  # everything but the latest snapshot
    assert Store(store.root).profiles("ds", order_by=["file"]).items == before
    assert len(store.files("ds")) == 1
    assert [h["snapshot"] for h in store.history("ds")] == []  # the appends' snapshots expired
    with pytest.raises(Exception, match="no snapshot"):
        store.profiles("ds", as_of=old)
    assert not set(written) & set(parquet())  # the merged files are gone from the disk


def test_a_store_of_the_old_layout_is_refused_and_left_untouched(tmp_path, set_env, capsys):
    from bqat.cli import main

    home = tmp_path / "home"
    old = home / "store" / "audit"
    (old / "rows").mkdir(parents=True)
    (old / "dataset.json").write_text('{"modality": "face", "created": "2026-01-01T00:00:00"}')
    (old / "rows" / "1.parquet").write_bytes(b"PAR1")
    set_env(BQAT_HOME=str(home))
    before = sorted((p, p.read_bytes() if p.is_file() else None) for p in home.rglob("*"))
    with pytest.raises(ConfigError, match="old layout") as refused:
        Store()
    assert str(home / "store") in str(refused.value)
    assert main(["datasets", "list"]) == 2
    assert f"{home / 'store'} holds a store in the old layout" in capsys.readouterr().err
    from api.app import create_app

    with pytest.raises(ConfigError, match="old layout"):
        create_app()
    assert sorted((p, p.read_bytes() if p.is_file() else None) for p in home.rglob("*")) == before
