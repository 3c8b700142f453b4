"""A BQAT-API client meets aliases, 410s naming the route to use, and strict bodies.

The first test replays the requests of BQAT-API's own integration test (tests/test_api.py,
../shared/reference/upstream-api.md §8). No worker runs here, so the runs stay SCHEDULED: the
answers are checked up to there, and every run started is cancelled.
"""

from __future__ import annotations

import re
import uuid

from litestar.testing import TestClient
from prefect import get_client

from api.app import create_app
from api.routes.legacy import GONE
from bqat.store import Store


def deprecated_for(response, successor: str) -> bool:
    return (
        response.headers.get("deprecation") == "true"
        and response.headers.get("link") == f'<{successor}>; rel="successor-version"'
    )


def gone(response, *named: str) -> bool:
    detail = response.json()["detail"]
    return response.status_code == 410 and all(n in detail for n in named)


def test_the_upstream_integration_test_replayed(client, data_root, set_env):
    set_env(BQAT_MAX_CONCURRENT_SCANS="50")  # runs left queued by other tests must not count
    (data_root / "finger").mkdir()
    (data_root / "iris").mkdir()
    scans = {}
    for test, modality, folder in (
        ("face", "face", "faces"),
        ("finger", "fingerprint", "finger"),
        ("iris", "iris", "iris"),
    ):
        collection = str(uuid.uuid4())
        created = client.post(
            f"/scan/?modality={modality}",
            json={"options": {"engine": "default"}, "input": folder, "collection": collection},
        )
        assert created.status_code == 201, created.text
        tid = created.json()["tid"]
        assert created.json() == {"tid": str(uuid.UUID(tid)), "dataset_id": collection}
        task = client.get(f"/task/{tid}/")
        assert task.status_code == 200
        assert (task.json()["dataset_id"], task.json()["state"]) == (collection, "SCHEDULED")
        status = client.get(f"/task/{tid}/status")
        assert status.status_code == 200 and deprecated_for(status, f"/task/{tid}/")
        assert status.json() == task.json()
        assert gone(client.delete(f"/task/{tid}/"), f"POST /task/{tid}/cancel")
        assert client.post(f"/task/{tid}/cancel").status_code == 202
        scans[test] = collection

    alternative = client.post(
        "/scan/?modality=face",
        json={"options": {"engine": "biqt"}, "input": "faces", "collection": str(uuid.uuid4())},
    )
    assert alternative.status_code == 422
    assert "MITRE BIQT" in alternative.json()["detail"]
    assert "GET /specification?modality=face" in alternative.json()["detail"]

    for collection in scans.values():
        assert gone(client.get(f"/scan/logs/{collection}"), f"GET /datasets/{collection}")
        assert client.get(f"/datasets/{collection}").json()["rows"] == 0
        page = client.get(f"/scan/{collection}/profiles").json()
        assert (page["items"], page["total"]) == ([], 0)  # a page, not BQAT-API's bare list
        assert client.get(f"/scan/{collection}/profiles?skip=5&limit=1").json()["offset"] == 5
    paged_twice = client.get(f"/scan/{collection}/profiles?skip=5&offset=10")
    assert paged_twice.status_code == 422 and "skip" in paged_twice.json()["detail"]

    iris = scans["iris"]
    generated = client.post(f"/scan/{iris}/report/generate")
    assert generated.status_code == 202 and deprecated_for(generated, f"/scan/{iris}/report")
    report_tid = generated.json()["tid"]
    try:
        assert client.get(f"/scan/{iris}/report").status_code == 409  # its run is queued
    finally:
        client.post(f"/task/{report_tid}/cancel")

    for collection in scans.values():
        assert gone(client.delete(f"/scan/logs/{collection}"), f"DELETE /datasets/{collection}")
        assert gone(client.delete(f"/scan/{collection}/profiles"), f"DELETE /datasets/{collection}")
        assert gone(client.delete(f"/scan/{collection}/report"), f"DELETE /datasets/{collection}")

    info = client.get("/scan/info")
    assert info.status_code == 200 and deprecated_for(info, "/info")
    assert info.json() == client.get("/info").json()


def test_unknown_body_fields_are_refused_by_name(client):
    cases = (
        ("/scan/", {"input": "faces", "modality": "face", "colection": "c"}, "colection"),
        ("/scan/local", {"input": "faces", "modality": "face", "trigger": True}, "trigger"),
        ("/assess", {"modality": "face", "data": "", "file": "a.jpg"}, "file"),
        ("/scan/ds/outliers", {"detector": "ECOD", "contamnation": 0.1}, "contamnation"),
        ("/scan/ds/outliers/detect", {"with_data": True}, "with_data"),
        ("/scan/ds/report/generate", {"minimal": False, "format": "pdf"}, "format"),
    )
    for path, body, unknown in cases:
        response = client.post(path, json=body)
        assert response.status_code == 422, path
        assert f"unknown field `{unknown}`" in response.text, path
    for options in ({"minimal": True}, {"downsample": 0.5}):
        response = client.post("/scan/ds/report/generate", json=options)
        assert response.status_code == 422 and "every row" in response.json()["detail"]


