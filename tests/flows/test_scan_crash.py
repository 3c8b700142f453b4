"""A scan killed with SIGKILL halfway loses nothing: the re-run stores every file exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import bqat
from bqat.exceptions import NotFoundError
from bqat.settings import get_settings
from bqat.store import Store

# The scan hangs on 10.jpg, so it is always killed halfway, however fast the other batches go
# (its batch is never stored; the other thread stores the rest).
SCAN = textwrap.dedent(
    """
    import sys, time
    import bqat
    import bqat.scanning as scanning
    assess = scanning.assess_sample
    def held(path, *args, **options):
        if path.name == "10.jpg":
            time.sleep(3600)
        return assess(path, *args, **options)
    scanning.assess_sample = held
    bqat.scan(sys.argv[1], "face", dataset_id="crash", batch_size=2)
    """
)


@pytest.mark.timeout(300)
def test_a_killed_scan_completes_on_rerun_with_every_file_once(
    tmp_path, samples, crashes_killed_runs
):
    from prefect.settings import PREFECT_API_URL

    folder = tmp_path / "data"
    folder.mkdir()
    sources = sorted((samples / "face").glob("*.jpg"))
    for i in range(24):
        shutil.copy(sources[i % len(sources)], folder / f"{i:02d}.jpg")
    home = get_settings().home  # this test's own BQAT_HOME (conftest), shared with the child
    store = Store(home / "store")

    def stored() -> int:
        try:
            return store.dataset("crash").rows
        except NotFoundError:
            return 0

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "BQAT_FILE_TIMEOUT_S": "3600"}
    scan = subprocess.Popen([sys.executable, "-c", SCAN, str(folder)], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and scan.poll() is None:
            if stored() >= 6:  # three batches of two
                break
            time.sleep(0.05)
        assert scan.poll() is None, "the scan ended before it could be killed"
        scan.send_signal(signal.SIGKILL)
        scan.wait(timeout=30)
    finally:
        if scan.poll() is None:
            scan.kill()
    stored_before = store.profiles("crash").total
    assert 0 < stored_before < 24

    summary = bqat.scan(folder, "face", dataset_id="crash", batch_size=2)
    assert summary.skipped == stored_before
    assert summary.assessed == 24 - stored_before
    page = store.profiles("crash")
    assert page.total == 24
    assert sorted(r["file"] for r in page.items) == [f"{i:02d}.jpg" for i in range(24)]
    assert store.errors("crash") == []
