"""POST /scan/ starts a scan-dataset flow run (admitted atomically); /task/ reads and cancels
flow runs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any

import anyio
from litestar import Request, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_409_CONFLICT, HTTP_429_TOO_MANY_REQUESTS

from api.runs import AlreadyFinal, Runs, Task
from api.schemas import Progress, ScanRequest, TaskCreated, TaskOut
from api.uploads import Upload, receive
from bqat.assessment import check_options
from bqat.confinement import resolve_files, resolve_folder
from bqat.engines.registry import get_engine
from bqat.exceptions import AccessError, ConfigError
from bqat.measures import check_modality
from bqat.settings import get_settings
from bqat.store import Store, check_dataset_id
from flows import names

SCAN_KEYS = ("pattern", "batch_size")  # scan options; every other option goes to the engine
# BQAT-API's `options.engine`: its names of the modality's default engine are the engine here;
# the tools it could run instead are not run here, and are refused saying so.
DEFAULT_ENGINES = ("default", "bqat")
OTHER_ENGINES = {
    "ofiq": "BSI OFIQ",
    "biqt": "MITRE BIQT",
    "fusion": "BQAT-API's fusion of its bqat, OFIQ and BIQT face engines",
}


def check_engine(engine: object, modality: str | None) -> None:
    """ConfigError (422) unless `engine` names the engine bqat runs for the modality."""
    if engine in DEFAULT_ENGINES:
        return
    tool = OTHER_ENGINES.get(engine) if isinstance(engine, str) else None
    ours = f"its own {modality} engine" if modality else "its own engine for each modality"
    listed = f"?modality={modality}" if modality else ""
    raise ConfigError(
        f"engine {engine!r}{f' ({tool})' if tool else ''} is not available: bqat runs "
        f"{ours} (its measures: GET /specification{listed}); leave `engine` out or give "
        "'default'"
    )


def one_value(what: str, given: dict[str, str | None]) -> str | None:
    """The value of `what` given in one or several places; 422 when two of them differ."""
    values = {name: value for name, value in given.items() if value is not None}
    if len(set(values.values())) > 1:
        named = " and ".join(f"{name} {value!r}" for name, value in values.items())
        raise ConfigError(f"{what} is given twice, differently: {named}; give it once")
    return next(iter(values.values()), None)


def scan_parameters(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(scan-level parameters, engine options), both checked before a run is created."""
    scan = {k: options[k] for k in SCAN_KEYS if k in options}
    engine = {k: v for k, v in options.items() if k not in SCAN_KEYS}
    if "pattern" in scan:
        try:
            re.compile(str(scan["pattern"]))
        except re.error as exc:
            raise ConfigError(f"pattern {scan['pattern']!r}: {exc}") from None
    if "batch_size" in scan:  # passed only when given: the default is the scan flow's
        size = scan["batch_size"]
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 10_000:
            raise ConfigError("batch_size must be an integer from 1 to 10000")
    return scan, engine


async def start_scan(
    request: Request,
    modality: str,
    options: dict[str, Any],
    dataset_id: str | None,
    source: str,
    files: list[str] | None,
    errors: list[dict[str, Any]] | None = None,
) -> TaskCreated:
    """Check everything, then admit atomically: refuse a second writer of the dataset (409) or a
    scan over BQAT_MAX_CONCURRENT_SCANS (429), else make the dataset and create the run.

    The checks and the creation hold the admission lock (shared by every API process on
    BQAT_HOME), so simultaneous requests see each other's runs. `errors` (inputs the request
    gave that the scan will not see, with the reason) are stored as error rows on admission.
    """
    check_modality(modality)
    if "engine" in options:
        check_engine(options["engine"], modality)
        options = {k: v for k, v in options.items() if k != "engine"}
    scan, engine = scan_parameters(options)
    engine = check_options(modality, engine)
    dataset_id = check_dataset_id(dataset_id or uuid.uuid4().hex)
    runs: Runs = request.app.state.runs
    store: Store = request.app.state.store
    limit = get_settings().max_concurrent_scans
    async with runs.admission():
        # A preprocess run that chains a scan writes its dataset too.
        same = await runs.using([dataset_id], names.SCAN, names.PREPROCESS)
        if same:  # two scans writing one dataset at once could store a file twice
            raise HTTPException(
                status_code=HTTP_409_CONFLICT,
                detail=f"a scan into dataset {dataset_id} is already queued or running (task "
                f"{same[0]}); wait for it or cancel it",
            )
        active = await runs.active(names.SCAN)
        if len(active) >= limit:
            raise HTTPException(
                status_code=HTTP_429_TOO_MANY_REQUESTS,
                detail=f"{limit} scans are running or queued (BQAT_MAX_CONCURRENT_SCANS); "
                "retry later",
            )
        await anyio.to_thread.run_sync(store.create_dataset, dataset_id, modality)
        if errors:
            await anyio.to_thread.run_sync(lambda: store.append(dataset_id, errors=errors))
        tid = await runs.start(
            names.SCAN,
            {
                "source": source,
                "modality": modality,
                "dataset_id": dataset_id,
                "files": files,
                "options": engine,
                **scan,
            },
        )
    return TaskCreated(tid=tid, dataset_id=dataset_id)


