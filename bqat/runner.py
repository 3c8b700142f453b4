"""The library's one door to the Prefect flows: the entry points (`bqat.scan`, the CLI verbs that
scan, detect, compare, report or schedule, and `bqat serve`) run flows through here.

The rest of `bqat` never imports `flows`, so the core stays free of Prefect and never calls back
into the orchestration built on top of it; this module imports the flows when one is run.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bqat.preparation import PreprocessSummary
    from bqat.scanning import ScanSummary

SCAN_KEYS = ("pattern", "files", "batch_size", "progress_key")


def _flow_server() -> AbstractContextManager[str]:
    """The Prefect server this process's flow runs report to: see flows.connection."""
    from flows.connection import flow_server

    return flow_server()


def scan(
    source: str | Path, modality: str, dataset_id: str | None = None, **options: Any
) -> ScanSummary:
    """Run the `scan-dataset` flow over a folder; see flows.scan.scan_dataset.

    `pattern`, `files`, `batch_size` and `progress_key` steer the scan; every other option
    goes to the engine.
    """
    from flows.scan import scan_dataset

    scan_keys = {key: options.pop(key) for key in SCAN_KEYS if key in options}
    with _flow_server():
        return scan_dataset(
            source=str(source),
            modality=modality,
            dataset_id=dataset_id,
            options=options,
            **scan_keys,
        )


def preprocess(
    source: str | Path,
    output: str | Path | None = None,
    *,
    modality: str | None = None,
    dataset_id: str | None = None,
    batch_size: int | None = None,
    **options: Any,
) -> PreprocessSummary:
    """Run the `preprocess-folder` flow: convert `source` into the new folder `output` (default
    `<source>-prep-<8 hex>` beside it) with `options` (bqat.preparation.PreprocessOptions); with
    `modality`, scan the output into `dataset_id`. See flows.preprocess.preprocess_folder."""
    from flows.preprocess import preprocess_folder

    with _flow_server():
        return preprocess_folder(
            source=str(source),
            output=None if output is None else str(output),
            options=options,
            modality=modality,
            dataset_id=dataset_id,
            **({} if batch_size is None else {"batch_size": batch_size}),
        )


def detect_outliers(
    dataset_id: str, detector: str, columns: list[str] | None, contamination: float
) -> dict[str, Any]:
    """Run the `detect-outliers` flow; the stored detection as JSON."""
    from flows.outliers import detect_outliers as flow

    with _flow_server():
        return flow(dataset_id, detector, columns, contamination)


def compare_drift(dataset_id: str, reference: str, columns: list[str] | None) -> dict[str, Any]:
    """Run the `compare-drift` flow; the stored verdict as JSON."""
    from flows.drift import compare_drift as flow

    with _flow_server():
        return flow(dataset_id, reference, columns)


def build_report(dataset_id: str) -> Path:
    """Run the `build-report` flow; the path of the stored HTML report."""
    from flows.report import build_report as flow

    with _flow_server():
        return flow(dataset_id)


def delete_dataset(dataset_id: str) -> int:
    """Delete the dataset (bqat.scanning.delete_dataset), then the Prefect artifacts that
    summarise it on the server this process's runs report to; how many artifacts were deleted.

    On a lasting server (`bqat serve`'s or a configured one), a task of the dataset that is
    queued or running refuses the deletion first (`DatasetInUse`), as DELETE /datasets/{id}
    does. Prefect's temporary server is not asked: nothing ends the runs that killed
    processes left there, so they would refuse it for ever. Raises `ServiceUnavailable` when the
    server cannot be asked: a lasting server's before anything is deleted.
    """
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    from bqat.exceptions import DatasetInUse, ServiceUnavailable
    from bqat.scanning import delete_dataset as purge
    from flows.active import active_runs
    from flows.artifacts import delete_dataset_artifacts
    from flows.connection import TEMPORARY
    from flows.names import DATASET_USERS, uses_dataset

    async def users() -> list[str]:
        async with get_client() as client:
            runs = await active_runs(client, *DATASET_USERS)
        return [str(run.id) for run in runs if uses_dataset(dict(run.parameters), dataset_id)]

    async def artifacts() -> int:
        async with get_client() as client:
            return await delete_dataset_artifacts(client, dataset_id)

    purged = False
    with _flow_server() as server:
        try:
            if server != TEMPORARY:
                busy = run_coro_as_sync(users())
                if busy:
                    raise DatasetInUse.of(dataset_id, busy[0])
            purge(dataset_id)
            purged = True
            return run_coro_as_sync(artifacts())
        except httpx.HTTPError as exc:
            done = "deleted, but not its Prefect artifacts" if purged else "not deleted"
            raise ServiceUnavailable(
                f"{dataset_id} is {done}: the Prefect server at {server} did not answer ({exc})"
            ) from exc


def schedule_audit(
    folder: Path,
    modality: str,
    cron: str,
    name: str | None,
    timezone: str,
    options: dict[str, Any],
) -> Any:
    """Apply the cron deployment of the `audit-folder` flow; what was scheduled."""
    from flows.deployments import schedule_audit as apply

    return apply(folder, modality, cron, name, timezone, options)


def work_pool() -> str:
    """The Prefect work pool whose workers run every flow."""
    from flows.deployments import WORK_POOL

    return WORK_POOL