def test_a_value_given_twice_must_agree(client):
    both = client.post(
        "/scan/", json={"input": "faces", "modality": "face", "dataset_id": "a", "collection": "b"}
    )
    assert both.status_code == 422
    assert "dataset_id 'a' and collection 'b'" in both.json()["detail"]
    modality = client.post("/scan/?modality=face", json={"input": "faces", "modality": "iris"})
    assert modality.status_code == 422
    assert "?modality= 'face' and the body's modality 'iris'" in modality.json()["detail"]
    missing = client.post("/scan/", json={"input": "faces"})
    assert missing.status_code == 422 and "modality is required" in missing.json()["detail"]


def test_only_the_engine_that_runs_here_is_accepted(client):
    for engine, named in (("ofiq", "BSI OFIQ"), ("fusion", "fusion"), ("mediapipe", "mediapipe")):
        body = {"input": "faces", "modality": "face", "options": {"engine": engine}}
        refused = client.post("/scan/", json=body)
        assert refused.status_code == 422 and named in refused.json()["detail"]
        assert "give 'default'" in refused.json()["detail"]
    upload = client.post("/scan/remote?modality=face&engine=ofiq", files={"files": ("a.jpg", b"x")})
    assert upload.status_code == 422 and deprecated_for(upload, "/scan/uploaded")
    for path in ("/scan/local?trigger=false", "/scan/remote?trigger=false"):
        later = client.post(path, json={"input": "faces", "modality": "face"})
        assert later.status_code == 422 and "trigger=false" in later.json()["detail"]


def test_the_upload_and_outlier_aliases_start_what_their_successors_do(client, data_root):
    jpg = next((data_root / "faces").iterdir()).read_bytes()
    upload = client.post("/scan/remote?modality=face", files={"files": ("a.jpg", jpg)})
    assert upload.status_code == 201 and deprecated_for(upload, "/scan/uploaded")
    Store().create_dataset("ds", "face")
    detect = client.post(
        "/scan/ds/outliers/detect",
        json={"detector": "default", "columns": [], "contamination": 0.1},
    )
    assert detect.status_code == 202 and deprecated_for(detect, "/scan/ds/outliers")
    tids = [upload.json()["tid"], detect.json()["tid"]]
    try:
        with get_client(sync_client=True) as prefect:
            detection = prefect.read_flow_run(uuid.UUID(tids[1])).parameters
    finally:
        for tid in tids:
            client.post(f"/task/{tid}/cancel")
    # BQAT-API's names of the defaults: its detector `default` and empty `columns`.
    assert (detection["detector"], detection["columns"]) == ("ECOD", None)
    assert detection["contamination"] == 0.1


def test_every_gone_path_names_what_to_use_and_shadows_nothing(client):
    ids = {"id": "ds1", "tid": str(uuid.uuid4()), "kind": "scan", "scan_id": "s1", "path": "a/b"}
    for entry in GONE:
        path = entry.path.format(**ids)
        response = client.request(entry.method, path)
        assert response.status_code == 410, (entry.method, path, response.text)
        said, _, instead = response.json()["detail"].partition(" was BQAT-API's; ")
        assert said == f"{entry.method} {entry.path}"
        for name in re.findall(r"\{(\w+)\}", entry.path):  # the request's ids are filled in
            assert "{" + name + "}" not in instead
        assert re.search(r"(GET|POST|DELETE) /|X-API-Key", instead), instead
    # A dataset or task of a gone path's name is still reached by the routes here.
    assert "unknown dataset" in client.get("/scan/logs/profiles").json()["detail"]
    assert "unknown dataset" in client.post("/scan/pause/report").json()["detail"]
    injected = client.get("/task/%0d%0aSet-Cookie:%20a=b/status")
    assert injected.status_code == 404
    assert (
        injected.headers["link"] == '</task/%0D%0ASet-Cookie%3A%20a%3Db/>; rel="successor-version"'
    )


def test_the_api_key_guards_aliases_and_gone_paths(set_env):
    set_env(BQAT_API_KEY="secret")
    client = TestClient(create_app())
    for method, path in (("GET", "/scan/info"), ("DELETE", "/task/x"), ("GET", "/scan/logs")):
        assert client.request(method, path).status_code == 401
    assert client.get("/scan/info", headers={"X-API-Key": "secret"}).status_code == 200
    assert client.get("/scan/logs", headers={"X-API-Key": "secret"}).status_code == 410
