"""`maintain-store`: the flow that `bqat serve` schedules daily."""

from __future__ import annotations

from bqat.store import Store
from flows import names
from flows.maintain import SCHEDULE, maintain_store


def test_the_maintenance_flow_merges_the_store_and_keeps_its_rows():
    store = Store()
    store.create_dataset("ds", "face")
    for i in range(3):
        store.append("ds", rows=[{"file": f"{i}-{j}.jpg", "sha256": "a" * 64} for j in range(12)])
    assert len(store.files("ds")) == 3
    maintain_store(keep_days=30)
    assert len(store.files("ds")) == 1 and store.profiles("ds").total == 36
    assert maintain_store.name == names.MAINTAIN and SCHEDULE.split()[2:] == ["*", "*", "*"]
