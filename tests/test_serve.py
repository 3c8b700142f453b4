"""`bqat serve`: the Prefect server, a flow worker and the API; a scan posted to the API and a
scheduled audit's run execute on that worker; Ctrl-C stops all of it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for_task(api: str, tid: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(f"{api}/task/{tid}/", timeout=10) as response:
            task = json.loads(response.read())
        if task["finished"] is not None or time.monotonic() > deadline:
            return task
        time.sleep(1)


def run_deployment_and_wait(api: str, name: str, timeout_s: float) -> str:
    """Trigger one run of deployment `name` and return its final state type."""
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        flow_run = run_deployment(name, timeout=0)
        deadline = time.monotonic() + timeout_s
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                state = client.read_flow_run(flow_run.id).state
                if state is not None and state.is_final():
                    return state.type.value
                time.sleep(1)
    return "TIMEOUT"


@pytest.mark.timeout(400)
def test_serve_runs_server_and_worker_a_scheduled_audit_runs_and_ctrl_c_stops_all(
    tmp_path: Path, samples: Path, free_port, zipped
):
    port, api_port = free_port(), free_port()
    folder = tmp_path / "data" / "gate"
    folder.mkdir(parents=True)
    for path in sorted((samples / "face").glob("*.jpg"))[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    env = {
        **os.environ,
        "BQAT_HOME": str(tmp_path / "home"),
        "BQAT_PREFECT_PORT": str(port),
        "BQAT_PORT": str(api_port),
        "BQAT_DATA_ROOT": str(tmp_path / "data"),
    }
    env.pop("PREFECT_HOME", None)
    env.pop("PREFECT_API_URL", None)
    bqat = Path(sys.executable).parent / "bqat"
    process = subprocess.Popen(
        [str(bqat), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        assert any(f"127.0.0.1:{port}" in line for line in lines), "".join(lines)
        assert answers(f"http://127.0.0.1:{port}/api/health")
        assert any("flow worker" in line for line in lines), "".join(lines)
        api = f"http://127.0.0.1:{api_port}"
        created = post_json(f"{api}/scan/", {"input": "gate", "modality": "face"})
        task = wait_for_task(api, created["tid"], timeout_s=180)
        assert (task["state"], task["progress"]["done"], task["progress"]["total"]) == (
            "COMPLETED",
            2,
            2,
        ), task
        with urllib.request.urlopen(f"{api}/scan/{created['dataset_id']}/profiles") as response:
            assert json.loads(response.read())["total"] == 2

        images = sorted(folder.glob("*.jpg"))
        uploaded = httpx.post(
            f"{api}/scan/uploaded",
            data={"modality": "face"},
            files=[
                ("files", ("one.jpg", images[0].read_bytes())),
                ("files", ("both.zip", zipped({f"in/{p.name}": p.read_bytes() for p in images}))),
            ],
            timeout=60,
        )
        assert uploaded.status_code == 201, uploaded.text
        upload_task = wait_for_task(api, uploaded.json()["tid"], timeout_s=180)
        assert upload_task["state"] == "COMPLETED", upload_task
        rows = httpx.get(
            f"{api}/scan/{uploaded.json()['dataset_id']}/profiles", params={"order_by": "file"}
        ).json()["items"]
        expected = [f"in/{images[0].name}", f"in/{images[1].name}", "one.jpg"]
        assert [r["file"] for r in rows] == expected
        assert all(r["face_count"] == 1 for r in rows)
        results = f"{api}/scan/{uploaded.json()['dataset_id']}"
        outliers = httpx.get(f"{results}/outliers").json()  # ran at the end of the scan
        assert (outliers["detector"], outliers["rows"]) == ("ECOD", 3)
        duplicates = httpx.get(f"{results}/duplicates").json()["groups"]
        assert {"kind": "exact", "files": [expected[0], "one.jpg"], "distance": 0} in duplicates
        report = httpx.get(f"{results}/report")
        assert report.status_code == 200 and "Quality report" in report.text
        exact_row = re.search(r"<td>exact</td>.*?</tr>", report.text).group(0)
        assert "data:image/jpeg;base64," in exact_row  # a thumbnail of the uploaded file
        rebuilt = httpx.post(f"{results}/report")
        assert rebuilt.status_code == 202, rebuilt.text
        assert wait_for_task(api, rebuilt.json()["tid"], timeout_s=120)["state"] == "COMPLETED"
        assert httpx.get(f"{results}/report").status_code == 200
        assert (tmp_path / "home" / "prefect").is_dir(), "Prefect state must live under BQAT_HOME"

        schedule = subprocess.run(
            [str(bqat), "audit", "schedule", str(folder), "--modality=face", "--cron=0 3 * * *"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert schedule.returncode == 0, schedule.stdout + schedule.stderr
        prefect_api = f"http://127.0.0.1:{port}/api"
        assert (
            run_deployment_and_wait(prefect_api, "audit-folder/gate", timeout_s=180) == "COMPLETED"
        )
        datasets = sorted((tmp_path / "home" / "store").glob("audit-gate-*/rows/*.parquet"))
        assert len(datasets) == 1, "the worker's flow run stored the audit dataset"

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, "".join(lines) + rest
        deadline = time.monotonic() + 10
        while answers(f"http://127.0.0.1:{port}/api/health") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not answers(f"http://127.0.0.1:{port}/api/health"), "the server outlived serve"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def descendants(pid: int) -> list[int]:
    """`pid`'s child processes, their children and so on, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@pytest.mark.timeout(600)
def test_a_run_whose_worker_died_is_marked_crashed_and_the_worker_restarts(
    tmp_path: Path, samples: Path, free_port
):
    folder = tmp_path / "data" / "many"
    folder.mkdir(parents=True)
    sources = sorted((samples / "face").glob("*.jpg"))
    for i in range(1500):
        (folder / f"{i:05d}.jpg").write_bytes(sources[i % len(sources)].read_bytes())
    api_port = free_port()
    env = {
        **os.environ,
        "BQAT_HOME": str(tmp_path / "home"),
        "BQAT_PREFECT_PORT": str(free_port()),
        "BQAT_PORT": str(api_port),
        "BQAT_DATA_ROOT": str(tmp_path / "data"),
    }
    env.pop("PREFECT_HOME", None)
    env.pop("PREFECT_API_URL", None)
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "bqat"), "serve"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "ready; press Ctrl-C" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        api = f"http://127.0.0.1:{api_port}"
        tid = post_json(f"{api}/scan/", {"input": "many", "modality": "face"})["tid"]
        while True:
            with urllib.request.urlopen(f"{api}/task/{tid}/", timeout=10) as response:
                task = json.loads(response.read())
            if task["progress"]["done"] > 0:
                break
            assert task["finished"] is None, task
            time.sleep(0.5)
        workers = [
            pid
            for pid in descendants(process.pid)
            if b"worker\x00start" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 1
        scanning = [workers[0], *descendants(workers[0])]  # the worker and its flow run
        assert len(scanning) >= 2
        assert {os.sched_getscheduler(pid) for pid in scanning} == {os.SCHED_IDLE}
        assert os.sched_getscheduler(process.pid) == os.SCHED_OTHER  # serve, the API, Prefect
        for pid in scanning:
            os.kill(pid, signal.SIGKILL)  # the machine running the worker is gone
        task = wait_for_task(api, tid, timeout_s=300)
        assert task["state"] == "CRASHED", task
        assert "heartbeat" in (task.get("error") or ""), task
        assert "worker exited with code -9; starting it again" in log.read_text()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        assert process.returncode == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
