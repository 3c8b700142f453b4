"""Which Prefect server a flow run started from this process reports to.

The configured one (PREFECT_API_URL) when there is one; else the server of a running `bqat serve`
whose auth string this user can read, so that `bqat.scan` and the CLI's runs appear in its UI
and no server has to start; else Prefect's temporary server, which Prefect starts once per
process. That start can take well over Prefect's 20 s limit on a loaded machine, and a scan must
not fail for it, so it is given STARTUP_TIMEOUT_S; its telemetry and the runs' heartbeats are off.
Runs reporting to a lasting server beat as often as its crash automation expects.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)

from bqat.serve import answers, stored_prefect_auth
from bqat.settings import get_settings

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 180
TEMPORARY = "ephemeral"  # what flow_server yields for Prefect's temporary server
# Seconds between the heartbeats of runs that report to a lasting server (the
# PREFECT_FLOWS_HEARTBEAT_FREQUENCY that `bqat serve` gives its worker too): Prefect's minimum.
HEARTBEAT_S = 30
# Nothing listening answers at once (connection refused); a loaded server may take seconds.
_HEALTH_TIMEOUT_S = 10.0


def prefect_api_url() -> str:
    """The Prefect API in use: the configured one, else the server `bqat serve` starts."""
    return PREFECT_API_URL.value() or f"{get_settings().prefect_url}/api"


def prefect_auth_string() -> str | None:
    """The auth string for this process's Prefect client: PREFECT_API_AUTH_STRING, else the one
    `bqat serve` was given (PREFECT_SERVER_API_AUTH_STRING) or generated into BQAT_HOME."""
    return (
        PREFECT_API_AUTH_STRING.value()
        or os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
        or stored_prefect_auth(get_settings())
    )


@contextmanager
def flow_server() -> Iterator[str]:
    """Point Prefect at the server flow runs of this process report to; yields its API URL
    (TEMPORARY for Prefect's temporary server)."""
    if PREFECT_API_URL.value():
        with temporary_settings(updates=_lasting_server_heartbeats()):
            yield PREFECT_API_URL.value()
        return
    url = f"{get_settings().prefect_url}/api"
    auth = prefect_auth_string()
    updates: dict[Any, Any]
    if auth and answers(f"{url}/health", _HEALTH_TIMEOUT_S):
        updates = {PREFECT_API_URL: url, PREFECT_API_AUTH_STRING: auth}
        updates.update(_lasting_server_heartbeats())
        target = url
    else:
        updates = {
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: STARTUP_TIMEOUT_S,
            PREFECT_SERVER_ANALYTICS_ENABLED: False,
            # Nothing watches heartbeats on a server that lives as long as this process, and
            # each run's heartbeat thread costs up to a second when the run ends.
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        }
        # The temporary server inherits this process's environment: if that holds a server
        # auth string, the temporary server wants it too, so this process's client sends it.
        server_auth = os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
        if server_auth and not PREFECT_API_AUTH_STRING.value():
            updates[PREFECT_API_AUTH_STRING] = server_auth
        target = TEMPORARY
    log.debug("flow runs report to %s", target)
    with temporary_settings(updates=updates):
        yield target


def _lasting_server_heartbeats() -> dict[Any, Any]:
    """Runs that report to a lasting server beat at least every HEARTBEAT_S, as its workers' do.

    The server's crash automation (flows.deployments) marks a run CRASHED after three silent
    beats; at Prefect's default of one beat every 180 s, it would mark every scan of this
    process that runs longer than 90 s. Heartbeats turned off (None) stay off.
    """
    beat = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
    if beat is None or beat <= HEARTBEAT_S:
        return {}
    return {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: HEARTBEAT_S}


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Run the short subflows called inside (outliers, report) without heartbeats of their own.

    Each flow run's heartbeat thread sleeps in 1 s steps and is joined when the run ends, which
    costs up to a second per run; a subflow of seconds gains nothing from it, since its parent's
    heartbeats already show the process alive.
    """
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
