"""/docs rendered by headless Chromium with every host but 127.0.0.1 unreachable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture
def api_url(tmp_path: Path, free_port):
    port = free_port()
    env = {
        **os.environ,
        "BQAT_HOME": str(tmp_path / "home"),
        "PREFECT_API_URL": PREFECT_API_URL.value(),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.5)
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.timeout(300)
def test_swagger_ui_renders_every_route_with_no_other_host_reachable(
    chromium, api_url, tmp_path, screenshot_shows_a_page
):
    browser = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        OFFLINE,
        "--window-size=1280,1400",
        "--virtual-time-budget=15000",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*browser, "--dump-dom", f"{api_url}/docs"], capture_output=True, text=True, timeout=120
    ).stdout
    assert 'class="swagger-ui"' in dom
    for path in ("/scan/uploaded", "/task/{tid}", "/scan/{dataset_id}/profiles", "/assess"):
        assert f'data-path="{path}"' in dom, path
    shot = tmp_path / "docs.png"
    subprocess.run([*browser, f"--screenshot={shot}", f"{api_url}/docs"], timeout=120, check=True)
    screenshot_shows_a_page(shot, (1400, 1280))
