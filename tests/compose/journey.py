"""The compose project end to end, as a user runs it (`make compose-test`; needs Docker).

Builds the image, starts docker-compose.yml with a temporary data folder and the models of
MODELS_DIR, then drives the published API: a scan of a few faces to COMPLETED with its
profiles, outliers and report; a larger scan whose worker container is killed mid-scan, then
run again (every file stored exactly once); the Prefect port refusing a request without the
auth string; Prefect's runs and the store's snapshots in PostgreSQL. Everything is torn down
with its volumes, also on failure or interruption. `--dask N` runs it on the profile `dask`
(docker/dask.env) with N Dask workers, and checks that the scans' flow runs used the cluster.

Not a pytest module (pytest collects test_*.py only): plain Python with the standard library,
so that it runs without the project's virtual environment.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FACES = 7
LARGE = 300
BATCH = 10  # files per assess task of the large scan: progress moves while it is killed
STARTED = time.monotonic()


class JourneyError(Exception):
    """A step of the journey did not give what a user expects."""


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f} s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def compose_command() -> list[str]:
    """Docker Compose v2 when the plugin is there, else docker-compose (1.28 or later)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise JourneyError("neither `docker compose` nor `docker-compose` is installed")


def request(
    url: str, body: Any = None, auth: str | None = None, method: str | None = None
) -> tuple[int, bytes]:
    """Status and body of one HTTP request (JSON body when given); errors are answers too."""
    headers = {"content-type": "application/json"} if body is not None else {}
    if auth:
        headers["authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(call, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """The first truthy value of `check()`, or `JourneyError` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, ValueError):  # not listening yet, or an answer that is no JSON yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise JourneyError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


class Project:
    """One compose project with its own name, ports, data and volumes."""

    def __init__(self, data: Path, models: Path, dask_workers: int) -> None:
        self.name = f"bqat-compose-test-{os.getpid()}"
        self.auth = f"bqat:{secrets.token_urlsafe(16)}"
        self.api = f"http://127.0.0.1:{free_port()}"
        self.prefect = f"http://127.0.0.1:{free_port()}"
        self.dask_workers = dask_workers
        env_file = ["--env-file", str(ROOT / "docker" / "dask.env")] if dask_workers else []
        self.compose = [*compose_command(), "--project-name", self.name, *env_file]
        self.environment = {
            **os.environ,
            "PREFECT_AUTH": self.auth,
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "DATA_DIR": str(data),
            "MODELS_DIR": str(models),
            "API_PORT": self.api.rsplit(":", 1)[1],
            "PREFECT_PORT": self.prefect.rsplit(":", 1)[1],
            "PREFECT_UI_URL": self.prefect,
            "BQAT_PUBLIC_URL": self.api,
        }

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [*self.compose, *args],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
        )
        if check and done.returncode:
            raise JourneyError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def containers(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).split()

    def health(self, service: str) -> list[str]:
        states = []
        for container in self.containers(service):
            inspected = subprocess.run(
                ["docker", "inspect", "--format", "{{.State.Health.Status}}", container],
                capture_output=True,
                text=True,
            )
            states.append(inspected.stdout.strip())
        return states

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = request(self.api + path)
        return status, json.loads(body) if body else None

    def scan(self, folder: str, dataset_id: str, **options: Any) -> str:
        body = {"input": folder, "modality": "face", "dataset_id": dataset_id}
        if options:
            body["options"] = options
        status, answer = request(self.api + "/scan/", body)
        if status != 201:
            raise JourneyError(f"POST /scan/ {folder}: {status} {answer[:300]!r}")
        return json.loads(answer)["tid"]

    def task(self, tid: str) -> dict[str, Any]:
        status, task = self.get_json(f"/task/{tid}/")
        if status != 200:
            raise JourneyError(f"GET /task/{tid}/: {status} {task}")
        return task

    def until_final(self, tid: str, timeout: float) -> dict[str, Any]:
        final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
        return wait_for(f"task {tid} final", lambda: _final(self.task(tid), final), timeout, 2)

    def files(self, dataset_id: str) -> list[str]:
        names: list[str] = []
        while True:
            status, page = self.get_json(
                f"/scan/{dataset_id}/profiles?limit=1000&offset={len(names)}"
            )
            if status != 200:
                raise JourneyError(f"profiles of {dataset_id}: {status} {page}")
            names += [row["file"] for row in page["items"]]
            if not page["items"] or len(names) >= page["total"]:
                return names


