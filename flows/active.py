"""The flow runs still to come or under way (queued, pending, running, cancelling)."""

from __future__ import annotations

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType

ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]


async def active_runs(client: PrefectClient, *flow_names: str) -> list[FlowRun]:
    """The runs of these flows that are queued or running, as the server has them."""
    return await client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=list(flow_names))),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE))
        ),
    )
