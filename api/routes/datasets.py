"""/datasets: list, read and delete result sets (DELETE also removes reports, uploads and the
Prefect artifacts that summarise the dataset)."""

from __future__ import annotations

import uuid
from functools import partial

import anyio
from litestar import Request, delete, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_201_CREATED

from api.schemas import DatasetOut, ImportOut
from api.uploads import receive_file
from bqat.exceptions import DatasetInUse
from bqat.imports import import_results
from bqat.scanning import delete_dataset as purge
from bqat.settings import get_settings
from bqat.store import DatasetInfo, Store, check_dataset_id
from flows import names


def dataset_out(info: DatasetInfo) -> DatasetOut:
    return DatasetOut(
        dataset_id=info.dataset_id,
        modality=info.modality,
        created=info.created.isoformat(),
        rows=info.rows,
        errors=info.errors,
    )


@get("/datasets", summary="Every dataset", sync_to_thread=True)
def list_datasets(request: Request) -> list[DatasetOut]:
    store: Store = request.app.state.store
    return [dataset_out(d) for d in store.datasets()]


@get("/datasets/{dataset_id:str}", summary="One dataset", sync_to_thread=True)
def get_dataset(request: Request, dataset_id: FromPath[str]) -> DatasetOut:
    return dataset_out(request.app.state.store.dataset(dataset_id))


@delete("/datasets/{dataset_id:str}", summary="Delete a dataset")
async def delete_dataset(request: Request, dataset_id: FromPath[str]) -> None:
    """Removes its rows, errors, reports and uploads, and the Prefect artifacts with its
    summaries (its per-column table, counts, progress and links). 409 while a task that reads
    or writes it is queued or running: a scan would fail half-way, or make it again."""
    check_dataset_id(dataset_id)
    runs = request.app.state.runs
    async with runs.admission():  # no scan into it is admitted while it is being deleted
        busy = await runs.using([dataset_id], *names.DATASET_USERS)
        if busy:
            raise DatasetInUse.of(dataset_id, busy[0], f"cancel it (POST /task/{busy[0]}/cancel)")
        await anyio.to_thread.run_sync(purge, dataset_id, request.app.state.store)
    await runs.delete_artifacts(dataset_id)


IMPORT_FIELDS = frozenset({"modality", "dataset_id", "source"})


@post(
    "/datasets/import",
    summary="A dataset from another tool's results (bqat's export, OFIQ's or NFIQ 2's CSV)",
    status_code=HTTP_201_CREATED,
    request_max_body_size=None,  # streamed to disk under BQAT_MAX_UPLOAD_BYTES instead
)
async def import_dataset(request: Request) -> ImportOut:
    """Multipart `file` (CSV or Parquet), `modality`, optional `dataset_id` and `source`
    (bqat, ofiq, nfiq2; sniffed from the header when absent). Their columns that mean what
    ours do are mapped (`mapped`: theirs -> ours), the rest kept as text (`extra`). A file
    that cannot be read is a 422 naming its line and column; one over BQAT_MAX_UPLOAD_BYTES
    a 413."""
    settings = get_settings()
    target = settings.home / "uploads" / f".import-{uuid.uuid4().hex}"
    length = request.headers.get("content-length")
    fields = await receive_file(
        request.headers.get("content-type", ""),
        int(length) if length and length.isdigit() else None,
        request.stream(),
        target,
        settings.max_upload_bytes,
        IMPORT_FIELDS,
    )
    try:
        summary = await anyio.to_thread.run_sync(
            partial(
                import_results,
                target,
                fields.get("modality", ""),
                dataset_id=fields.get("dataset_id") or None,
                source=fields.get("source") or None,
                store=request.app.state.store,
            )
        )
    finally:
        target.unlink(missing_ok=True)
    return ImportOut(
        dataset_id=summary.dataset_id, rows=summary.rows, mapped=summary.mapped, extra=summary.extra
    )


ROUTES = [list_datasets, get_dataset, delete_dataset, import_dataset]
