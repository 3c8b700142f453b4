"""Shared fixtures: the ../shared material, and settings isolated from the caller's environment."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bqat.settings import get_settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# The session starts from a clean environment: settings the caller exported (a typo included,
# which bqat refuses) and a Prefect server they point at must not change what the tests see.
# Kept: where the models are, and where the browser tests keep their screenshots.
KEPT = {"BQAT_MODEL_DIR", "BQAT_KEEP_SCREENSHOTS"}
PREFECT_SERVER_VARIABLES = {
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "PREFECT_API_AUTH_STRING",
    "PREFECT_SERVER_API_AUTH_STRING",
}
for _name in list(os.environ):
    _bqat = _name.upper().startswith("BQAT_") and _name.upper() not in KEPT
    if _bqat or _name in PREFECT_SERVER_VARIABLES:
        del os.environ[_name]

# Models resolve from ../shared/models unless the caller chose a folder (the Makefile does too);
# set for the whole session so that fixtures of any scope see it.
if "BQAT_MODEL_DIR" not in os.environ and (SHARED / "models").is_dir():
    os.environ["BQAT_MODEL_DIR"] = str(SHARED / "models")


# Prefect, where a test starts it, stays offline and quiet.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (SQLite) for the whole session, started on first use."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def crashes_killed_runs(prefect_server: None) -> Iterator[None]:
    """Flow runs this test leaves unfinished (their process SIGKILLed) end CRASHED afterwards,
    as a worker's crash detection would end them: otherwise they stay RUNNING on the session's
    server, and a later test's API counts them as scans running (429)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    unfinished = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING])
        )
    )
    with get_client(sync_client=True) as client:
        before = {run.id for run in client.read_flow_runs(flow_run_filter=unfinished)}
    yield
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=unfinished):
            if run.id not in before:
                client.set_flow_run_state(run.id, Crashed(message="killed by the test"), force=True)


@pytest.fixture
def summarised_datasets(prefect_server: None) -> dict[str, str]:
    """Datasets `gone` and `kept`, each with a summary artifact (`gone`'s in two versions);
    dataset id -> the artifact's key.

    The Prefect server is the session's: earlier tests' artifacts of these keys go first."""
    from dataset_artifacts import stored
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    from bqat.store import Store
    from flows.artifacts import artifact_key

    keys = {d: artifact_key("scan-summary", d) for d in ("gone", "kept")}
    store = Store()
    for dataset_id in ("gone", "kept"):
        store.create_dataset(dataset_id, "face")
        store.append(dataset_id, rows=[{"file": "a.jpg", "sha256": "0" * 64, "ipd": 60}])
    with get_client(sync_client=True) as prefect:
        for artifact in stored(keys["gone"]) + stored(keys["kept"]):
            prefect.delete_artifact(artifact.id)
        for key in [keys["gone"], keys["gone"], keys["kept"]]:
            prefect.create_artifact(ArtifactCreate(key=key, type="table", data=[{"ipd": 60}]))
    return keys


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (models and samples) is not beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def samples(shared: Path) -> Path:
    return shared / "samples"


@pytest.fixture(autouse=True)
def isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every test gets its own BQAT_HOME and model cache."""
    home = tmp_path_factory.mktemp("bqat-home")
    monkeypatch.setenv("BQAT_HOME", str(home))
    monkeypatch.setenv("BQAT_MODEL_CACHE_DIR", str(home / "model-cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


GIL_CALLS = 100  # upper bound on worker calls; with the GIL released the main thread stops it early


def _main_thread_ran_during(work: Callable[[], object]) -> bool:
    """True when the main thread ran Python code while `work` was being called in a loop."""
    started, finished, stop = threading.Event(), threading.Event(), threading.Event()

    def worker() -> None:
        started.set()
        for _ in range(GIL_CALLS):
            if stop.is_set():
                break
            work()
        finished.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    started.wait()
    ran_during = not finished.is_set()
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return ran_during


@pytest.fixture
def main_thread_ran_during() -> Iterator[Callable[[Callable[[], object]], bool]]:
    """Whether a native call releases the GIL: with forced switching off for the test, the main
    thread can run Python while a worker thread calls `work` only if the call released it."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield _main_thread_ran_during
    finally:
        sys.setswitchinterval(previous)


@pytest.fixture
def data_root(tmp_path: Path, samples: Path, set_env) -> Path:
    """BQAT_DATA_ROOT holding `faces/` with three sample faces (the API and robustness tests)."""
    root = tmp_path / "data"
    (root / "faces").mkdir(parents=True)
    for path in sorted((samples / "face").glob("*.jpg"))[:3]:
        shutil.copy(path, root / "faces" / path.name)
    set_env(BQAT_DATA_ROOT=str(root))
    return root


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch):
    """Set BQAT_* variables for one test and re-read the settings."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    return apply


@pytest.fixture
def tally_modality() -> Iterator[str]:
    """The fake modality of tests/fake_modality.py, registered for one test."""
    from fake_modality import ENGINE

    from bqat.engines import register, unregister

    register(ENGINE)
    yield ENGINE.modality
    unregister(ENGINE.modality)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for the browser tests, installed with apt-get when it is missing."""
    import shutil
    import subprocess

    found = shutil.which("chromium")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("chromium is not installed and apt-get cannot install it here (not root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=900)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        check=True,
        env=env,
        timeout=900,
    )
    return shutil.which("chromium") or pytest.fail("apt-get installed no chromium binary")


@pytest.fixture(scope="session")
def screenshot_shows_a_page():
    """A function asserting a browser screenshot is (height, width) and not blank; it is kept
    in the folder BQAT_KEEP_SCREENSHOTS when that is set, for a person to look at."""
    import numpy as np
    from PIL import Image

    def check(shot: Path, size: tuple[int, int]) -> None:
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
        assert pixels.shape == size and pixels.std() > 20, "a blank page"
        keep = get_settings().keep_screenshots
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / shot.name).write_bytes(shot.read_bytes())

    return check


@pytest.fixture(scope="session")
def free_port():
    """A function returning a TCP port that is free on 127.0.0.1 right now."""
    import socket

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    return pick


@pytest.fixture(scope="session")
def zipped():
    """A function making a deflated zip archive (bytes) of name -> content."""
    import io
    import zipfile

    def make(members: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data in members.items():
                bundle.writestr(name, data)
        return buffer.getvalue()

    return make


# The longest files start first, so that with `pytest -n 2 --dist loadfile` (make test) the other
# process works through the rest meanwhile instead of one of them ending the run alone.
LONGEST_FIRST = ("tests/test_serve.py", "tests/test_flow_server.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(Path(__file__).resolve().parents[1]).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: file order and test order within a file are kept
