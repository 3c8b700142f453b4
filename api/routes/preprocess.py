"""POST /preprocess/ starts a preprocess-folder flow run: a folder under the data roots converted
into a new folder under the first data root, checked and admitted like POST /scan/."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from litestar import Request, post
from litestar.exceptions import HTTPException
from litestar.params import JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_409_CONFLICT

from api.runs import Runs
from api.schemas import PreprocessCreated, PreprocessRequest
from bqat.confinement import is_inside, relative_name, resolve_folder
from bqat.exceptions import AccessError, ConfigError
from bqat.measures import check_modality
from bqat.preparation import (
    OutputTaken,
    PreprocessOptions,
    check_options,
    check_output,
    default_output,
    resumable,
)
from bqat.settings import get_settings
from bqat.store import check_dataset_id
from flows import names


@post("/preprocess", summary="Convert a folder into a new folder", status_code=HTTP_202_ACCEPTED)
async def preprocess_folder(
    request: Request, data: JSONBody[PreprocessRequest]
) -> PreprocessCreated:
    """400/403/404 for the input as POST /scan/ answers them, 422 for options, 409 when the
    output exists (unless an interrupted run of this input and options left it: the run
    completes it) or another run is writing it or the scan's dataset."""
    checked = check_options(data.options)
    options = checked.model_dump(exclude_none=True)
    roots = get_settings().data_root
    first = roots[0].resolve()
    source = resolve_folder(data.input, roots)
    if first.is_relative_to(source):
        raise ConfigError(f"{data.input!r} holds the first data root, where outputs are written")
    output = None if data.output is None else first / relative_name(data.output)
    modality = dataset_id = None
    if data.scan is not None:
        modality = check_modality(data.scan.modality)
        dataset_id = check_dataset_id(data.scan.dataset_id or uuid.uuid4().hex)
    runs: Runs = request.app.state.runs
    async with runs.admission():
        if output is not None:
            _check_new(source, output, first, checked)
        active = await runs.active_parameters(names.SCAN, names.PREPROCESS)
        for tid, parameters in active.items():
            if output is not None and parameters.get("output") == str(output):
                _conflict(f"task {tid} is already writing {data.output!r}")
            if dataset_id is not None and parameters.get("dataset_id") == dataset_id:
                _conflict(f"task {tid} is already writing dataset {dataset_id}")
        tid = await runs.start(
            names.PREPROCESS,
            {
                "source": str(source),
                "output": None if output is None else str(output),
                "options": options,
                "modality": modality,
                "dataset_id": dataset_id,
            },
        )
    chosen = output or default_output(source, tid, roots)
    return PreprocessCreated(tid=tid, output=chosen.relative_to(first).as_posix())


def _check_new(source: Path, output: Path, first: Path, options: PreprocessOptions) -> None:
    """409 when `output` exists and is not an interrupted run's to complete, or another run
    holds it; 403 when its folders lead out of the first data root."""
    name = output.relative_to(first).as_posix()
    if os.path.lexists(output) and not resumable(source, output, options):
        _conflict(
            f"the output {name!r} exists and is not an interrupted preprocessing of this input "
            "with these options: give a new folder"
        )
    if not is_inside(output, [first]):
        raise AccessError(f"the output {name!r} resolves outside the first data root")
    try:
        check_output(source, output, options)
    except OutputTaken:
        _conflict(f"another run is writing the output {name!r}")


def _conflict(detail: str) -> None:
    raise HTTPException(status_code=HTTP_409_CONFLICT, detail=detail)


ROUTES = [preprocess_folder]
