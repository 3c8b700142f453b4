"""What every flow checks first: its inputs, again, as the API does before it creates a run.

Anyone who can reach the Prefect API can create a run with any parameters, so a flow never
trusts them. Dataset ids and modalities are checked in every run. Folders are confined to the
data roots (BQAT_DATA_ROOT; scans also BQAT_HOME/uploads) in every run that a worker or a
deployment started — that is, every run created through the Prefect API. A flow called in-process
by `bqat scan DIR` or `bqat.scan(DIR, ...)` runs as the local user, who may scan any folder they
can read, so its folder is not confined.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect.context import FlowRunContext

from bqat.confinement import confine_folder, is_inside, relative_name
from bqat.exceptions import AccessError, ConfigError
from bqat.measures import check_modality
from bqat.preparation import check_options, check_output
from bqat.settings import get_settings
from bqat.store import check_dataset_id, check_reference

AUDIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # used with fullmatch


def created_through_prefect() -> bool:
    """Whether this flow run (or the run it is a subflow of) came from the Prefect API: it has a
    deployment, or it runs in a process a worker or runner started for a flow run."""
    context = FlowRunContext.get()
    deployment = context.flow_run.deployment_id if context and context.flow_run else None
    return deployment is not None or bool(os.environ.get("PREFECT__FLOW_RUN_ID"))


def scan_roots() -> list[Path]:
    settings = get_settings()
    return [*settings.data_root, settings.home / "uploads"]


def check_scan(
    source: str, modality: str, dataset_id: str | None, files: Sequence[str] | None
) -> None:
    """`scan-dataset`: a folder inside a data root or the uploads, relative file names."""
    check_modality(modality)
    if dataset_id is not None:
        check_dataset_id(dataset_id)
    names = [relative_name(name) for name in files or ()]
    if created_through_prefect():
        roots = scan_roots()
        folder = confine_folder(source, roots)
        for name in names:
            if not is_inside(folder / name, roots):
                raise AccessError(f"{name.as_posix()!r} resolves outside the data roots")


def check_audit(folder: str, modality: str, name: str) -> None:
    """`audit-folder`: a folder inside a data root, and a name that makes valid dataset ids."""
    check_modality(modality)
    if not isinstance(name, str) or not AUDIT_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid audit name {name!r}: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if created_through_prefect():
        confine_folder(folder, get_settings().data_root)


def check_preprocess(
    source: str,
    output: str,
    options: dict[str, Any],
    modality: str | None,
    dataset_id: str | None,
) -> None:
    """`preprocess-folder`: strict options; a folder inside a data root as input, and a new
    folder (or one an interrupted run of the same input and options left) under the first data
    root, outside the input, as output; the scan's modality and dataset id when the output is
    to be scanned."""
    checked = check_options(options)
    if modality is not None:
        check_modality(modality)
    if dataset_id is not None:
        check_dataset_id(dataset_id)
    if created_through_prefect():
        roots = get_settings().data_root
        confine_folder(source, roots)
        if not is_inside(Path(output), roots[:1]):
            raise AccessError(f"the output {output!r} is outside the first data root")
    check_output(Path(source), Path(output), checked)


def check_datasets(*dataset_ids: str) -> None:
    """`detect-outliers`, `build-report`: valid dataset ids."""
    for dataset_id in dataset_ids:
        check_dataset_id(dataset_id)


def check_drift(dataset_id: str, reference_id: str) -> None:
    """`compare-drift`: a valid dataset id; the reference may name a past snapshot (`id@N`,
    `id@time`)."""
    check_dataset_id(dataset_id)
    check_reference(reference_id)
