"""Without a configured Prefect server or a running `bqat serve`, a Python session that scans
twice starts Prefect's temporary server once, with no telemetry, and both scans complete, also
when a server auth string is in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

TWO_SCANS = textwrap.dedent(
    """
    import json, sys
    import bqat
    first = bqat.scan(sys.argv[1], "face", dataset_id="first")
    second = bqat.scan(sys.argv[1], "face", dataset_id="second")
    print(json.dumps([first.assessed, second.assessed]))
    """
)


@pytest.mark.timeout(300)
def test_two_scans_in_one_session_share_one_temporary_server(tmp_path, samples, free_port):
    folder = tmp_path / "data"
    folder.mkdir()
    for path in sorted((samples / "face").glob("*.jpg"))[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    # No Prefect setting at all (the test session's telemetry switch neither): bqat sets them.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["DO_NOT_TRACK"] = "0"
    # A server auth string in the environment (as `bqat serve` users export it) reaches the
    # temporary server too: the scans' client must then send it.
    env["PREFECT_SERVER_API_AUTH_STRING"] = "operator:secret"
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    env["BQAT_HOME"] = str(tmp_path / "home")
    env["BQAT_PREFECT_PORT"] = str(free_port())  # nothing answers there
    done = subprocess.run(
        [sys.executable, "-c", TWO_SCANS, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert json.loads(done.stdout.splitlines()[-1]) == [2, 2]
    assert output.count("Starting temporary server") == 1, output
    assert "telemetry" not in output.lower(), output
