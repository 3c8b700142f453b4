"""Deployments on the `bqat` work pool, run by `prefect worker start --pool bqat` processes.

Entry points are module paths (`flows.audit.audit_folder`): workers import the installed
package, so a deployment needs no code storage and any worker machine with bqat installed can
run it.
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import get_client
from prefect.automations import Automation
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import EntrypointType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker

from bqat.confinement import confine_folder
from bqat.exceptions import ConfigError
from bqat.measures import check_modality
from bqat.settings import get_settings
from flows import names
from flows.audit import audit_folder
from flows.checks import AUDIT_NAME
from flows.connection import HEARTBEAT_S, prefect_api_url, prefect_auth_string

WORK_POOL = "bqat"
CRASH_AUTOMATION = "bqat: mark flow runs without heartbeats as crashed"
SERVICE_DEPLOYMENT = "bqat"  # the deployment of each flow that the API starts runs of
# Job variables a run could otherwise set to run anything on the worker: the command line, the
# environment (PYTHONPATH, LD_PRELOAD, ...) and the working folder (`python -m` imports from it).
LOCKED_JOB_VARIABLES = ("command", "env", "working_dir")


@dataclass(frozen=True)
class ScheduledAudit:
    deployment: str
    deployment_id: str
    folder: str
    modality: str
    cron: str
    timezone: str


def base_job_template() -> dict[str, Any]:
    """The process worker's template without the variables in LOCKED_JOB_VARIABLES, and no
    other variable allowed: the server refuses (422) a run or deployment that sets them."""
    template = copy.deepcopy(ProcessWorker.get_default_base_job_template())
    variables = template["variables"]
    for name in LOCKED_JOB_VARIABLES:
        template["job_configuration"].pop(name, None)
        variables["properties"].pop(name, None)
    variables["additionalProperties"] = False
    return template


def ensure_work_pool() -> None:
    """Create the process work pool with `base_job_template()`, or give an existing pool (made
    by an older bqat, or by a worker that started first) that template."""
    template = base_job_template()
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(WORK_POOL)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # a worker created it meanwhile
                client.create_work_pool(
                    WorkPoolCreate(name=WORK_POOL, type="process", base_job_template=template)
                )
                return
            pool = client.read_work_pool(WORK_POOL)
        if pool.base_job_template != template:
            client.update_work_pool(WORK_POOL, WorkPoolUpdate(base_job_template=template))


def ensure_crash_detection() -> None:
    """An automation that marks a run CRASHED when its heartbeats stop (its worker died).

    Flow runs started by workers send a heartbeat every HEARTBEAT_S; a run that is silent for
    three beats without reaching a final state is not running any more, whatever the database
    says (Prefect's recipe for "zombie" runs).
    """
    silence_s = 3 * HEARTBEAT_S
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
            within=timedelta(seconds=silence_s),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {silence_s} s: the worker running it died",
            )
        ],
    ).create()


def register_deployments() -> dict[str, str]:
    """Apply `<flow>/bqat` for the flows the API starts; returns flow name -> deployment id.

    The keys are the names of flows.names (SCAN, DRIFT, OUTLIERS, REPORT, PREPROCESS): the API
    starts runs by those names and never imports the flows.
    """
    from flows.drift import compare_drift
    from flows.outliers import detect_outliers
    from flows.preprocess import preprocess_folder
    from flows.report import build_report
    from flows.scan import scan_dataset

    service = {
        names.SCAN: scan_dataset,
        names.DRIFT: compare_drift,
        names.OUTLIERS: detect_outliers,
        names.REPORT: build_report,
        names.PREPROCESS: preprocess_folder,
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
    """Create or update the scheduled deployment `audit-folder/<name>` for `folder`.

    `folder` must lie inside a data root: its runs execute on a worker, which scans only there.
    """
    if not folder.is_dir():
        raise ConfigError(f"{folder.resolve()}: not a folder")
    folder = confine_folder(folder, get_settings().data_root)
    check_modality(modality)
    name = name or re.sub(r"[^A-Za-z0-9._-]", "-", folder.name).strip("-._") or "root"
    if not AUDIT_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid audit name {name!r}: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    try:
        schedule = Cron(cron, timezone=timezone)
    except ValueError as exc:
        raise ConfigError(f"invalid schedule {cron!r} ({timezone}): {exc}") from None
    url = prefect_api_url()
    updates: dict[Any, Any] = {PREFECT_API_URL: url}
    auth = prefect_auth_string()
    if auth:
        updates[PREFECT_API_AUTH_STRING] = auth
    with temporary_settings(updates=updates):
        with get_client(sync_client=True) as client:
            if client.api_healthcheck() is not None:
                raise ConfigError(f"no Prefect server answers at {url}: start `bqat serve` first")
            try:
                client.hello()
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code != 401:
                    raise
                raise ConfigError(
                    f"the Prefect server at {url} refused the auth string (or wants one): set "
                    "PREFECT_API_AUTH_STRING (`bqat serve` keeps it in BQAT_HOME/prefect/auth)"
                ) from None
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


if __name__ == "__main__":  # `bqat serve` runs this before it starts the worker
    ensure_work_pool()
    from flows.maintain import schedule_maintenance  # the store's daily upkeep

    schedule_maintenance()
