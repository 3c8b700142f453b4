"""BQAT-API's paths, for clients migrating from it: an alias where a route here means the same,
a 410 naming the route to use where it does not.

An alias answers exactly as its successor does (the same status and body, not BQAT-API's) with
`Deprecation: true` and `Link: <successor>; rel="successor-version"`, and is listed in the
OpenAPI schema as deprecated. The paths that are gone are answered only when no route here
matches (an unknown path or method), so they never shadow a dataset or task id; they are not
in the schema. The README's "Migrating from BQAT-API" table lists both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_410_GONE
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.routes import meta, reports, results, scans
from api.schemas import (
    InfoOut,
    OutlierRequest,
    ScanRequest,
    TaskCreated,
    TaskOut,
    TaskStarted,
    UpstreamReportOptions,
)
from bqat.exceptions import ConfigError


def successor_headers(app: ASGIApp) -> ASGIApp:
    """Middleware of every alias: its answers, errors included, say that it is deprecated and
    link the route that replaces it (the handler's `opt["successor"]`, with the path's ids)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        template: str = scope["route_handler"].opt["successor"]
        ids = {k: quote(str(v), safe="") for k, v in scope["path_params"].items()}
        link = f'<{template.format(**ids)}>; rel="successor-version"'.encode()

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"deprecation", b"true")]
                message["headers"] = [*headers, (b"link", link)]
            await send(message)

        await app(scope, receive, send_marked)

    return middleware


def alias(successor: str) -> dict[str, Any]:
    """The route options of an alias of `successor` (a path template with the alias's ids)."""
    return {
        "deprecated": True,
        "middleware": [successor_headers],
        "opt": {"successor": successor},
        "description": f"BQAT-API's path, answered as {successor} answers (use that instead).",
        "response_headers": [
            ResponseHeader(name="Deprecation", value="true", documentation_only=True),
            ResponseHeader(
                name="Link",
                documentation_only=True,
                description=f'<{successor}>; rel="successor-version", with the ids filled in',
            ),
        ],
    }


Trigger = Annotated[
    bool, Parameter(description="BQAT-API's; only true: every admitted task starts at once.")
]


def check_trigger(trigger: bool) -> None:
    if not trigger:
        raise ConfigError(
            "trigger=false is BQAT-API's (a task created to be started later); here every "
            "admitted task starts at once: send the request when it should run"
        )


@post("/scan/local", status_code=HTTP_201_CREATED, **alias("/scan/"))
async def scan_local(
    request: Request,
    data: JSONBody[ScanRequest],
    modality: scans.QueryModality = None,
    trigger: Trigger = True,
) -> TaskCreated:
    check_trigger(trigger)
    return await scans.scan_folder.fn(request, data=data, modality=modality)


@post(
    "/scan/remote",
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,  # streamed to disk under BQAT_MAX_UPLOAD_BYTES, as its successor
    **alias("/scan/uploaded"),
)
async def scan_remote(
    request: Request,
    modality: scans.QueryModality = None,
    engine: Annotated[str, Parameter(description="Only 'default' or 'bqat'.")] = "bqat",
    trigger: Trigger = True,
) -> TaskCreated:
    """BQAT-API's `fusion` is not read: it only applied to engine=fusion, refused here."""
    check_trigger(trigger)
    scans.check_engine(engine, modality)
    return await scans.scan_uploaded.fn(request, modality=modality)


@get("/task/{tid:str}/status", **alias("/task/{tid}/"))
async def task_status(request: Request, tid: FromPath[str]) -> TaskOut:
    """The task's `state` and `progress`, also once it has ended (BQAT-API answered 404 then)."""
    return await scans.read_task.fn(request, tid)


@post(
    "/scan/{dataset_id:str}/report/generate",
    status_code=HTTP_202_ACCEPTED,
    **alias("/scan/{dataset_id}/report"),
)
async def generate_report(
    request: Request,
    dataset_id: FromPath[str],
    data: JSONBody[UpstreamReportOptions | None] = None,
    trigger: Trigger = True,
) -> TaskStarted:
    check_trigger(trigger)
    if data is not None and (data.minimal or data.downsample not in (None, 1)):
        raise ConfigError(
            "minimal and downsample are BQAT-API's: bqat builds one report from every row; "
            "leave them out"
        )
    return await reports.rebuild_report.fn(request, dataset_id)


