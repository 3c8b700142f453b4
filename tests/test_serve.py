"""`bqat serve`: the Prefect server, a flow worker and the API; a scan posted to the API and a
scheduled audit's run execute on that worker; the Prefect server is closed to anyone without its
auth string, and a run created on it cannot leave the data roots or run a command of its own;
Ctrl-C stops all of it.

The tests of one `bqat serve` share it (module scope, in file order; the last one stops it).
Requests may wait up to 120 s: on a loaded machine Prefect's SQLite database makes its API wait
for a lock (its busy timeout is 60 s), and the API waits on Prefect; slow is not failed here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

API_KEY = "key-of-the-tests"
FILES_IN_THE_KILLED_SCAN = 1500
PREFECT_USER, PREFECT_PASSWORD = "operator", "password-of-the-tests"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def post_json(url: str, body: dict, headers: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def wait_for_task(api: str, tid: str, timeout_s: float, headers: dict | None = None) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        request = urllib.request.Request(f"{api}/task/{tid}/", headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            task = json.loads(response.read())
        if task["finished"] is not None or time.monotonic() > deadline:
            return task
        time.sleep(1)


def profile_files(api: str, dataset_id: str, headers: dict) -> list[str]:
    """Every stored row's file, page by page (a file stored twice appears twice)."""
    files: list[str] = []
    while True:
        page = httpx.get(
            f"{api}/scan/{dataset_id}/profiles",
            params={"order_by": "file", "limit": 1000, "offset": len(files)},
            headers=headers,
            timeout=120,
        ).json()
        files += [row["file"] for row in page["items"]]
        if not page["items"] or len(files) >= page["total"]:
            return files


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) listening on TCP `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


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


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    log: Path  # serve's output, all of it: a pipe nobody reads would fill and block serve
    env: dict[str, str]
    home: Path
    data: Path
    folder: Path
    outside: Path
    prefect_port: int
    api: str

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def prefect(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    def prefect_client(self, auth: bool = True) -> httpx.Client:
        return httpx.Client(
            base_url=self.prefect,
            auth=(PREFECT_USER, PREFECT_PASSWORD) if auth else None,
            timeout=120,
        )

    def create_run(self, deployment: str, **body: object) -> httpx.Response:
        """POST /deployments/{id}/create_flow_run on the Prefect API, with its auth string;
        retried like Prefect's client does while the server answers 503 (SQLite busy)."""
        with self.prefect_client() as client:
            found = client.get(f"/deployments/name/{deployment}")
            found.raise_for_status()
            for _ in range(10):
                created = client.post(
                    f"/deployments/{found.json()['id']}/create_flow_run", json=body
                )
                if created.status_code != 503:
                    break
                time.sleep(1)
            return created

    def wait_for_run(self, flow_run_id: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        with self.prefect_client() as client:
            while True:
                response = client.get(f"/flow_runs/{flow_run_id}")
                run = response.json() if response.status_code == 200 else {}
                state = run.get("state") or {}
                if state.get("type") in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                    return run
                assert time.monotonic() < deadline, run
                time.sleep(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, samples: Path, free_port):
    """`bqat serve` with an API key and a given Prefect auth string, on free ports."""
    tmp_path = tmp_path_factory.mktemp("serve")
    folder = tmp_path / "data" / "gate"
    outside = tmp_path / "outside"
    for target in (folder, outside):
        target.mkdir(parents=True)
        for path in sorted((samples / "face").glob("*.jpg"))[:2]:
            (target / path.name).write_bytes(path.read_bytes())
    port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "BQAT_HOME": str(tmp_path / "home"),
        "BQAT_PREFECT_PORT": str(port),
        "BQAT_PORT": str(api_port),
        "BQAT_DATA_ROOT": str(tmp_path / "data"),
        "BQAT_API_KEY": API_KEY,
        "PREFECT_SERVER_API_AUTH_STRING": f"{PREFECT_USER}:{PREFECT_PASSWORD}",
    }
    env.pop("PREFECT_HOME", None)
    env.pop("PREFECT_API_URL", None)
    bqat = Path(sys.executable).parent / "bqat"
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [str(bqat), "serve"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            # As a shell starts a background job: SIGINT ignored. Ctrl-C (test_ctrl_c_stops_all)
            # must still stop everything.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        deadline = time.monotonic() + 180
        while "press Ctrl-C" not in log.read_text(errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Served(
            process=process,
            log=log,
            env=env,
            home=tmp_path / "home",
            data=tmp_path / "data",
            folder=folder,
            outside=outside,
            prefect_port=port,
            api=f"http://127.0.0.1:{api_port}",
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.timeout(300)
def test_serve_starts_the_server_on_the_loopback_interface_and_a_worker(served: Served):
    lines = served.output
    assert f"127.0.0.1:{served.prefect_port}" in lines, lines
    assert "flow worker" in lines, lines
    assert answers(f"{served.prefect}/health")  # the health check needs no auth string
    assert listening_addresses(served.prefect_port) == {"0100007F"}  # 127.0.0.1 only
    assert (served.home / "prefect").is_dir(), "Prefect state must live under BQAT_HOME"
    assert not (served.home / "prefect" / "auth").exists(), "a given auth string is used as is"


@pytest.mark.timeout(400)
def test_a_scan_and_an_upload_run_on_the_worker(served: Served, zipped):
    api, key = served.api, {"X-API-Key": API_KEY}
    created = post_json(f"{api}/scan/", {"input": "gate", "modality": "face"}, key)
    task = wait_for_task(api, created["tid"], timeout_s=180, headers=key)
    assert (task["state"], task["progress"]["done"], task["progress"]["total"]) == (
        "COMPLETED",
        2,
        2,
    ), task
    profiles = httpx.get(f"{api}/scan/{created['dataset_id']}/profiles", headers=key)
    assert profiles.json()["total"] == 2

    images = sorted(served.folder.glob("*.jpg"))
    uploaded = httpx.post(
        f"{api}/scan/uploaded",
        data={"modality": "face"},
        files=[
            ("files", ("one.jpg", images[0].read_bytes())),
            ("files", ("both.zip", zipped({f"in/{p.name}": p.read_bytes() for p in images}))),
        ],
        headers=key,
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    upload_task = wait_for_task(api, uploaded.json()["tid"], timeout_s=180, headers=key)
    assert upload_task["state"] == "COMPLETED", upload_task
    results = f"{api}/scan/{uploaded.json()['dataset_id']}"
    rows = httpx.get(f"{results}/profiles", params={"order_by": "file"}, headers=key).json()
    expected = [f"in/{images[0].name}", f"in/{images[1].name}", "one.jpg"]
    assert [r["file"] for r in rows["items"]] == expected
    assert all(r["face_count"] == 1 for r in rows["items"])
    outliers = httpx.get(f"{results}/outliers", headers=key).json()  # ran at the end of the scan
    assert (outliers["detector"], outliers["rows"]) == ("ECOD", 3)
    duplicates = httpx.get(f"{results}/duplicates", headers=key).json()["groups"]
    assert {"kind": "exact", "files": [expected[0], "one.jpg"], "distance": 0} in duplicates
    report = httpx.get(f"{results}/report", headers=key)
    assert report.status_code == 200 and "Quality report" in report.text
    exact_row = re.search(r"<td>exact</td>.*?</tr>", report.text).group(0)
    assert "data:image/jpeg;base64," in exact_row  # a thumbnail of the uploaded file
    rebuilt = httpx.post(f"{results}/report", headers=key)
    assert rebuilt.status_code == 202, rebuilt.text
    rebuilt_task = wait_for_task(api, rebuilt.json()["tid"], timeout_s=120, headers=key)
    assert rebuilt_task["state"] == "COMPLETED"
    assert httpx.get(f"{results}/report", headers=key).status_code == 200


@pytest.mark.timeout(300)
def test_a_scheduled_audit_runs_on_the_worker_and_only_inside_the_data_roots(served: Served):
    bqat = Path(sys.executable).parent / "bqat"
    schedule = [bqat, "audit", "schedule", "--modality=face", "--cron=0 3 * * *"]
    scheduled = subprocess.run(
        [*schedule, str(served.folder)], env=served.env, capture_output=True, text=True, timeout=120
    )
    assert scheduled.returncode == 0, scheduled.stdout + scheduled.stderr
    refused = subprocess.run(
        [*schedule, str(served.outside)], env=served.env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "outside the data roots" in refused.stderr, refused
    with served.prefect_client() as client:  # Prefect's scheduler plans the coming 03:00 runs
        deployment = client.get("/deployments/name/audit-folder/gate").json()["id"]
        deadline = time.monotonic() + 60
        while True:
            planned = client.post(
                "/flow_runs/filter",
                json={"deployments": {"id": {"any_": [deployment]}}},
            ).json()
            if planned or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert planned, "the scheduler created no run of the scheduled audit"
    assert {run["state"]["type"] for run in planned} == {"SCHEDULED"}
    assert {run["expected_start_time"][11:16] for run in planned} == {"03:00"}, planned

    run = served.create_run("audit-folder/gate")
    assert run.status_code == 201, run.text
    state = served.wait_for_run(run.json()["id"], 180)["state"]
    assert state["type"] == "COMPLETED", state["message"]
    datasets = httpx.get(f"{served.api}/datasets/", headers={"X-API-Key": API_KEY}).json()
    audits = [d for d in datasets if d["dataset_id"].startswith("audit-gate-")]
    assert [d["rows"] for d in audits] == [2], "the worker's flow run stored the audit dataset"


@pytest.mark.timeout(120)
def test_the_prefect_api_wants_the_auth_string_and_allows_no_other_origin(served: Served):
    with served.prefect_client(auth=False) as anonymous:
        assert anonymous.post("/artifacts/filter", json={}).status_code == 401
        assert anonymous.post("/flow_runs/filter", json={}).status_code == 401
        assert anonymous.post("/deployments/filter", json={}).status_code == 401
    with httpx.Client(base_url=served.prefect, auth=(PREFECT_USER, "guess"), timeout=30) as wrong:
        assert wrong.post("/artifacts/filter", json={}).status_code == 401
    with served.prefect_client() as client:
        artifacts = client.post("/artifacts/filter", json={})
        assert artifacts.status_code == 200 and artifacts.json(), artifacts.text
        evil = {"Origin": "http://evil.example"}
        simple = client.get("/health", headers=evil)
        preflight = client.options(
            "/artifacts/filter",
            headers={**evil, "Access-Control-Request-Method": "POST"},
        )
    for response in (simple, preflight):
        assert "access-control-allow-origin" not in response.headers, response.headers


@pytest.mark.timeout(300)
def test_a_run_created_on_prefect_cannot_read_outside_the_data_roots(served: Served):
    """With the auth string (an insider, or a leaked string), a run still cannot escape."""
    one = sorted(served.outside.glob("*.jpg"))[0].name
    attempts = {
        "stolen-folder": {"source": str(served.outside)},
        "stolen-files": {"source": str(served.folder), "files": [f"../../outside/{one}"]},
    }
    runs = {}
    for dataset_id, parameters in attempts.items():
        created = served.create_run(
            "scan-dataset/bqat",
            parameters={"modality": "face", "dataset_id": dataset_id, **parameters},
        )
        assert created.status_code == 201, created.text
        runs[dataset_id] = created.json()["id"]
    audit = served.create_run(
        "audit-folder/gate",
        parameters={"folder": str(served.outside), "modality": "face", "name": "stolen"},
    )
    assert audit.status_code == 201, audit.text
    runs["audit-stolen"] = audit.json()["id"]

    messages = {}
    for name, flow_run_id in runs.items():
        state = served.wait_for_run(flow_run_id, 180)["state"]
        assert state["type"] == "FAILED", (name, state)
        messages[name] = state["message"]
    assert "AccessError" in messages["stolen-folder"], messages
    assert "outside the data roots" in messages["stolen-folder"], messages
    assert "without '..'" in messages["stolen-files"], messages
    assert "outside the data roots" in messages["audit-stolen"], messages
    key = {"X-API-Key": API_KEY}
    for dataset_id in attempts:
        assert httpx.get(f"{served.api}/datasets/{dataset_id}", headers=key).status_code == 404
    datasets = httpx.get(f"{served.api}/datasets/", headers=key).json()
    assert not [d for d in datasets if "stolen" in d["dataset_id"]], datasets


@pytest.mark.timeout(120)
def test_a_run_cannot_make_the_worker_run_a_command_or_change_its_environment(served: Served):
    marker = served.home / "pwned"
    parameters = {"source": str(served.folder), "modality": "face"}
    overrides = [
        {"command": f'/bin/sh -c "id > {marker}"'},
        {"env": {"PYTHONPATH": str(served.outside), "BQAT_API_KEY": "x"}},
        {"env.LD_PRELOAD": "/tmp/evil.so"},
        {"working_dir": str(served.outside)},
    ]
    for job_variables in overrides:
        created = served.create_run(
            "scan-dataset/bqat", parameters=parameters, job_variables=job_variables
        )
        assert created.status_code == 422, (job_variables, created.text)
        assert "not allowed" in created.text, created.text
    with served.prefect_client() as client:
        pool = client.get("/work_pools/bqat").json()["base_job_template"]
        runs = client.post("/flow_runs/filter", json={}).json()
    assert {"command", "env", "working_dir"}.isdisjoint(pool["job_configuration"])
    assert not any(run.get("job_variables") for run in runs)  # none was created
    time.sleep(3)  # two polls of the worker
    assert not marker.exists()


@pytest.mark.timeout(300)
def test_the_first_poll_after_a_run_ends_says_it_ended(served: Served):
    """GET /task/{tid}/ trails the run by at most api.runs.FRESH_S, however often it is polled."""
    from api.runs import FRESH_S

    key = {"X-API-Key": API_KEY}
    body = {"input": "gate", "modality": "face", "dataset_id": "fresh"}
    tid = post_json(f"{served.api}/scan/", body, key)["tid"]
    deadline = time.monotonic() + 180
    with (
        served.prefect_client() as prefect,
        httpx.Client(base_url=served.api, headers=key, timeout=120) as api,
    ):
        while True:
            assert api.get(f"/task/{tid}/").status_code == 200  # keeps the API's answer warm
            state = prefect.get(f"/flow_runs/{tid}").json()["state"]
            if state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        time.sleep(FRESH_S)
        task = api.get(f"/task/{tid}/").json()
    assert (task["state"], task["progress"]["done"], task["progress"]["total"]) == (
        "COMPLETED",
        2,
        2,
    ), task
    assert task["finished"] is not None


@pytest.mark.timeout(300)
def test_the_cli_scans_on_the_running_server_instead_of_starting_one(served: Served):
    """`bqat scan` while `bqat serve` runs: its flow run is on serve's server (in its UI), and no
    temporary Prefect server is started for it."""
    bqat = Path(sys.executable).parent / "bqat"
    scanned = subprocess.run(
        [bqat, "scan", str(served.folder), "--modality=face", "--dataset=from-cli", "--json"],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    assert json.loads(scanned.stdout)["assessed"] == 2
    assert "temporary server" not in scanned.stdout + scanned.stderr
    with served.prefect_client() as client:
        runs = client.post("/flow_runs/filter", json={}).json()
    scans = [r for r in runs if r["name"] == "scan from-cli · face · 2 files"]
    assert [r["state"]["type"] for r in scans] == ["COMPLETED"], runs


@pytest.mark.timeout(300)
def test_ten_simultaneous_scans_under_polling_admit_the_limit_and_all_complete(
    served: Served, samples: Path
):
    """Ten POST /scan/ at once while every task is polled: exactly BQAT_MAX_CONCURRENT_SCANS (2)
    admitted, the rest a 429 saying why, no poll fails, and every admitted scan completes."""
    folder = served.data / "prints"
    folder.mkdir()
    prints = sorted((samples / "fingerprint").glob("*.bmp"))
    for path in prints:
        (folder / path.name).write_bytes(path.read_bytes())
    key = {"X-API-Key": API_KEY}
    start = threading.Barrier(10)

    def post(i: int) -> httpx.Response:
        body = {"input": "prints", "modality": "fingerprint", "dataset_id": f"wave-{i}"}
        start.wait()
        return httpx.post(f"{served.api}/scan/", json=body, headers=key, timeout=120)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(post, range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 2, 429: 8}, [r.text for r in responses]
    assert all(
        "BQAT_MAX_CONCURRENT_SCANS" in r.json()["detail"] for r in responses if r.status_code == 429
    )
    tids = [r.json()["tid"] for r in responses if r.status_code == 201]

    failed_polls: list[str] = []
    slowest = (0.0, "")
    finals: dict[str, dict] = {}
    deadline = time.monotonic() + 240
    # A poll may wait while Prefect's SQLite database is busy, never fail.
    with httpx.Client(base_url=served.api, headers=key, timeout=120) as client:
        while len(finals) < len(tids) and time.monotonic() < deadline:
            for path in ["/task/", "/datasets/", *[f"/task/{tid}/" for tid in tids]]:
                started = time.monotonic()
                polled = client.get(path)
                slowest = max(slowest, (time.monotonic() - started, path))
                if polled.status_code != 200:
                    failed_polls.append(f"{path}: {polled.status_code} {polled.text}")
                elif path.count("/") == 3 and polled.json()["finished"] is not None:
                    finals[path] = polled.json()
            time.sleep(0.2)
    print(f"slowest poll: {slowest[0]:.2f} s ({slowest[1]})")
    assert failed_polls == []
    assert [task["state"] for task in finals.values()] == ["COMPLETED"] * 2, finals
    assert all(task["progress"]["done"] == len(prints) for task in finals.values()), finals
    for response in responses:
        if response.status_code == 201:
            page = httpx.get(
                f"{served.api}/scan/{response.json()['dataset_id']}/profiles", headers=key
            ).json()
            assert page["total"] == len(prints)


@pytest.mark.timeout(120)
def test_ctrl_c_stops_all(served: Served):
    served.process.send_signal(signal.SIGINT)
    served.process.wait(timeout=60)
    assert served.process.returncode == 0, served.output
    deadline = time.monotonic() + 10
    while answers(f"{served.prefect}/health") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not answers(f"{served.prefect}/health"), "the server outlived serve"


@pytest.mark.timeout(600)
def test_a_run_whose_worker_died_is_marked_crashed_and_a_rerun_stores_every_file_once(
    tmp_path: Path, samples: Path, free_port
):
    """The worker and its flow run are SIGKILLed mid-scan: the run becomes CRASHED, serve starts
    the worker again, and the same scan posted again stores every file exactly once. Also: the
    generated auth string (BQAT_HOME, 0600) reaches the worker and its flow runs, the API key
    does not."""
    folder = tmp_path / "data" / "many"
    folder.mkdir(parents=True)
    sources = sorted((samples / "fingerprint").glob("*.bmp"))  # ~5 ms each: a short re-run
    expected = [f"{i:05d}.bmp" for i in range(FILES_IN_THE_KILLED_SCAN)]
    for i, name in enumerate(expected):
        (folder / name).write_bytes(sources[i % len(sources)].read_bytes())
    api_port = free_port()
    env = {
        **os.environ,
        "BQAT_HOME": str(tmp_path / "home"),
        "BQAT_PREFECT_PORT": str(free_port()),
        "BQAT_PORT": str(api_port),
        "BQAT_DATA_ROOT": str(tmp_path / "data"),
        "BQAT_API_KEY": API_KEY,
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
    key = {"X-API-Key": API_KEY}
    try:
        deadline = time.monotonic() + 180
        while "ready; press Ctrl-C" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        auth_file = tmp_path / "home" / "prefect" / "auth"
        assert auth_file.stat().st_mode & 0o777 == 0o600
        assert auth_file.parent.stat().st_mode & 0o777 == 0o700  # Prefect's database too
        auth = auth_file.read_text().strip()
        assert auth.startswith("bqat:") and len(auth) > 40
        api = f"http://127.0.0.1:{api_port}"
        scan = {"input": "many", "modality": "fingerprint", "dataset_id": "killed"}
        tid = post_json(f"{api}/scan/", scan, key)["tid"]
        while True:
            request = urllib.request.Request(f"{api}/task/{tid}/", headers=key)
            with urllib.request.urlopen(request, timeout=10) as response:
                task = json.loads(response.read())
            if task["progress"]["done"] > 0:
                break
            assert task["finished"] is None, task
            time.sleep(0.2)
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
            environment = environment_of(pid)
            assert "BQAT_API_KEY" not in environment, pid
            assert environment.get("PREFECT_API_AUTH_STRING") == auth, pid
        for pid in scanning:
            os.kill(pid, signal.SIGKILL)  # the machine running the worker is gone
        task = wait_for_task(api, tid, timeout_s=300, headers=key)
        assert task["state"] == "CRASHED", task
        assert "heartbeat" in (task.get("error") or ""), task
        assert "worker exited with code -9; starting it again" in log.read_text()
        stored_before = profile_files(api, "killed", key)
        assert 0 < len(stored_before) < len(expected), "killed mid-scan"

        rerun = post_json(f"{api}/scan/", scan, key)
        task = wait_for_task(api, rerun["tid"], timeout_s=180, headers=key)
        assert task["state"] == "COMPLETED", task
        stored = profile_files(api, "killed", key)
        assert sorted(stored) == expected, "every file exactly once"
        assert httpx.get(f"{api}/scan/killed/errors", headers=key).json() == []
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        assert process.returncode == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
