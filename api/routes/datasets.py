"""/datasets: list, read and delete result sets (DELETE also removes reports, uploads and the
Prefect artifacts that summarise the dataset)."""

from __future__ import annotations

import shutil

import anyio
from litestar import Request, delete, get

from api.schemas import DatasetOut
from bqat.report_files import report_folder
from bqat.settings import get_settings
from bqat.store import DatasetInfo, Store, check_dataset_id
from flows.artifacts import artifact_key

# Every artifact key a flow publishes under a dataset (flows/scan.py, report.py, outliers.py,
# drift.py): the scan's progress, column summary and counts, and the links to its results.
ARTIFACT_KINDS = ("scan-progress", "scan-summary", "scan-report", "report", "outliers", "drift")


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
def get_dataset(request: Request, dataset_id: str) -> DatasetOut:
    return dataset_out(request.app.state.store.dataset(dataset_id))


def _purge(store: Store, dataset_id: str) -> None:
    store.delete_dataset(dataset_id)
    shutil.rmtree(report_folder(dataset_id), ignore_errors=True)
    shutil.rmtree(get_settings().home / "uploads" / dataset_id, ignore_errors=True)


@delete("/datasets/{dataset_id:str}", summary="Delete a dataset")
async def delete_dataset(request: Request, dataset_id: str) -> None:
    """Removes its rows, errors, reports and uploads, and the Prefect artifacts with its
    summaries (its per-column table, counts, progress and links)."""
    check_dataset_id(dataset_id)
    await anyio.to_thread.run_sync(_purge, request.app.state.store, dataset_id)
    keys = [artifact_key(kind, dataset_id) for kind in ARTIFACT_KINDS]
    await request.app.state.runs.delete_artifacts(keys)


ROUTES = [list_datasets, get_dataset, delete_dataset]
