"""Routes answered from the store and the declarations; errors as JSON with the right status."""

from __future__ import annotations

import base64

from bqat.engines import engines
from bqat.models import get_spec
from bqat.store import Store


def test_health_info_and_specification(client):
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info/").json()
    from bqat.models.runtime import loaded_providers, model_of

    engines_run = {name for engine in engines().values() for name in engine.models}
    loaded = {model_of(session) for session in loaded_providers()}  # by earlier tests here
    assert engines_run <= {m["name"] for m in info["models"]} <= engines_run | loaded
    assert {"yunet_s_dynamic", "face_mesh", "face_landmarker_v2"} <= engines_run
    assert "CPUExecutionProvider" in info["providers"]
    spec = client.get("/specification?modality=face").json()
    assert spec["ipd"]["unit"] == "px"
    unknown = client.get("/specification", params={"modality": "retina"})
    assert unknown.status_code == 422 and "available: face" in unknown.json()["detail"]


def test_info_reports_the_providers_the_loaded_sessions_use(client, monkeypatch):
    from bqat.models import runtime

    monkeypatch.setattr(runtime, "_sessions", {})
    before = client.get("/info").json()
    assert before["loaded_sessions"] == 0
    assert before["providers"] == before["requested_providers"] == ["CPUExecutionProvider"]
    assert "CPUExecutionProvider" in before["available_providers"]
    assert not any(m["loaded"] for m in before["models"])
    onnx = [m for m in before["models"] if get_spec(m["name"]).is_onnx]  # not the NFIQ 2 forest
    assert onnx and all(m["providers"] for m in onnx)
    runtime.session("face_mesh")
    # A CUDA build would ask for CUDA; what counts is what the loaded session really runs on.
    ort = runtime.onnxruntime_module()
    cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: cuda)
    after = client.get("/info").json()
    assert after["loaded_sessions"] == 1 and after["requested_providers"] == cuda
    assert after["providers"] == ["CPUExecutionProvider"]
    models = {m["name"]: m for m in after["models"]}
    assert models["face_mesh"]["loaded"] and models["face_mesh"]["providers"] == [
        "CPUExecutionProvider"
    ]
    unloaded = models["face_landmarker_v2"]
    assert not unloaded["loaded"] and unloaded["providers"] == cuda


