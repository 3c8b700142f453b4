"""/scan/{dataset_id}/report (GET the HTML, POST a rebuild) and /scan/{dataset_id}/duplicates."""

from __future__ import annotations

from typing import Annotated

import anyio
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_409_CONFLICT

from api.schemas import DuplicateGroupOut, DuplicatesOut, TaskStarted
from bqat.duplicates import DEFAULT_MAX_DISTANCE, MAX_DISTANCE_LIMIT, find_duplicates
from bqat.exceptions import NotFoundError
from bqat.report_files import report_path
from flows import names

WRITERS = (names.SCAN, names.REPORT)  # runs that change what the report shows


async def _refuse_while_writing(request: Request, dataset_id: str) -> None:
    """404 for an unknown dataset; 409 naming the scan or report run still writing it."""
    await anyio.to_thread.run_sync(request.app.state.store.dataset, dataset_id)
    busy = await request.app.state.runs.using([dataset_id], *WRITERS)
    if busy:
        raise HTTPException(
            status_code=HTTP_409_CONFLICT,
            detail=f"dataset {dataset_id} is being scanned or reported on (task {busy[0]}); "
            "the report is ready when that task ends",
        )


@get(
    "/scan/{dataset_id:str}/report",
    summary="The dataset's HTML quality report",
    media_type="text/html",
    responses={200: ResponseSpec(data_container=str, media_type="text/html")},
)
async def report(request: Request, dataset_id: FromPath[str]) -> Response[bytes]:
    await _refuse_while_writing(request, dataset_id)
    path = report_path(dataset_id)
    try:
        html = await anyio.Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"dataset {dataset_id} has no report yet; POST /scan/{dataset_id}/report builds one"
        ) from None
    return Response(html, media_type="text/html")


@post(
    "/scan/{dataset_id:str}/report",
    summary="Build the report again",
    status_code=HTTP_202_ACCEPTED,
)
async def rebuild_report(request: Request, dataset_id: FromPath[str]) -> TaskStarted:
    runs = request.app.state.runs
    async with runs.admission():  # two simultaneous POSTs start one run; the other gets 409
        await _refuse_while_writing(request, dataset_id)
        tid = await runs.start(names.REPORT, {"dataset_id": dataset_id})
    return TaskStarted(tid=tid)


@get(
    "/scan/{dataset_id:str}/duplicates",
    summary="Exact and near-duplicate groups",
    sync_to_thread=True,
)
def duplicates(
    request: Request,
    dataset_id: FromPath[str],
    max_distance: Annotated[
        int,
        Parameter(
            ge=0,
            le=MAX_DISTANCE_LIMIT,
            description="near duplicates differ in at most this many of the 64 phash bits",
        ),
    ] = DEFAULT_MAX_DISTANCE,
) -> DuplicatesOut:
    groups = find_duplicates(dataset_id, max_distance, store=request.app.state.store)
    return DuplicatesOut(
        dataset_id=dataset_id,
        max_distance=max_distance,
        groups=[DuplicateGroupOut(**g.to_json()) for g in groups],
    )


ROUTES = [report, rebuild_report, duplicates]
