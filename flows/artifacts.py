"""What the Prefect UI shows of a flow run: its name and tags, and artifact keys and links."""

from __future__ import annotations

import re
from urllib.parse import quote

from prefect import get_client
from prefect.artifacts import create_link_artifact
from prefect.context import get_run_context

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


def artifact_key(kind: str, dataset_id: str) -> str:
    """Prefect artifact keys allow lower-case letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]", "-", f"{kind}-{dataset_id}".lower())[:100]


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


def label_run(name: str, *, dataset_id: str | None, modality: str | None = None) -> None:
    """Name the running flow run after what it does (Prefect names runs at random) and tag it
    with its dataset and modality, so the UI's runs list reads and filters by them."""
    run = get_run_context().flow_run
    tags = {
        *run.tags,
        *([f"dataset:{dataset_id}"] if dataset_id else []),
        *([f"modality:{modality}"] if modality else []),
    }
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, name=name, tags=sorted(tags))
