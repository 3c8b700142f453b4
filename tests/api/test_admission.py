"""Admission of scans is atomic: simultaneous POST /scan/ requests, to one app or to two apps
sharing BQAT_HOME, never start more scans than BQAT_MAX_CONCURRENT_SCANS, nor two into one
dataset."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

from litestar.testing import TestClient

from flows import names

SIMULTANEOUS = 10


def _post_together(
    clients: list[TestClient], body: dict[str, Any]
) -> tuple[Counter[int], list[str]]:
    """SIMULTANEOUS requests spread over the clients, released at once from as many threads
    (each app answers on its own event loop); (status counts, tids of the runs created)."""
    start = threading.Barrier(SIMULTANEOUS)

    def post(i: int) -> Any:
        start.wait()
        return clients[i % len(clients)].post("/scan/", json=body)

    with ThreadPoolExecutor(SIMULTANEOUS) as pool:
        responses = list(pool.map(post, range(SIMULTANEOUS)))
    created = [r.json()["tid"] for r in responses if r.status_code == 201]
    for tid in created:
        clients[0].post(f"/task/{tid}/cancel")
    return Counter(r.status_code for r in responses), created


def _admit(set_env, apps: int) -> None:
    from api.app import create_app

    with ExitStack() as stack:
        clients = [stack.enter_context(TestClient(create_app())) for _ in range(apps)]
        # Runs that other tests left queued count too: the limits are set above them.
        runs = clients[0].app.state.runs
        already = len(clients[0].blocking_portal.call(runs.active, names.SCAN))
        set_env(BQAT_MAX_CONCURRENT_SCANS=str(already + 3))
        statuses, _ = _post_together(clients, {"input": "faces", "modality": "face"})
        assert statuses == {201: 3, 429: SIMULTANEOUS - 3}, statuses

        set_env(BQAT_MAX_CONCURRENT_SCANS=str(already + SIMULTANEOUS))
        body = {"input": "faces", "modality": "face", "dataset_id": "same"}
        statuses, _ = _post_together(clients, body)
        assert statuses == {201: 1, 409: SIMULTANEOUS - 1}, statuses


def test_simultaneous_scans_are_admitted_up_to_the_limit_and_once_per_dataset(data_root, set_env):
    _admit(set_env, apps=1)


def test_admission_is_atomic_across_two_apps_sharing_bqat_home(data_root, set_env):
    """Two app instances, each on its own event loop with its own Prefect client and in-process
    lock: only the lock file in BQAT_HOME orders them, as it orders API processes."""
    _admit(set_env, apps=2)
