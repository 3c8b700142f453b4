"""Outliers and drift are made by flow runs on the workers: the API serves what is stored, answers
202 {tid} with the run making what is missing, and never loads PyOD or Evidently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from bqat.store import Store


def _datasets(*ids: str) -> None:
    store = Store()
    for dataset_id in ids:
        store.create_dataset(dataset_id, "face")
        store.append(
            dataset_id,
            rows=[{"file": f"{i}.jpg", "sha256": "0" * 64, "ipd": 40 + i} for i in range(5)],
        )


def _store_drift(dataset_id: str, reference_id: str) -> dict:
    """What a compare-drift run stores (bqat.drift.write_drift), without Evidently."""
    from bqat.report_files import drift_paths

    summary = {
        "dataset_id": dataset_id,
        "reference_id": reference_id,
        "drifted": False,
        "share_drifted": 0.0,
        "columns": {"ipd": {"method": "K-S p_value", "score": 0.9, "drifted": False}},
        "excluded": {},
    }
    html, as_json = drift_paths(dataset_id, reference_id)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text("<html><body>drift</body></html>")
    as_json.write_text(json.dumps(summary))
    return summary


def test_missing_drift_is_made_by_a_compare_drift_run_then_served(client):
    _datasets("cur", "ref")
    missing = client.get("/scan/cur/drift", params={"reference": "ref"})
    assert missing.status_code == 202, missing.text
    tid = missing.json()["tid"]
    task = client.get(f"/task/{tid}").json()
    assert (task["kind"], task["dataset_id"], task["state"]) == ("drift", "cur", "SCHEDULED")
    again = client.get("/scan/cur/drift", params={"reference": "ref", "format": "json"})
    assert again.status_code == 202 and again.json() == {"tid": tid}  # that run, not another
    other_way = client.get("/scan/ref/drift", params={"reference": "cur"}).json()["tid"]
    assert other_way != tid
    for started in (tid, other_way):
        client.post(f"/task/{started}/cancel")

    summary = _store_drift("cur", "ref")
    as_json = client.get("/scan/cur/drift/", params={"reference": "ref", "format": "json"})
    assert as_json.status_code == 200 and as_json.json() == summary
    html = client.get("/scan/cur/drift", params={"reference": "ref"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text == "<html><body>drift</body></html>"

    assert client.get("/scan/cur/drift", params={"reference": "nope"}).status_code == 404
    assert client.get("/scan/nope/drift", params={"reference": "ref"}).status_code == 404
    assert client.get("/scan/cur/drift", params={"reference": "../x"}).status_code == 422


def test_drift_is_refused_while_either_dataset_is_being_scanned(client):
    _datasets("ref")
    scan = client.post("/scan/", json={"input": "faces", "modality": "face", "dataset_id": "cur"})
    assert scan.status_code == 201, scan.text
    tid = scan.json()["tid"]
    try:
        for current, reference in (("cur", "ref"), ("ref", "cur")):
            busy = client.get(f"/scan/{current}/drift", params={"reference": reference})
            assert busy.status_code == 409 and tid in busy.json()["detail"]
        # A scan ends with the default outlier detection: its task is the one to wait for.
        assert client.get("/scan/cur/outliers").json() == {"tid": tid}
    finally:
        client.post(f"/task/{tid}/cancel")


PROBE = textwrap.dedent(
    """
    import json, os, sys
    from litestar.testing import TestClient
    from api.app import create_app

    statuses = []
    with TestClient(create_app()) as client:
        for path, params in [
            ("/scan/cur/outliers", {}),
            ("/scan/cur/drift", {"reference": "ref"}),
            ("/scan/cur/drift", {"reference": "ref", "format": "json"}),
            ("/scan/ref/outliers", {}),
            ("/scan/ref/drift", {"reference": "cur", "format": "json"}),
        ]:
            response = client.get(path, params=params)
            statuses.append(response.status_code)
            if response.status_code == 202:
                client.post(f"/task/{response.json()['tid']}/cancel")
    heavy = sorted(n for n in sys.modules if n.split(".")[0] in ("pyod", "evidently"))
    print(json.dumps({"statuses": statuses, "heavy": heavy}), flush=True)
    # Skip interpreter finalisation: a DuckDB connection left in a daemon worker thread can
    # abort it (std::terminate), which is not what this test is about.
    os._exit(0)
    """
)


def test_the_api_process_never_imports_pyod_or_evidently(data_root):
    """In a fresh process: app start-up, served and missing outliers and drift."""
    from prefect.settings import PREFECT_API_URL

    from bqat.report_files import outliers_path

    _datasets("cur", "ref")
    _store_drift("ref", "cur")
    outliers_path("ref").write_text(
        json.dumps({"detector": "ECOD", "columns": ["ipd"], "outliers": [], "excluded": []})
    )
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"statuses": [202, 202, 202, 200, 200], "heavy": []}, result