QueryModality = Annotated[
    str | None,
    QueryParameter(name="modality", description="The body's `modality`, in the query instead."),
]


@post("/scan", summary="Scan a folder or files under a data root", status_code=HTTP_201_CREATED)
async def scan_folder(
    request: Request, data: JSONBody[ScanRequest], modality: QueryModality = None
) -> TaskCreated:
    """`modality` in the body or the query (BQAT-API's clients send it there), `collection` for
    `dataset_id`: each may be given in both places only with the same value."""
    chosen = one_value("modality", {"?modality=": modality, "the body's modality": data.modality})
    if chosen is None:
        raise ConfigError("modality is required: in the body or as ?modality=")
    dataset_id = one_value(
        "the dataset", {"dataset_id": data.dataset_id, "collection": data.collection}
    )
    roots = get_settings().data_root
    if isinstance(data.input, str):
        source, files = resolve_folder(data.input, roots), None
        await anyio.to_thread.run_sync(_readable, source, data.input)
    else:
        source, files = resolve_files(data.input, roots)
    return await start_scan(request, chosen, data.options, dataset_id, str(source), files)


def _readable(folder: Path, name: str) -> None:
    """AccessError (403) for a folder this process cannot list: the scan would find nothing."""
    try:
        with os.scandir(folder):
            pass
    except OSError as exc:
        raise AccessError(f"{name!r}: the folder cannot be read ({exc.strerror or exc})") from None


def upload_errors(upload: Upload, modality: str) -> list[dict[str, Any]]:
    """Error rows for what was uploaded but will not be assessed: files the modality does not
    take (by extension) and zip members that were not extracted. Every uploaded file ends as a
    row or an error row."""
    extensions = get_engine(modality).extensions
    kinds = ", ".join(sorted(extensions))
    rows = [
        {
            "file": name,
            "sha256": None,
            "reason": f"not a {modality} file: the extension {Path(name).suffix or '(none)'!r} "
            f"is not one of {kinds}",
        }
        for name in upload.files
        if Path(name).suffix.lower() not in extensions
    ]
    rows += [{"file": name, "sha256": None, "reason": why} for name, why in upload.refused]
    return rows


def task_out(task: Task) -> TaskOut:
    return TaskOut(**{**task.as_json(), "progress": Progress(**task.progress)})


@post(
    "/scan/uploaded",
    summary="Scan uploaded files (multipart `files`: images, wav, or .zip)",
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,  # streamed to disk under BQAT_MAX_UPLOAD_BYTES instead
)
async def scan_uploaded(
    request: Request,
    modality: FromQuery[str | None] = None,
    dataset_id: FromQuery[str | None] = None,
    options: Annotated[str | None, Parameter(description="JSON object of options")] = None,
) -> TaskCreated:
    """Form fields `modality`, `dataset_id` and `options` may come as query parameters too."""
    if modality is not None:
        check_modality(modality)  # refuse before reading the body
    settings = get_settings()
    uploads = settings.home / "uploads"
    length = request.headers.get("content-length")
    upload = await receive(
        request.headers.get("content-type", ""),
        int(length) if length and length.isdigit() else None,
        request.stream(),
        uploads / f".staging-{uuid.uuid4().hex}",
        settings.max_upload_bytes,
        settings.max_files_per_request,
    )
    try:
        fields = {**upload.fields, **dict(request.query_params)}
        chosen = check_dataset_id(fields.get("dataset_id") or uuid.uuid4().hex)
        chosen_modality = check_modality(fields.get("modality", ""))
        folder = uploads / chosen / upload.folder.name.removeprefix(".staging-")
        folder.parent.mkdir(parents=True, exist_ok=True)
        upload.folder.rename(folder)
        upload.folder = folder
        return await start_scan(
            request,
            chosen_modality,
            parse_options(fields.get("options")),
            chosen,
            str(folder),
            None,
            upload_errors(upload, chosen_modality),
        )
    except BaseException:
        shutil.rmtree(upload.folder, ignore_errors=True)
        if upload.folder.parent != uploads:
            with contextlib.suppress(OSError):  # the dataset's folder, if this was all it held
                upload.folder.parent.rmdir()
        raise


def parse_options(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"options: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError("options: expected a JSON object")
    return value


@get("/task/{tid:str}", summary="State and progress of a task")
async def read_task(request: Request, tid: FromPath[str]) -> TaskOut:
    return task_out(await request.app.state.runs.task(tid))


@get("/task", summary="Recent tasks, newest first")
async def list_tasks(
    request: Request,
    offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
) -> list[TaskOut]:
    return [task_out(t) for t in await request.app.state.runs.tasks(limit, offset)]


@post("/task/{tid:str}/cancel", summary="Cancel a task", status_code=202)
async def cancel_task(request: Request, tid: FromPath[str]) -> TaskOut:
    try:
        task = await request.app.state.runs.cancel(tid)
    except AlreadyFinal as exc:
        raise HTTPException(status_code=HTTP_409_CONFLICT, detail=str(exc)) from None
    return task_out(task)


ROUTES = [scan_folder, scan_uploaded, read_task, list_tasks, cancel_task]