def _final(task: dict[str, Any], final: set[str]) -> dict[str, Any] | None:
    return task if task["state"] in final else None


def prepare_data(data: Path, samples: Path) -> None:
    """data/faces: the samples; data/large: LARGE copies of them under distinct names."""
    images = sorted(p for p in samples.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    if len(images) < FACES:
        raise JourneyError(f"{samples}: {len(images)} face images, {FACES} wanted")
    (data / "faces").mkdir(parents=True)
    (data / "large").mkdir()
    for image in images[:FACES]:
        shutil.copy(image, data / "faces" / image.name)
    for index in range(LARGE):
        image = images[index % FACES]
        shutil.copy(image, data / "large" / f"{index:03d}_{image.name}")
    for path in [data, *data.rglob("*")]:  # the containers run as uid 1000
        path.chmod(0o755 if path.is_dir() else 0o644)


def start(project: Project) -> None:
    scale = ["--scale", f"dask-worker={project.dask_workers}"] if project.dask_workers else []
    project.run("up", "-d", *scale)
    expected = {"postgres": 1, "prefect-server": 1, "api": 1, "worker": 1}
    if project.dask_workers:
        expected |= {"dask-scheduler": 1, "dask-worker": project.dask_workers}
    for service, count in expected.items():
        healthy = ["healthy"] * count
        wait_for(f"{service} healthy", lambda s=service, h=healthy: project.health(s) == h, 300, 2)
    log(f"up: api {project.api}, prefect {project.prefect}, healthy: {expected}")
    models = project.run("logs", "--no-color", "models")
    if "missing" in models:
        raise JourneyError(f"the models service found models missing:\n{models}")


def check_prefect_auth(project: Project) -> None:
    url = project.prefect + "/api/artifacts/filter"
    without, _ = request(url, {}, method="POST")
    wrong, _ = request(url, {}, auth="bqat:wrong", method="POST")
    right, _ = request(url, {}, auth=project.auth, method="POST")
    log(f"prefect {url}: no credentials {without}, wrong {wrong}, auth string {right}")
    if (without, wrong, right) != (401, 401, 200):
        raise JourneyError("the Prefect API must refuse requests without its auth string")


def check_journey(project: Project) -> None:
    tid = project.scan("faces", "faces")
    task = project.until_final(tid, 600)
    log(f"scan faces: {task['state']}, progress {task.get('progress')}")
    if task["state"] != "COMPLETED":
        raise JourneyError(f"scan of faces ended {task['state']}: {task}")
    files = project.files("faces")
    log(f"profiles: {len(files)} rows")
    if sorted(files) != sorted(set(files)) or len(files) != FACES:
        raise JourneyError(f"profiles of faces: {len(files)} rows, {FACES} expected")

    def outliers() -> Any:
        status, answer = project.get_json("/scan/faces/outliers")
        if status == 202:
            project.until_final(answer["tid"], 300)
            return None
        if status != 200:
            raise JourneyError(f"outliers: {status} {answer}")
        return answer

    detection = wait_for("outliers", outliers, 300, 2)
    log(f"outliers: 200, keys {sorted(detection)[:6]}")
    status, report = request(project.api + "/scan/faces/report")
    if status != 200 or b"<html" not in report[:2000].lower():
        raise JourneyError(f"report: {status} {report[:300]!r}")
    log(f"report: 200, {len(report) / 1e6:.1f} MB of HTML")


def check_killed_worker(project: Project) -> None:
    tid = project.scan("large", "large", batch_size=BATCH)
    task = wait_for(
        "large scan under way",
        lambda: (t := project.task(tid))["progress"]["done"] >= 2 * BATCH and t,
        600,
        0.5,
    )
    killed = project.containers("worker")
    subprocess.run(["docker", "kill", *killed], check=True, capture_output=True)
    log(f"killed worker {killed[0][:12]} at {task['progress']['done']}/{LARGE} files")
    task = project.until_final(tid, 600)
    log(f"the killed scan ended {task['state']}, progress {task['progress']}")
    if task["state"] == "COMPLETED":
        raise JourneyError("the scan completed although its worker was killed")
    project.run("up", "-d", "--no-deps", "worker")  # whether or not docker restarted it
    wait_for("worker healthy again", lambda: project.health("worker") == ["healthy"], 180, 2)
    task = project.until_final(project.scan("large", "large", batch_size=BATCH), 1200)
    log(f"re-run: {task['state']}, progress {task['progress']}")
    if task["state"] != "COMPLETED":
        raise JourneyError(f"re-run ended {task['state']}: {task}")
    files = project.files("large")
    log(f"profiles: {len(files)} rows, {len(set(files))} distinct files")
    if len(files) != LARGE or len(set(files)) != LARGE:
        raise JourneyError(f"{len(files)} rows for {LARGE} files: each must be stored once")


def check_profiles(project: Project) -> None:
    """Where the profiles put Prefect's runs, the store's catalog and the scans' tasks."""
    counts = {}
    for database, table in (("prefect", "flow_run"), ("ducklake", "ducklake_snapshot")):
        query = f"SELECT count(*) FROM {table}"
        psql = ["psql", "--username=bqat", f"--dbname={database}", "-tAc", query]
        counts[f"{database}.{table}"] = int(project.run("exec", "-T", "postgres", *psql))
    log(f"postgres rows: {counts}")
    if not all(counts.values()):
        raise JourneyError("Prefect's runs and the store's snapshots belong in PostgreSQL")
    if project.dask_workers:
        logs = project.run("logs", "--no-color", "worker")
        cluster = "tcp://dask-scheduler:8786"
        log(f"flow runs connected to the Dask cluster {cluster}: {logs.count(cluster)} times")
        if cluster not in logs:
            raise JourneyError("the scans' tasks did not run on the Dask cluster")


def exit_times(project: Project, since: float) -> dict[str, float]:
    """Seconds from `since` (epoch) until each container of the project exited."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{.Name}} {{.State.FinishedAt}}", *listed],
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    times = {}
    for line in filter(None, inspected):
        name, finished = line.split()
        stamp = datetime.fromisoformat(finished[:26].rstrip("Z") + "+00:00").timestamp()
        times[name.strip("/").removeprefix(project.name + "_")] = round(stamp - since, 1)
    return dict(sorted(times.items(), key=lambda item: item[1]))


def tear_down(project: Project) -> None:
    began, since = time.monotonic(), time.time()
    project.run("stop", check=False)
    stopped = time.monotonic() - began
    log(f"stop: each container exited after (s): {exit_times(project, since)}")
    project.run("down", "--volumes", "--remove-orphans", check=False)
    left = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={project.name}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    log(f"stop took {stopped:.1f} s; down --volumes: {len(left)} volumes left")
    if stopped > 10 or left:
        raise JourneyError("every service must stop within 10 s and leave no volume")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="use the bqat:local image as is")
    parser.add_argument("--models", type=Path, default=os.environ.get("MODELS_DIR"))
    parser.add_argument("--samples", type=Path, default=SHARED / "samples" / "face")
    parser.add_argument("--dask", type=int, default=0, metavar="N", help="N Dask workers")
    args = parser.parse_args()
    models = args.models or SHARED / "models"
    if not models.is_dir():
        raise JourneyError(f"no models folder {models}: set MODELS_DIR")
    # SIGTERM (a CI timeout) tears down as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not args.no_build:
        log("building bqat:local")
        subprocess.run(
            ["docker", "build", "--network", "host", "-t", "bqat:local", "."],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with tempfile.TemporaryDirectory(prefix="bqat-compose-") as temporary:
        data = Path(temporary) / "data"
        prepare_data(data, args.samples)
        project = Project(data, models.resolve(), args.dask)
        try:
            start(project)
            check_prefect_auth(project)
            check_journey(project)
            check_killed_worker(project)
            check_profiles(project)
        except BaseException:
            print(project.run("logs", "--no-color", "--tail", "40", check=False), flush=True)
            raise
        finally:
            tear_down(project)
    log("compose journey passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except JourneyError as error:
        log(f"FAILED: {error}")
        sys.exit(1)
