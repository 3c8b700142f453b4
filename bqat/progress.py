"""Progress of a running task (done/total/failed), in a small JSON file any process can read.

The scan flow writes it after each batch (atomically: temporary file, then rename); the API reads
it for GET /task/{tid}/ without asking Prefect, which keeps that route fast under load.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from bqat.settings import get_settings


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int


def progress_path(task_id: str) -> Path:
    return get_settings().home / "progress" / f"{task_id}.json"


def write_progress(task_id: str, progress: Progress) -> None:
    path = progress_path(task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(asdict(progress)))
    os.replace(temporary, path)


def read_progress(task_id: str) -> Progress | None:
    try:
        return Progress(**json.loads(progress_path(task_id).read_text()))
    except FileNotFoundError:
        return None
