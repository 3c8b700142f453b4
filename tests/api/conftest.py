"""The API under Litestar's test client, against the session's temporary Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_server: None) -> None:
    """Every API test needs it: tasks are its flow runs."""


@pytest.fixture
def client(data_root: Path) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client
