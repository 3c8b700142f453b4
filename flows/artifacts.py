"""What the Prefect UI shows of a flow run: its name and tags, and artifact keys and links."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from urllib.parse import quote

from prefect import get_client, runtime
from prefect.artifacts import (
    create_link_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.context import TaskRunContext, get_run_context
from prefect.exceptions import ObjectNotFound

from bqat.settings import get_settings

# What each kind of artifact is, as its card in the Prefect UI says.
DESCRIPTIONS = {
    "report": "The dataset's HTML quality report, served by the bqat API",
    "outliers": "The samples the outlier detector flagged, served by the bqat API",
    "drift": "The drift report against the reference dataset, served by the bqat API",
    "scan-progress": "Files assessed so far, of those discovered",
    "scan-summary": "Per-column summary of the stored rows",
    "scan-report": "Files discovered, assessed, skipped and failed",
    "preprocess-errors": "The inputs preprocessing could not convert, with the reason",
    "preprocess-report": "Inputs found, written and failed by preprocessing",
}


# Every artifact key a flow publishes under a dataset (flows/scan.py, report.py, outliers.py,
# drift.py): the scan's progress, column summary and counts, and the links to its results.
DATASET_ARTIFACTS = ("scan-progress", "scan-summary", "scan-report", "report", "outliers", "drift")

_GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def artifact_key(kind: str, dataset_id: str) -> str:
    """Prefect artifact keys allow lower-case letters, digits and dashes only. The UI titles
    each card with its key, so a generated 32-hex dataset id is cut to its first 12 digits (48
    bits: still one dataset's in practice); a named dataset keeps its name."""
    if _GENERATED_ID.fullmatch(dataset_id):
        dataset_id = dataset_id[:12]
    return re.sub(r"[^a-z0-9-]", "-", f"{kind}-{dataset_id}".lower())[:100]


async def delete_dataset_artifacts(client: PrefectClient, dataset_id: str) -> int:
    """Delete every version of the dataset's artifacts on the server `client` talks to (they
    hold its column summaries and name its files); how many were deleted."""
    keys = [artifact_key(kind, dataset_id) for kind in DATASET_ARTIFACTS]
    deleted = 0
    for _ in range(1000):  # pages of 200; bounded in case a delete does not take
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)), limit=200
        )
        if not found:
            return deleted
        for artifact in found:
            with contextlib.suppress(ObjectNotFound):  # deleted meanwhile by another request
                await client.delete_artifact(artifact.id)
            deleted += 1
    return deleted


def publish_link(kind: str, dataset_id: str, route: str, text: str) -> None:
    """A link artifact to an API route (`route` starts with '/'), shown in the Prefect UI."""
    create_link_artifact(
        key=artifact_key(kind, dataset_id),
        link=get_settings().api_url + quote(route, safe="/?=&@"),
        link_text=text,
        description=DESCRIPTIONS[kind],
    )


def current_run_id() -> str:
    """The running flow run's id: the API's task id, under which progress is written."""
    return str(get_run_context().flow_run.id)


def current_step_id() -> str:
    """The running task run's id: a flow's steps (the scan's outliers and report) write their
    progress under it."""
    context = TaskRunContext.get()
    if context is None:
        raise RuntimeError("current_step_id() is called inside a task only")
    return str(context.task_run.id)


def run_name(template: str) -> Callable[[], str]:
    """A `flow_run_name` for @flow: Prefect names the run from `template` and the run's
    parameters before its first log line (else a random name such as 'qualified-dogfish');
    a parameter that is None, a dataset id the run makes up, reads "new"."""

    def name() -> str:
        given = runtime.flow_run.parameters
        return template.format_map({k: "new" if v is None else v for k, v in given.items()})

    return name


def label_run(
    *, dataset_id: str | None, modality: str | None = None, name: str | None = None
) -> None:
    """Tag the running flow run with its dataset and modality, so the UI's runs list filters by
    them; `name` renames it once the run knows more than its parameters said."""
    run = get_run_context().flow_run
    tags = {
        *run.tags,
        *([f"dataset:{dataset_id}"] if dataset_id else []),
        *([f"modality:{modality}"] if modality else []),
    }
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, name=name or run.name, tags=sorted(tags))


class ProgressCard:
    """A progress artifact that follows a count, updated at most every `every_s` seconds and
    always at the end: each update is a round trip to the Prefect API that cost a 200-image
    scan some 35 ms of the interpreter's time (py-spy: a sixth of the time the scan's threads
    held the GIL went to eight updates); the bqat API reads the exact count from bqat.progress.
    """

    def __init__(
        self, kind: str, dataset_id: str, done: int, total: int, every_s: float = 2.0
    ) -> None:
        self._total, self._every_s = total, every_s
        self._id = create_progress_artifact(
            progress=_percent(done, total),
            key=artifact_key(kind, dataset_id),
            description=DESCRIPTIONS[kind],
        )
        self._shown_at = time.monotonic()

    def show(self, done: int) -> None:
        now = time.monotonic()
        if done >= self._total or now - self._shown_at >= self._every_s:
            update_progress_artifact(self._id, progress=_percent(done, self._total))
            self._shown_at = now


def _percent(done: int, total: int) -> float:
    return 100.0 if total == 0 else round(100.0 * done / total, 2)
