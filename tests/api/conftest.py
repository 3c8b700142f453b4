"""The API under Litestar's test client, against the session's temporary Prefect server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def data_root(tmp_path: Path, samples: Path, set_env) -> Path:
    root = tmp_path / "data"
    (root / "faces").mkdir(parents=True)
    for path in sorted((samples / "face").glob("*.jpg"))[:3]:
        shutil.copy(path, root / "faces" / path.name)
    set_env(BQAT_DATA_ROOT=str(root))
    return root


@pytest.fixture
def client(data_root: Path) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client
