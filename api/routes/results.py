"""/scan/{dataset_id}/profiles, /errors and /drift: what the store and the reports hold."""

from __future__ import annotations

import io
import re
from typing import Annotated, Any, Literal

import anyio
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED

from api.schemas import DetectorOut, FileError, OutlierRequest, ProfilesPage, TaskStarted
from bqat.drift import read_drift, write_drift
from bqat.exceptions import ConfigError
from bqat.outliers import DETECTORS, check_request, detect, read_outliers, write_outliers
from bqat.report_files import drift_paths
from bqat.store import Filter, Store
from bqat.store.schema import row_schema

MAX_PAGE = 1000
_FILTER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(<=|>=|!=|=|<|>)(.*)$")


def parse_filter(text: str, schema: pa.Schema) -> Filter:
    """`column<op>value` with the value converted to the column's declared type."""
    match = _FILTER.match(text)
    if match is None:
        raise ConfigError(f"filter {text!r}: expected column<op>value, op one of = != < <= > >=")
    column, op, raw = match.groups()
    if column not in schema.names:
        raise ConfigError(f"cannot filter on {column!r}: not a stored column")
    kind = schema.field(column).type
    try:
        if pa.types.is_integer(kind):
            value: object = int(raw)
        elif pa.types.is_floating(kind):
            value = float(raw)
        elif pa.types.is_boolean(kind):
            value = {"true": True, "false": False}[raw.lower()]
        else:
            value = raw
    except (ValueError, KeyError):
        raise ConfigError(f"filter {text!r}: {raw!r} is not a {kind} value") from None
    return Filter(column, op, value)  # type: ignore[arg-type]


@get(
    "/scan/{dataset_id:str}/profiles",
    summary="Stored rows of a dataset",
    sync_to_thread=True,
    responses={200: ResponseSpec(data_container=ProfilesPage, description="A page of rows")},
)
def profiles(
    request: Request,
    dataset_id: str,
    offset: Annotated[int, Parameter(ge=0)] = 0,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 100,
    order_by: Annotated[str | None, Parameter(description="col,-col (descending)")] = None,
    filter_: Annotated[
        list[str] | None,
        Parameter(query="filter", description="column<op>value, repeatable; ops = != < <= > >="),
    ] = None,
    format_: Annotated[
        Literal["json", "csv", "parquet"],
        Parameter(query="format", description="csv and parquet export every matching row"),
    ] = "json",
) -> Any:
    store: Store = request.app.state.store
    schema = row_schema(store.dataset(dataset_id).modality)
    filters = [parse_filter(f, schema) for f in filter_ or []]
    order = [t for t in (order_by or "").split(",") if t]
    if format_ == "json":
        page = store.profiles(
            dataset_id, offset=offset, limit=limit, order_by=order, filters=filters
        )
        return ProfilesPage(items=page.items, total=page.total, offset=offset, limit=limit)
    table, _ = store.rows(dataset_id, order_by=order, filters=filters)
    buffer = io.BytesIO()
    if format_ == "csv":
        pacsv.write_csv(table, buffer)
        media = "text/csv"
    else:
        pq.write_table(table, buffer, compression="zstd")
        media = "application/vnd.apache.parquet"
    return Response(
        buffer.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{dataset_id}.{format_}"'},
    )


@get("/scan/{dataset_id:str}/errors", summary="Per-file errors", sync_to_thread=True)
def errors(request: Request, dataset_id: str) -> list[FileError]:
    return [FileError(**e) for e in request.app.state.store.errors(dataset_id)]


@get("/scan/{dataset_id:str}/drift", summary="Drift against a reference", sync_to_thread=True)
def drift(
    request: Request,
    dataset_id: str,
    reference: str,
    format_: Annotated[Literal["html", "json"], Parameter(query="format")] = "html",
) -> Any:
    """The stored comparison, made now (and stored) when there is none yet."""
    summary = read_drift(dataset_id, reference)
    if summary is None:
        summary, _ = write_drift(dataset_id, reference)
    if format_ == "json":
        return summary.to_json()
    html_path, _ = drift_paths(dataset_id, reference)
    return Response(html_path.read_bytes(), media_type="text/html")


@get("/scan/{dataset_id:str}/outliers", summary="Outliers of a dataset", sync_to_thread=True)
def outliers(request: Request, dataset_id: str) -> dict[str, Any]:
    """The latest detection (each scan ends with the default one); made now if there is none."""
    request.app.state.store.dataset(dataset_id)
    stored = read_outliers(dataset_id)
    if stored is None:
        result = detect(dataset_id, store=request.app.state.store)
        write_outliers(result)
        stored = result.to_json()
    return stored


@post(
    "/scan/{dataset_id:str}/outliers",
    summary="Detect outliers again with other options (the report is rebuilt with them)",
    status_code=HTTP_202_ACCEPTED,
)
async def rerun_outliers(request: Request, dataset_id: str, data: OutlierRequest) -> TaskStarted:
    detector, contamination = check_request(data.detector, data.contamination, data.columns)
    await anyio.to_thread.run_sync(request.app.state.store.dataset, dataset_id)
    tid = await request.app.state.runs.start(
        "detect-outliers",
        {
            "dataset_id": dataset_id,
            "detector": detector,
            "columns": data.columns,
            "contamination": contamination,
        },
    )
    return TaskStarted(tid=tid)


@get("/scan/detectors", summary="Outlier detectors", sync_to_thread=False)
def detectors() -> list[DetectorOut]:
    return [DetectorOut(name=n, description=d) for n, d in DETECTORS.items()]


ROUTES = [profiles, errors, drift, outliers, rerun_outliers, detectors]
