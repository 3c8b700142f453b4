"""`maintain-store`: merge the store's small files, expire old snapshots, remove unused files.

`bqat serve` schedules it daily (deployment `maintain-store/daily` on the work pool `bqat`);
snapshots older than BQAT_STORE_KEEP_DAYS expire, and with them the past states they held.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron

from bqat.settings import get_settings
from bqat.store import Store
from flows import names

SCHEDULE = "17 3 * * *"  # daily, at a quiet hour (UTC)


@flow(name=names.MAINTAIN, flow_run_name="maintain store")
def maintain_store(keep_days: float | None = None) -> None:
    """One pass of the store's upkeep (`Store.maintain`); readers see the same rows throughout."""
    keep = keep_days if keep_days is not None else get_settings().store_keep_days
    Store().maintain(keep)
    get_run_logger().info("store maintained; snapshots older than %s days expired", keep)


def schedule_maintenance() -> str:
    """Create or update the daily deployment; returns its id."""
    from flows.deployments import WORK_POOL

    deployment = maintain_store.to_deployment(
        name="daily",
        schedules=[Cron(SCHEDULE, timezone="UTC")],
        work_pool_name=WORK_POOL,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Merge small files, expire snapshots past BQAT_STORE_KEEP_DAYS, clean up",
    )
    return str(deployment.apply())