def test_a_scan_request_becomes_a_scheduled_flow_run(client):
    created = client.post("/scan/", json={"input": "faces", "modality": "face"})
    assert created.status_code == 201, created.text
    body = created.json()
    task = client.get(f"/task/{body['tid']}/").json()
    assert (task["kind"], task["dataset_id"], task["state"]) == (
        "scan",
        body["dataset_id"],
        "SCHEDULED",
    )
    assert client.get(f"/datasets/{body['dataset_id']}").json()["rows"] == 0
    listed = client.get("/task").json()
    assert body["tid"] in {t["tid"] for t in listed}
    other = client.post("/scan/", json={"input": "faces", "modality": "face"}).json()["tid"]
    cancelled = client.post(f"/task/{body['tid']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "CANCELLED"
    again = client.post(f"/task/{body['tid']}/cancel")
    assert again.status_code == 409
    assert client.get(f"/task/{other}").json()["state"] == "SCHEDULED"  # that run, no other
    client.post(f"/task/{other}/cancel")


def test_scan_inputs_are_checked_against_the_data_roots(client, data_root, tmp_path):
    (tmp_path / "outside").mkdir()
    (data_root / "escape").symlink_to(tmp_path / "outside")
    cases = {
        "/etc": 400,
        "faces/../..": 400,
        "escape": 403,
        "missing": 404,
    }
    for name, status in cases.items():
        response = client.post("/scan", json={"input": name, "modality": "face"})
        assert response.status_code == status, (name, response.text)
        assert response.json()["detail"]
    files = client.post(
        "/scan", json={"input": ["faces/268284860_1.jpg"], "modality": "face", "dataset_id": "one"}
    )
    assert files.status_code == 201 and files.json()["dataset_id"] == "one"
    twice = client.post("/scan", json={"input": "faces", "modality": "face", "dataset_id": "one"})
    assert twice.status_code == 409 and files.json()["tid"] in twice.json()["detail"]
    client.post(f"/task/{files.json()['tid']}/cancel")
    after = client.post("/scan", json={"input": "faces", "modality": "face", "dataset_id": "one"})
    assert after.status_code == 201  # the first one is cancelled: the dataset is free again
    client.post(f"/task/{after.json()['tid']}/cancel")
    bad = [
        {"input": "faces", "modality": "retina"},
        {"input": "faces", "modality": "face", "options": {"colour": 1}},
        {"input": "faces", "modality": "face", "options": {"pattern": "("}},
        {"input": "faces", "modality": "face", "dataset_id": "../x"},
        {"modality": "face"},
    ]
    for body in bad:
        response = client.post("/scan", json=body)
        assert response.status_code == 422, (body, response.text)


def test_unknown_tasks_and_datasets_are_404(client):
    assert client.get("/task/not-a-uuid").status_code == 404
    assert client.get("/task/6f1c2c1e-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/datasets/nope").status_code == 404
    assert client.get("/scan/nope/profiles").status_code == 404


def test_profiles_pages_filters_and_exports(client):
    store = Store()
    store.create_dataset("ds", "face")
    store.append(
        "ds",
        rows=[{"file": f"{i}.jpg", "sha256": "0" * 64, "ipd": 40 + i} for i in range(5)],
        errors=[{"file": "bad.jpg", "sha256": None, "reason": "truncated"}],
    )
    page = client.get("/scan/ds/profiles", params={"order_by": "-ipd", "limit": 2}).json()
    assert [r["ipd"] for r in page["items"]] == [44, 43] and page["total"] == 5
    filtered = client.get("/scan/ds/profiles", params={"filter": ["ipd>=42", "ipd!=43"]}).json()
    assert sorted(r["ipd"] for r in filtered["items"]) == [42, 44]
    csv = client.get("/scan/ds/profiles", params={"format": "csv", "order_by": "ipd"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 6
    for params in ({"filter": "nope=1"}, {"filter": "ipd>=x"}, {"order_by": "nope"}, {"limit": 0}):
        assert client.get("/scan/ds/profiles", params=params).status_code == 422, params
    assert client.get("/scan/ds/errors").json() == [{"file": "bad.jpg", "reason": "truncated"}]
    assert client.delete("/datasets/ds").status_code == 204
    assert client.get("/datasets/ds").status_code == 404


def test_assess_takes_multipart_or_base64(client, samples):
    data = (samples / "face" / "268284860_1.jpg").read_bytes()
    multipart = client.post("/assess", files={"file": ("a.jpg", data)}, data={"modality": "face"})
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["face_count"] == 1 and multipart.json()["file"] == "a.jpg"
    encoded = base64.b64encode(data).decode()
    as_json = client.post("/assess", json={"modality": "face", "data": encoded})
    assert as_json.json()["ipd"] == multipart.json()["ipd"]
    text = client.post("/assess", files={"file": ("t.jpg", b"hello")}, data={"modality": "face"})
    assert text.status_code == 422 and "not a supported image" in text.json()["detail"]
    assert client.post("/assess", json={"modality": "face", "data": "%%%"}).status_code == 400


def test_an_api_key_guards_everything_but_health_and_docs(data_root, set_env):
    from litestar.testing import TestClient

    from api.app import create_app

    set_env(BQAT_API_KEY="s3cret")
    with TestClient(create_app()) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/docs").status_code == 200
        assert client.get("/docs/openapi.json").status_code == 200
        assert client.get("/datasets").status_code == 401
        assert client.get("/datasets", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/datasets", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_docs_reference_only_local_assets(client):
    import re

    html = client.get("/docs").text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
    assert urls and all(u.startswith("/static/") or u.startswith("data:") for u in urls), urls
    for url in urls:
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url


def test_scans_over_the_concurrency_limit_are_refused_with_429(client, set_env):
    set_env(BQAT_MAX_CONCURRENT_SCANS="1")
    created, refused = [], None
    for _ in range(2):
        response = client.post("/scan", json={"input": "faces", "modality": "face"})
        if response.status_code == 429:
            refused = response
            break
        created.append(response.json()["tid"])
    for tid in created:
        client.post(f"/task/{tid}/cancel")
    assert refused is not None and "BQAT_MAX_CONCURRENT_SCANS" in refused.json()["detail"]


def test_outliers_are_read_made_by_a_task_when_missing_and_rerun_as_a_task(client):
    from bqat.outliers import detect, write_outliers

    store = Store()
    store.create_dataset("ds", "face")
    rows = [
        {"file": f"{i}.jpg", "sha256": "0" * 64, "iso_sharpness": float(i % 7), "ipd": 50}
        for i in range(40)
    ]
    rows.append({"file": "odd.jpg", "sha256": "0" * 64, "iso_sharpness": 500.0, "ipd": 50})
    store.append("ds", rows=rows)
    names = [d["name"] for d in client.get("/scan/detectors").json()]
    assert names == ["ECOD", "IForest", "COPOD", "KNN", "PCA", "CBLOF"]
    missing = client.get("/scan/ds/outliers")  # none stored: a detect-outliers run makes it
    assert missing.status_code == 202, missing.text
    making = missing.json()["tid"]
    task = client.get(f"/task/{making}").json()
    assert (task["kind"], task["dataset_id"], task["state"]) == ("outliers", "ds", "SCHEDULED")
    assert client.get("/scan/ds/outliers").json() == {"tid": making}  # that run, not another
    client.post(f"/task/{making}/cancel")
    write_outliers(detect("ds"))  # what the run does on a worker
    found = client.get("/scan/ds/outliers").json()
    assert found["detector"] == "ECOD" and found["columns"] == ["iso_sharpness"]
    assert found["outliers"][0]["file"] == "odd.jpg" and found["outliers"][0]["rank"] == 1
    assert client.get("/scan/nope/outliers").status_code == 404
    started = client.post("/scan/ds/outliers", json={"detector": "IForest", "contamination": 0.1})
    assert started.status_code == 202, started.text
    task = client.get(f"/task/{started.json()['tid']}").json()
    assert (task["kind"], task["dataset_id"]) == ("outliers", "ds")
    client.post(f"/task/{started.json()['tid']}/cancel")
    assert client.post("/scan/ds/outliers", json={"detector": "LOF"}).status_code == 422
    assert client.post("/scan/nope/outliers", json={}).status_code == 404


def test_reports_are_served_rebuilt_as_tasks_and_refused_while_a_run_writes(client):
    from bqat.report_files import report_path

    Store().create_dataset("ds", "face")
    assert client.get("/scan/nope/report").status_code == 404
    missing = client.get("/scan/ds/report")
    assert missing.status_code == 404 and "POST /scan/ds/report" in missing.json()["detail"]
    started = client.post("/scan/ds/report")
    assert started.status_code == 202, started.text
    tid = started.json()["tid"]
    task = client.get(f"/task/{tid}").json()
    assert (task["kind"], task["dataset_id"], task["state"]) == ("report", "ds", "SCHEDULED")
    busy = client.get("/scan/ds/report")
    assert busy.status_code == 409 and tid in busy.json()["detail"]
    assert client.post("/scan/ds/report").status_code == 409
    client.post(f"/task/{tid}/cancel")
    report_path("ds").parent.mkdir(parents=True)
    report_path("ds").write_text("<html><body>the report</body></html>")
    served = client.get("/scan/ds/report/")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/html")
    assert served.text == "<html><body>the report</body></html>"
    assert client.post("/scan/nope/report").status_code == 404


def test_duplicates_are_grouped_from_the_stored_hashes(client):
    store = Store()
    store.create_dataset("ds", "face")
    hashes = {"a.jpg": "00000000000000ff", "b.jpg": "00000000000000fe", "c.jpg": "ffffffff00000000"}
    store.append(
        "ds",
        rows=[
            {"file": f, "sha256": f[0] * 64, "phash": h, "engine_version": "t"}
            for f, h in hashes.items()
        ]
        + [{"file": "a_copy.jpg", "sha256": "a" * 64, "phash": hashes["a.jpg"]}],
    )
    found = client.get("/scan/ds/duplicates").json()
    assert found == {
        "dataset_id": "ds",
        "max_distance": 6,
        "groups": [
            {"kind": "exact", "files": ["a.jpg", "a_copy.jpg"], "distance": 0},
            {"kind": "near", "files": ["a.jpg", "a_copy.jpg", "b.jpg"], "distance": 1},
        ],
    }
    strict = client.get("/scan/ds/duplicates", params={"max_distance": 0}).json()
    assert [g["kind"] for g in strict["groups"]] == ["exact"]
    assert client.get("/scan/ds/duplicates", params={"max_distance": 13}).status_code == 422
    assert client.get("/scan/nope/duplicates").status_code == 404
