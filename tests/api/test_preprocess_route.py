"""POST /preprocess/ starts a preprocess-folder run with checked parameters, refuses what POST
/scan/ refuses, and never lets two runs write one output."""

from __future__ import annotations

import uuid


def test_a_run_is_started_and_answered_with_its_default_output(client, data_root):
    body = {"input": "faces", "options": {"format": "png", "scale": 0.5}}
    created = client.post("/preprocess/", json=body)
    assert created.status_code == 202, created.text
    tid = created.json()["tid"]
    assert created.json() == {"tid": tid, "output": f"faces-prep-{uuid.UUID(tid).hex[:8]}"}
    task = client.get(f"/task/{tid}").json()
    assert (task["kind"], task["dataset_id"], task["state"]) == ("preprocess", None, "SCHEDULED")
    client.post(f"/task/{tid}/cancel")
    assert not (data_root / created.json()["output"]).exists()  # the run makes it, not the API


def test_the_output_is_refused_while_it_exists_or_another_run_writes_it(client, data_root):
    (data_root / "taken").mkdir()
    body = {"input": "faces", "output": "taken", "options": {}}
    assert client.post("/preprocess/", json=body).status_code == 409
    body = {"input": "faces", "output": "new/one", "scan": {"modality": "face", "dataset_id": "d"}}
    first = client.post("/preprocess/", json=body)
    assert first.status_code == 202 and first.json()["output"] == "new/one"
    assert client.get(f"/task/{first.json()['tid']}").json()["dataset_id"] == "d"
    second = client.post("/preprocess/", json=body)
    assert second.status_code == 409 and first.json()["tid"] in second.json()["detail"]
    scan = client.post("/scan/", json={"input": "faces", "modality": "face", "dataset_id": "d"})
    assert scan.status_code == 409 and first.json()["tid"] in scan.json()["detail"]
    client.post(f"/task/{first.json()['tid']}/cancel")


def test_what_post_scan_refuses_is_refused_alike(client, data_root, tmp_path):
    (tmp_path / "outside").mkdir()
    (data_root / "escape").symlink_to(tmp_path / "outside")
    (data_root / "loop").symlink_to(data_root / "loop")
    for path in ("/etc", "faces/../..", "escape", "missing", "loop", "x" * 300):
        prepared = client.post("/preprocess/", json={"input": path})
        scanned = client.post("/scan/", json={"input": path, "modality": "face"})
        assert prepared.status_code == scanned.status_code, (path, prepared.text, scanned.text)
        assert prepared.status_code in (400, 403, 404) and prepared.json()["detail"], path


def test_outputs_and_options_are_checked_before_a_run_is_created(client, data_root):
    cases = [
        ({"input": "faces", "output": "../up"}, 400),
        ({"input": "faces", "output": "escape/out"}, 403),
        ({"input": "faces", "output": "faces/inside"}, 422),
        ({"input": "faces", "options": {"colour": "grey"}}, 422),
        ({"input": "faces", "options": {"scale": 2, "resize_width": 9}}, 422),
        ({"input": "faces", "scan": {"modality": "smell"}}, 422),
        ({"input": "faces", "scan": {"modality": "face", "dataset_id": "../x"}}, 422),
        ({"input": "faces", "extra": 1}, 422),
    ]
    (data_root / "escape").symlink_to(data_root.parent)
    before = [task["tid"] for task in client.get("/task").json()]
    for body, status in cases:
        answer = client.post("/preprocess/", json=body)
        assert answer.status_code == status, (body, answer.text)
    assert [task["tid"] for task in client.get("/task").json()] == before  # no run created
