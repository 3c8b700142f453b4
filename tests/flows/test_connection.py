"""Which heartbeats a run started from this process sends, by the server it reports to."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flows.connection import flow_server

# The crash automation of flows.deployments marks a run CRASHED after 90 s without a heartbeat.
CRASH_SILENCE_S = 90


@pytest.mark.parametrize(("configured", "expected"), [(180, 30), (60, 30), (30, 30), (None, None)])
def test_runs_on_a_lasting_server_beat_within_its_crash_automation_s_silence(configured, expected):
    # A configured, lasting server (nothing is sent to it here).
    settings = {
        PREFECT_API_URL: "http://127.0.0.1:9/api",
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: configured,
    }
    with temporary_settings(updates=settings), flow_server():
        beat = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
    assert beat == expected
    assert beat is None or 3 * beat <= CRASH_SILENCE_S
