"""Which Prefect server a flow run started from this process reports to.

The configured one (PREFECT_API_URL) when there is one; else the server of a running `bqat serve`
whose auth string this user can read, so that `bqat.scan` and the CLI's runs appear in its UI
and no server has to start; else Prefect's temporary server, which Prefect starts once per
process. That start can take well over Prefect's 20 s limit on a loaded machine, and a scan must
not fail for it, so it is given STARTUP_TIMEOUT_S; its telemetry and the runs' heartbeats are off.
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
    ("ephemeral" for Prefect's temporary server)."""
    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    url = f"{get_settings().prefect_url}/api"
    auth = prefect_auth_string()
    updates: dict[Any, Any]
    if auth and answers(f"{url}/health", _HEALTH_TIMEOUT_S):
        updates = {PREFECT_API_URL: url, PREFECT_API_AUTH_STRING: auth}
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
        target = "ephemeral"
    log.debug("flow runs report to %s", target)
    with temporary_settings(updates=updates):
        yield target


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Run the short subflows called inside (outliers, report) without heartbeats of their own.

    Each flow run's heartbeat thread sleeps in 1 s steps and is joined when the run ends, which
    costs up to a second per run; a subflow of seconds gains nothing from it, since its parent's
    heartbeats already show the process alive.
    """
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
