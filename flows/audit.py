"""`audit-folder`: rescan a folder into a new dataset and compare it with the previous audit.

A scheduled deployment (`bqat audit schedule`) runs this flow; each run makes the dataset
`audit-<name>-<UTC time>`, so the audits of one folder line up by name and time.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger

from bqat.store import Store
from flows import names
from flows.artifacts import label_run, run_name
from flows.checks import check_audit
from flows.drift import compare_drift
from flows.scan import scan_dataset

_STAMP = "%Y%m%dT%H%M%S%fZ"


def audit_dataset_id(name: str, at: datetime) -> str:
    return f"audit-{name}-{at.strftime(_STAMP)}"


def previous_audit(name: str, before: str) -> str | None:
    """The latest audit dataset of `name` older than the dataset `before`, if any."""
    own = re.compile(rf"^audit-{re.escape(name)}-\d{{8}}T\d{{12}}Z$")
    audits = [d.dataset_id for d in Store().datasets() if own.match(d.dataset_id)]
    earlier = [dataset_id for dataset_id in audits if dataset_id < before]
    return max(earlier, default=None)


@flow(name=names.AUDIT, flow_run_name=run_name("audit {name} · {modality}"))
def audit_folder(
    folder: str, modality: str, name: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Scan `folder` into a new audit dataset, then report drift against the previous audit."""
    check_audit(folder, modality, name)
    dataset_id = audit_dataset_id(name, datetime.now(UTC))
    label_run(dataset_id=dataset_id, modality=modality)
    summary = scan_dataset(source=folder, modality=modality, dataset_id=dataset_id, options=options)
    reference = previous_audit(name, before=dataset_id)
    drift = None
    if reference is None:
        get_run_logger().info("first audit of %s: no previous audit to compare with", name)
    else:
        drift = compare_drift(dataset_id, reference)
    return {
        "dataset_id": dataset_id,
        "reference_id": reference,
        "scan": asdict(summary),
        "drift": drift,
    }
