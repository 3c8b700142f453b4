"""The hostile-input suite runs the API under Litestar's test client, against the session's
temporary Prefect server, and the scan flow directly (no worker: a run the API creates stays
queued until the test cancels it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_server: None) -> None:
    """Tasks are flow runs, and scans are flows: every test here needs the server."""


@pytest.fixture
def client(data_root: Path) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client