@post(
    "/scan/{dataset_id:str}/outliers/detect",
    status_code=HTTP_202_ACCEPTED,
    **alias("/scan/{dataset_id}/outliers"),
)
async def detect_outliers(
    request: Request,
    dataset_id: FromPath[str],
    data: JSONBody[OutlierRequest],
    trigger: Trigger = True,
) -> TaskStarted:
    """BQAT-API's detector `default` is ECOD, and its empty `columns` the default columns."""
    check_trigger(trigger)
    detector = "ECOD" if data.detector == "default" else data.detector
    columns = data.columns or None
    chosen = OutlierRequest(detector=detector, columns=columns, contamination=data.contamination)
    return await results.rerun_outliers.fn(request, dataset_id, data=chosen)


@get("/scan/info", sync_to_thread=True, **alias("/info"))
def scan_info() -> InfoOut:
    return meta.info.fn()


@dataclass(frozen=True)
class Gone:
    """A BQAT-API route with no equivalent here; `instead` says what to do (`{name}`: the path's
    segment of that name)."""

    method: str
    path: str
    instead: str

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """`{name}` matches one segment, `{path}` the rest; a trailing slash is allowed."""
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(pattern.replace("(?P<path>[^/]+)", "(?P<path>.+)") + "/?")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path) if method == self.method else None
        return found.groupdict() if found else None


NO_PREPROCESSING = (
    "preprocessing is POST /preprocess/ (into a new folder; GET /task/{tid}/ follows it and "
    "POST /task/{tid}/cancel stops it)"
)
NO_QUEUE = (
    "there is no queue: tasks are Prefect flow runs, GET /task/ lists them and POST "
    "/task/{tid}/cancel cancels one"
)
GONE = [  # the first that matches answers: fixed paths before those with ids
    Gone("GET", "/scan/logs", "GET /datasets/ lists the datasets (`rows` counts the samples)"),
    Gone("GET", "/scan/logs/{id}", "GET /datasets/{id} (`rows` counts the samples)"),
    Gone(
        "DELETE",
        "/scan/logs/{id}",
        "there is no separate dataset log: DELETE /datasets/{id} deletes the dataset",
    ),
    Gone("GET", "/scan/{id}/profiles/count", "GET /scan/{id}/profiles?limit=1 counts as `total`"),
    Gone(
        "GET",
        "/scan/{id}/profiles/{scan_id}",
        "rows are found by file: GET /scan/{id}/profiles?filter=file=NAME",
    ),
    Gone(
        "DELETE",
        "/scan/{id}/profiles",
        "DELETE /datasets/{id} deletes the rows with the dataset's errors, reports and uploads",
    ),
    Gone(
        "DELETE",
        "/scan/{id}/profiles/{scan_id}",
        "rows are not deleted one by one: DELETE /datasets/{id} deletes the dataset",
    ),
    Gone(
        "DELETE",
        "/scan/{id}/outliers",
        "the latest detection stays until POST /scan/{id}/outliers replaces it; DELETE "
        "/datasets/{id} deletes it with the dataset",
    ),
    Gone(
        "DELETE",
        "/scan/{id}/report",
        "the report stays until POST /scan/{id}/report rebuilds it; DELETE /datasets/{id} "
        "deletes it with the dataset",
    ),
    Gone(
        "POST",
        "/scan/report/remote",
        "reports are built from datasets scanned here: POST /scan/{id}/report",
    ),
    Gone("POST", "/scan/preprocessing", NO_PREPROCESSING),
    Gone("GET", "/scan/preprocessing/{tid}", NO_PREPROCESSING),
    Gone("DELETE", "/scan/preprocessing/{tid}", NO_PREPROCESSING),
    Gone("DELETE", "/scan/preprocessing/{tid}/log", NO_PREPROCESSING),
    Gone("GET", "/scan/status", "GET /task/ lists the tasks with their state and progress"),
    Gone("POST", "/scan/pause", "scans are not paused: POST /task/{tid}/cancel cancels one"),
    Gone("POST", "/scan/pause/{tid}", "scans are not paused: POST /task/{tid}/cancel cancels it"),
    Gone("POST", "/scan/resume", "a cancelled scan is not resumed: POST /scan/ starts another"),
    Gone(
        "POST", "/scan/resume/{tid}", "a cancelled scan is not resumed: POST /scan/ starts another"
    ),
    Gone("POST", "/scan/clear", NO_QUEUE),
    Gone("GET", "/task/queue", NO_QUEUE),
    Gone("DELETE", "/task/queue", NO_QUEUE),
    Gone("POST", "/task/queue/push", NO_QUEUE),
    Gone("POST", "/task/queue/pop", NO_QUEUE),
    Gone("POST", "/task/cancel/{tid}", "POST /task/{tid}/cancel"),
    Gone("POST", "/task/cancel", NO_QUEUE),
    Gone("GET", "/task/logs", "GET /task/ lists every task with its `kind`"),
    Gone("GET", "/task/logs/{kind}", "GET /task/ lists every task with its `kind`"),
    Gone("GET", "/task/logs/{kind}/{tid}", "GET /task/{tid}/"),
    Gone(
        "PUT",
        "/task/{tid}",
        "tasks are Prefect flow runs and are not edited: GET /task/{tid}/ reads one, POST "
        "/task/{tid}/cancel cancels it",
    ),
    Gone(
        "DELETE",
        "/task/{tid}",
        "tasks are kept as Prefect flow runs (GET /task/{tid}/ answers for ever): POST "
        "/task/{tid}/cancel cancels one still running",
    ),
    Gone("POST", "/task/{tid}/top", NO_QUEUE),
    Gone(
        "POST",
        "/task/{tid}/stop",
        "POST /task/{tid}/cancel (a cancelled scan is not resumed: POST /scan/ starts another)",
    ),
    Gone("GET", "/task/pending", "GET /task/ lists the tasks, newest first, with their state"),
    Gone("POST", "/task/report/start", "POST /scan/{id}/report builds a dataset's report"),
    Gone("POST", "/task/outlier/start", "POST /scan/{id}/outliers detects a dataset's outliers"),
    Gone("POST", "/task/preprocessing/start", NO_PREPROCESSING),
    Gone(
        "GET",
        "/task/inputs/metadata",
        "GET /inputs/?path=FOLDER counts the samples of each modality a scan of it would find",
    ),
    Gone("GET", "/task/inputs/folders", "GET /inputs/ lists the folders under the data roots"),
    Gone("GET", "/task/state", "GET /health"),
    Gone(
        "GET",
        "/warehouse/data/{path}",
        "files are not served: the report (GET /scan/{id}/report) shows thumbnails",
    ),
    Gone("POST", "/purge", "DELETE /datasets/{id} deletes one dataset (GET /datasets/ lists them)"),
    Gone("POST", "/dataset", "POST /scan/uploaded takes a .zip (extracted and scanned)"),
    Gone("DELETE", "/dataset", "DELETE /datasets/{id} deletes a dataset and its uploads"),
    Gone(
        "POST",
        "/convert",
        "thumbnails are not served: the report (GET /scan/{id}/report) shows them",
    ),
    Gone("POST", "/validate", "send the key in the X-API-Key header (BQAT_API_KEY)"),
]


