"""Deployments on the `bqat` work pool, run by `prefect worker start --pool bqat` processes.

Entry points are module paths (`flows.audit.audit_folder`): workers import the installed
package, so a deployment needs no code storage and any worker machine with bqat installed can
run it.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import get_client
from prefect.automations import Automation
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import EntrypointType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker

from bqat.exceptions import ConfigError
from bqat.measures import check_modality
from bqat.settings import get_settings
from flows import names
from flows.audit import audit_folder

WORK_POOL = "bqat"
HEARTBEAT_S = 30  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY that `bqat serve` gives the worker
CRASH_AUTOMATION = "bqat: mark flow runs without heartbeats as crashed"
SERVICE_DEPLOYMENT = "bqat"  # the deployment of each flow that the API starts runs of
_AUDIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ScheduledAudit:
    deployment: str
    deployment_id: str
    folder: str
    modality: str
    cron: str
    timezone: str


def prefect_api_url() -> str:
    """The Prefect API in use: the configured one, else the server `bqat serve` starts."""
    settings = get_settings()
    return PREFECT_API_URL.value() or f"http://{settings.host}:{settings.prefect_port}/api"


def ensure_work_pool() -> None:
    """Create the process work pool if it does not exist (workers would create it too)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(WORK_POOL)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # a worker created it meanwhile
                client.create_work_pool(
                    WorkPoolCreate(
                        name=WORK_POOL,
                        type="process",
                        base_job_template=ProcessWorker.get_default_base_job_template(),
                    )
                )


def ensure_crash_detection() -> None:
    """An automation that marks a run CRASHED when its heartbeats stop (its worker died).

    Flow runs started by workers send a heartbeat every HEARTBEAT_S; a run that is silent for
    three beats without reaching a final state is not running any more, whatever the database
    says (Prefect's recipe for "zombie" runs).
    """
    try:
        Automation.read(name=CRASH_AUTOMATION)
        return
    except ValueError:
        pass
    final = ("Completed", "Failed", "Cancelled", "Crashed")
    Automation(
        name=CRASH_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{s}" for s in final)},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=3 * HEARTBEAT_S),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {3 * HEARTBEAT_S} s: the worker running it died",
            )
        ],
    ).create()


def register_deployments() -> dict[str, str]:
    """Apply `<flow>/bqat` for the flows the API starts; returns flow name -> deployment id.

    The keys are the names of flows.names (SCAN, DRIFT, OUTLIERS, REPORT): the API starts runs
    by those names and never imports the flows.
    """
    from flows.drift import compare_drift
    from flows.outliers import detect_outliers
    from flows.report import build_report
    from flows.scan import scan_dataset

    service = {
        names.SCAN: scan_dataset,
        names.DRIFT: compare_drift,
        names.OUTLIERS: detect_outliers,
        names.REPORT: build_report,
    }
    ensure_work_pool()
    ensure_crash_detection()
    deployments = {}
    for name, flow in service.items():
        assert flow.name == name, (flow.name, name)  # flows.names is the one source of names
        deployments[name] = str(
            flow.to_deployment(
                name=SERVICE_DEPLOYMENT,
                work_pool_name=WORK_POOL,
                entrypoint_type=EntrypointType.MODULE_PATH,
            ).apply()
        )
    return deployments


def schedule_audit(
    folder: Path,
    modality: str,
    cron: str,
    name: str | None = None,
    timezone: str = "UTC",
    options: dict[str, Any] | None = None,
) -> ScheduledAudit:
    """Create or update the scheduled deployment `audit-folder/<name>` for `folder`."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    check_modality(modality)
    name = name or re.sub(r"[^A-Za-z0-9._-]", "-", folder.name).strip("-._") or "root"
    if not _AUDIT_NAME.match(name):
        raise ConfigError(
            f"invalid audit name {name!r}: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    try:
        schedule = Cron(cron, timezone=timezone)
    except ValueError as exc:
        raise ConfigError(f"invalid schedule {cron!r} ({timezone}): {exc}") from None
    url = prefect_api_url()
    with temporary_settings(updates={PREFECT_API_URL: url}):
        with get_client(sync_client=True) as client:
            if client.api_healthcheck() is not None:
                raise ConfigError(f"no Prefect server answers at {url}: start `bqat serve` first")
        ensure_work_pool()
        deployment = audit_folder.to_deployment(
            name=name,
            schedules=[schedule],
            parameters={
                "folder": str(folder),
                "modality": modality,
                "name": name,
                "options": options or {},
            },
            work_pool_name=WORK_POOL,
            entrypoint_type=EntrypointType.MODULE_PATH,
            description=f"Audit of {folder} ({modality}): rescan, then drift against the last",
        )
        deployment_id = deployment.apply()
    return ScheduledAudit(
        deployment=f"{names.AUDIT}/{name}",
        deployment_id=str(deployment_id),
        folder=str(folder),
        modality=modality,
        cron=cron,
        timezone=timezone,
    )
