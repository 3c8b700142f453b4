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