def gone_detail(method: str, path: str) -> str | None:
    """Why `method path` (one of BQAT-API's) is gone and what to use, or None if it is not."""
    for gone in GONE:
        ids = gone.match(method, path)
        if ids is not None:
            return f"{method} {gone.path} was BQAT-API's; {gone.instead.format_map(_Ids(ids))}"
    return None


class _Ids(dict[str, str]):
    """The path's ids; a name the path does not have stays a placeholder (`{tid}`)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def not_routed(request: Request, exc: NotFoundException | MethodNotAllowedException) -> Response:
    """404/405 as ever, except 410 naming the route to use for BQAT-API's paths (401 first when
    the API key is missing, as for any path)."""
    answer = errors.http_error(request, exc)
    detail = gone_detail(request.method, request.url.path)
    if answer.status_code == 401 or detail is None:
        return answer
    return errors.http_error(request, HTTPException(status_code=HTTP_410_GONE, detail=detail))


@get(["/task/queue", "/task/pending", "/task/state", "/task/logs"], include_in_schema=False)
async def gone_task_path(request: Request) -> None:
    """Gone paths that GET /task/{tid} would otherwise take for a task id (tids are UUIDs)."""
    raise HTTPException(
        status_code=HTTP_410_GONE, detail=gone_detail(request.method, request.url.path)
    )


ROUTES = [
    scan_local,
    scan_remote,
    task_status,
    generate_report,
    detect_outliers,
    scan_info,
    gone_task_path,
]
HANDLERS = {NotFoundException: not_routed, MethodNotAllowedException: not_routed}
