"""The flow tests run against the session's temporary Prefect server."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_server: None) -> None:
    """Every flow test needs it."""
