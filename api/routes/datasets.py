"""/datasets: list, read and delete result sets (DELETE also removes reports and uploads)."""

from __future__ import annotations

import shutil

from litestar import Request, delete, get

from api.schemas import DatasetOut
from bqat.report_files import report_folder
from bqat.settings import get_settings
from bqat.store import DatasetInfo, Store


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


@delete("/datasets/{dataset_id:str}", summary="Delete a dataset", sync_to_thread=True)
def delete_dataset(request: Request, dataset_id: str) -> None:
    """Removes its rows, errors, reports and uploads."""
    request.app.state.store.delete_dataset(dataset_id)
    shutil.rmtree(report_folder(dataset_id), ignore_errors=True)
    shutil.rmtree(get_settings().home / "uploads" / dataset_id, ignore_errors=True)


ROUTES = [list_datasets, get_dataset, delete_dataset]
