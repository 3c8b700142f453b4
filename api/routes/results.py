"""/scan/{dataset_id}/profiles, /errors, /outliers and /drift: what the store and the reports hold.

Outliers and drift are computed by flow runs on the workers (PyOD and Evidently never load in the
API process): a GET serves the stored result, and when there is none it answers 202 `{tid}` with
the run that makes it (started then, or the one already queued or running).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_409_CONFLICT

from api.runs import Runs
from api.schemas import (
    DetectorOut,
    FileError,
    OutlierRequest,
    ProfilesPage,
    QualityProfileOut,
    TaskStarted,
)
from bqat.drift import read_drift
from bqat.exceptions import ConfigError
from bqat.measures import available_modalities, check_modality
from bqat.outliers import DETECTORS, check_columns, check_request, read_outliers
from bqat.quality_profiles import quality_profiles
from bqat.report_files import drift_paths
from bqat.store import Filter, Store
from bqat.store.schema import row_schema
from bqat.store.store import json_items
from bqat.verdicts import joined_components, verdict_rows
from flows import names

MAX_PAGE = 1000
AS_OF = "a past state: a snapshot id (GET /scan/{id}/history) or an ISO 8601 time"
REFERENCE = "the reference dataset `id`, or it as it was: `id@snapshot` or `id@ISO 8601 time`"
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
        elif pa.types.is_timestamp(kind):
            value = _timestamp(raw)
        else:
            value = raw
    except (ValueError, KeyError, OverflowError):
        raise ConfigError(f"filter {text!r}: {raw!r} is not {_expected(kind)}") from None
    return Filter(column, op, value)  # type: ignore[arg-type]


def _timestamp(raw: str) -> datetime:
    """An ISO 8601 date or time (`2026-01-15`, `2026-01-15T09:30:00Z`); UTC when no offset."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?", raw):
        raise ValueError(raw)
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _expected(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "an ISO 8601 date or time (e.g. 2026-01-15 or 2026-01-15T09:30:00Z)"
    return f"a {kind} value"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(table: pa.Table) -> pa.Table:
    """Text cells that a spreadsheet would run as a formula, prefixed with `'` (OWASP's advice
    on CSV injection): a file named `=HYPERLINK(...)` stays text."""
    for index, column in enumerate(table.schema):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        values = table.column(index)
        risky = pc.starts_with(values, FORMULA_START[0])
        for start in FORMULA_START[1:]:
            risky = pc.or_(risky, pc.starts_with(values, start))
        if pc.any(risky).as_py():
            quoted = pc.binary_join_element_wise("'", values, "")
            table = table.set_column(index, column, pc.if_else(risky, quoted, values))
    return table


@get(
    "/scan/{dataset_id:str}/profiles",
    summary="Stored rows of a dataset",
    sync_to_thread=True,
    responses={
        200: ResponseSpec(
            data_container=ProfilesPage,
            description="A page of rows",
            generate_examples=False,  # the row models carry the declared examples
        )
    },
)
def profiles(
    request: Request,
    dataset_id: FromPath[str],
    offset: Annotated[int, Parameter(ge=0)] = 0,
    skip: Annotated[
        int | None, Parameter(ge=0, description="BQAT-API's name of `offset` (deprecated)")
    ] = None,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 100,
    order_by: Annotated[str | None, Parameter(description="col,-col (descending)")] = None,
    filter_: Annotated[
        list[str] | None,
        QueryParameter(
            name="filter", description="column<op>value, repeatable; ops = != < <= > >="
        ),
    ] = None,
    format_: Annotated[
        Literal["json", "csv", "parquet"],
        QueryParameter(name="format", description="csv and parquet export every matching row"),
    ] = "json",
    as_of: Annotated[str | None, Parameter(description=AS_OF)] = None,
    verdict: Annotated[
        Literal["pass", "fail", "unknown"] | None,
        Parameter(description="only rows with this verdict under `profile`"),
    ] = None,
    profile: Annotated[
        str | None,
        Parameter(
            description="a quality profile (GET /quality-profiles); with it or `verdict`, "
            "each row carries `verdict`, `failed_components` and `unknown_components` "
            "(default profile: the modality's first)"
        ),
    ] = None,
) -> Any:
    if skip is not None:  # a BQAT-API client pages with it: never ignored
        if offset not in (0, skip):
            raise ConfigError(
                f"offset {offset} and skip {skip} differ: give one (skip is BQAT-API's)"
            )
        offset = skip
    store: Store = request.app.state.store
    schema = row_schema(store.dataset(dataset_id, as_of=as_of).modality)
    filters = [parse_filter(f, schema) for f in filter_ or []]
    order = [t for t in (order_by or "").split(",") if t]
    judged = verdict is not None or profile is not None
    if format_ == "json" and not judged:
        page = store.profiles(
            dataset_id, offset=offset, limit=limit, order_by=order, filters=filters, as_of=as_of
        )
        return ProfilesPage(items=page.items, total=page.total, offset=offset, limit=limit)
    if judged:  # verdicts computed now from the stored values, then filtered and paged
        table, _ = verdict_rows(
            store,
            dataset_id,
            profile=profile,
            verdict=verdict,
            order_by=order,
            filters=filters,
            as_of=as_of,
        )
    else:
        table, _ = store.rows(dataset_id, order_by=order, filters=filters, as_of=as_of)
    if format_ == "json":
        page_rows = json_items(table.slice(offset, limit))
        return ProfilesPage(items=page_rows, total=table.num_rows, offset=offset, limit=limit)
    buffer = io.BytesIO()
    if format_ == "csv":
        pacsv.write_csv(csv_safe(joined_components(table)), buffer)
        media = "text/csv"
    else:
        pq.write_table(table, buffer, compression="zstd")
        media = "application/vnd.apache.parquet"
    return Response(
        buffer.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{dataset_id}.{format_}"'},
    )


@get("/quality-profiles", summary="Quality profiles and their thresholds", sync_to_thread=False)
def quality_profile_list(modality: FromQuery[str | None] = None) -> list[QualityProfileOut]:
    """The declared quality profiles of one modality (or of every built one), the modality's
    default first: each threshold with the values that pass and where they come from. Rows of
    a dataset with their verdicts: GET /scan/{id}/profiles?profile=NAME&verdict=fail."""
    modalities = [check_modality(modality)] if modality else available_modalities()
    return [
        QualityProfileOut.of(p.to_json(), default=index == 0)
        for m in modalities
        for index, p in enumerate(quality_profiles(m))
    ]


@get("/scan/{dataset_id:str}/errors", summary="Per-file errors", sync_to_thread=True)
def errors(
    request: Request,
    dataset_id: FromPath[str],
    as_of: Annotated[str | None, Parameter(description=AS_OF)] = None,
) -> list[FileError]:
    return [FileError(**e) for e in request.app.state.store.errors(dataset_id, as_of=as_of)]


@dataclass
class Snapshot:
    """One entry of a dataset's history: the commits of one flow run, at its last snapshot."""

    snapshot: int
    time: str
    flow_run: str | None
    added: int
    changed: int
    removed: int


@get("/scan/{dataset_id:str}/history", summary="Snapshots of a dataset", sync_to_thread=True)
def history(request: Request, dataset_id: FromPath[str]) -> list[Snapshot]:
    """Every scan, import and deletion, oldest first: when, by which flow run, how many files
    were added, changed and removed. Read a past state with `as_of={snapshot}`."""
    return [Snapshot(**entry) for entry in request.app.state.store.history(dataset_id)]


def _accepted(tid: str) -> Response[Any]:
    return Response({"tid": tid}, status_code=HTTP_202_ACCEPTED)


_MAKING = "no result is stored yet: task `tid` makes it; GET again when that task has ended"


@get(
    "/scan/{dataset_id:str}/drift",
    summary="Drift against a reference: the stored comparison, or 202 {tid} of the run making it",
    responses={
        200: ResponseSpec(data_container=str, media_type="text/html", description="The report"),
        202: ResponseSpec(data_container=TaskStarted, description=_MAKING),
    },
)
async def drift(
    request: Request,
    dataset_id: FromPath[str],
    reference: Annotated[str, Parameter(description=REFERENCE)],
    format_: Annotated[Literal["html", "json"], QueryParameter(name="format")] = "html",
) -> Response[Any]:
    """The stored comparison (HTML, or JSON with `format=json`). When there is none, a
    compare-drift run is started on the workers (or the one already under way is named): 202
    `{tid}`. `reference` may name a past state, `id@snapshot` or `id@ISO time` (resolved to its
    snapshot). 409 while either dataset is being scanned (a past snapshot stays as it is); 404
    for an unknown dataset or snapshot; 422 for a malformed reference."""
    store: Store = request.app.state.store
    reference = await anyio.to_thread.run_sync(store.pin, reference)
    found = await anyio.to_thread.run_sync(_stored_drift, store, dataset_id, reference, format_)
    if found is not None:
        return found
    runs: Runs = request.app.state.runs
    async with runs.admission():
        scanning = await runs.using([dataset_id, reference], names.SCAN)
        if scanning:
            raise HTTPException(
                status_code=HTTP_409_CONFLICT,
                detail=f"dataset {dataset_id} or {reference} is being scanned (task "
                f"{scanning[0]}); compare them when that task ends",
            )
        found = await anyio.to_thread.run_sync(_stored_drift, store, dataset_id, reference, format_)
        if found is not None:  # stored while this request waited for the lock
            return found
        making = [
            tid
            for tid, p in (await runs.active_parameters(names.DRIFT)).items()
            if (p.get("dataset_id"), p.get("reference_id")) == (dataset_id, reference)
        ]
        if making:
            tid = making[0]
        else:
            tid = await runs.start(
                names.DRIFT, {"dataset_id": dataset_id, "reference_id": reference}
            )
    return _accepted(tid)


def _stored_drift(
    store: Store, dataset_id: str, reference: str, format_: str
) -> Response[Any] | None:
    """404 for an unknown dataset, 422 for datasets of two modalities; the stored comparison."""
    current, other = store.dataset(dataset_id), store.dataset(reference)
    if current.modality != other.modality:
        raise ConfigError(
            f"cannot compare {current.modality} dataset {dataset_id} with "
            f"{other.modality} dataset {reference}"
        )
    summary = read_drift(dataset_id, reference)
    if summary is None:
        return None
    if format_ == "json":
        return Response(summary.to_json())
    html_path, _ = drift_paths(dataset_id, reference)
    try:
        return Response(html_path.read_bytes(), media_type="text/html")
    except FileNotFoundError:  # its JSON without its HTML: make both again
        return None


@get(
    "/scan/{dataset_id:str}/outliers",
    summary="Outliers of a dataset: the latest detection, or 202 {tid} of the run making it",
    responses={202: ResponseSpec(data_container=TaskStarted, description=_MAKING)},
)
async def outliers(request: Request, dataset_id: FromPath[str]) -> Response[dict[str, Any]]:
    """The latest detection (each scan ends with the default one). When none is stored, a
    detect-outliers run with the default options is started on the workers (or the scan or
    detection of this dataset already under way is named): 202 `{tid}`."""
    store: Store = request.app.state.store
    await anyio.to_thread.run_sync(store.dataset, dataset_id)
    stored = await anyio.to_thread.run_sync(read_outliers, dataset_id)
    if stored is not None:
        return Response(stored)
    runs: Runs = request.app.state.runs
    async with runs.admission():
        stored = await anyio.to_thread.run_sync(read_outliers, dataset_id)
        if stored is not None:  # stored while this request waited for the lock
            return Response(stored)
        # A scan ends with a detection.
        making = await runs.using([dataset_id], names.SCAN, names.OUTLIERS)
        tid = making[0] if making else await runs.start(names.OUTLIERS, {"dataset_id": dataset_id})
    return _accepted(tid)


@post(
    "/scan/{dataset_id:str}/outliers",
    summary="Detect outliers again with other options (the report is rebuilt with them)",
    status_code=HTTP_202_ACCEPTED,
)
async def rerun_outliers(
    request: Request, dataset_id: FromPath[str], data: JSONBody[OutlierRequest]
) -> TaskStarted:
    detector, contamination = check_request(data.detector, data.contamination, data.columns)
    info = await anyio.to_thread.run_sync(request.app.state.store.dataset, dataset_id)
    if data.columns:
        check_columns(info.modality, data.columns)  # 422 now, not a failed run later
    tid = await request.app.state.runs.start(
        names.OUTLIERS,
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


ROUTES = [
    profiles,
    quality_profile_list,
    errors,
    history,
    drift,
    outliers,
    rerun_outliers,
    detectors,
]
