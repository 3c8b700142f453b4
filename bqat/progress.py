"""Progress of a running task (done/total/failed, and the step it is at), in a small JSON file
any process can read.

The scan flow writes it after each batch and at each step after the last one (outliers, report);
the outliers and report flows write theirs over the dataset's rows. Writes are atomic (temporary
file, then rename); the API reads it for GET /task/{tid}/ without asking Prefect, which keeps
that route fast under load.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from bqat.atomic import atomic_write
from bqat.settings import get_settings


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int
    step: str | None = None  # "assess", "outliers", "report"; None once the task is done


def progress_path(task_id: str) -> Path:
    return get_settings().home / "progress" / f"{task_id}.json"


def write_progress(task_id: str, progress: Progress) -> None:
    path = progress_path(task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(asdict(progress)))


def read_progress(task_id: str) -> Progress | None:
    """The task's progress; fields a newer writer added are ignored (a worker may be upgraded
    before the API that reads its files)."""
    try:
        written = json.loads(progress_path(task_id).read_text())
    except FileNotFoundError:
        return None
    return Progress(**{f.name: written[f.name] for f in fields(Progress) if f.name in written})
