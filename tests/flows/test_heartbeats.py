"""The short subflows after a scan run without heartbeats of their own: the engine joins a run's
heartbeat thread when the run ends, up to a second each."""

from __future__ import annotations

from prefect import flow
from prefect.settings import get_current_settings

from flows.connection import without_heartbeats


@flow
def _child() -> int | None:
    """The heartbeat frequency the engine of this run read (None: no heartbeat thread)."""
    return get_current_settings().flows.heartbeat_frequency


@flow
def _parent() -> tuple[int | None, int | None]:
    beating = _child()
    with without_heartbeats():
        quiet = _child()
    return beating, quiet


def test_a_subflow_inside_without_heartbeats_sends_none_and_others_keep_theirs():
    beating, quiet = _parent()
    assert beating is not None and beating >= 30
    assert quiet is None
