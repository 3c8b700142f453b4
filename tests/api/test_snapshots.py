"""/scan/{id}/history, ?as_of= on profiles and errors, and DELETE /datasets/{id} purging."""

from __future__ import annotations

from bqat.store import Store


def test_history_names_snapshots_that_profiles_read_back(client):
    store = Store()
    store.create_dataset("ds", "face")
    store.append("ds", rows=[{"file": "a.jpg", "sha256": "0" * 64, "ipd": 40}])
    store.append(
        "ds",
        rows=[{"file": "a.jpg", "sha256": "1" * 64, "ipd": 41}],
        errors=[{"file": "b.jpg", "sha256": None, "reason": "truncated"}],
    )
    history = client.get("/scan/ds/history").json()
    assert [(h["added"], h["changed"], h["removed"]) for h in history] == [
        (0, 0, 0),
        (1, 0, 0),
        (1, 1, 0),
    ]
    first = history[1]
    assert set(first) == {"snapshot", "time", "flow_run", "added", "changed", "removed"}
    past = client.get("/scan/ds/profiles", params={"as_of": first["snapshot"]}).json()
    assert [r["ipd"] for r in past["items"]] == [40]
    assert client.get("/scan/ds/profiles", params={"as_of": first["time"]}).json() == past
    assert client.get("/scan/ds/errors", params={"as_of": first["snapshot"]}).json() == []
    assert [r["ipd"] for r in client.get("/scan/ds/profiles").json()["items"]] == [41]
    assert client.get("/scan/ds/profiles", params={"as_of": "soon"}).status_code == 422
    assert client.get("/scan/ds/profiles", params={"as_of": 10**6}).status_code == 404
    assert client.get("/scan/nope/history").status_code == 404
    assert client.delete("/datasets/ds").status_code == 204
    assert client.get("/scan/ds/profiles", params={"as_of": first["snapshot"]}).status_code == 404
    assert client.get("/scan/ds/history").json()[-1]["removed"] == 2


def test_drift_reference_names_a_past_snapshot_strictly(client):
    store = Store()
    store.create_dataset("ds", "face")
    for ipd in (40, 41):
        store.append("ds", rows=[{"file": "a.jpg", "sha256": f"{ipd:064d}", "ipd": ipd}])
    first = store.history("ds")[1]
    pinned = f"ds@{first['snapshot']}"
    started = client.get("/scan/ds/drift", params={"reference": pinned})
    assert started.status_code == 202, started.text
    tid = started.json()["tid"]
    try:  # a time names that snapshot: the run already making it
        by_time = client.get("/scan/ds/drift", params={"reference": f"ds@{first['time']}"})
        assert by_time.json() == {"tid": tid}
    finally:
        client.post(f"/task/{tid}/cancel")
    for malformed in ("ds@", "ds@soon", "ds@1@2", "../ds@1"):
        refused = client.get("/scan/ds/drift", params={"reference": malformed})
        assert refused.status_code == 422 and refused.json()["detail"], malformed
    missing = client.get("/scan/ds/drift", params={"reference": "ds@999999"})
    assert missing.status_code == 404 and "no snapshot 999999" in missing.json()["detail"]
