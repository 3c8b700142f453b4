"""Request and response bodies of the HTTP API (they make the OpenAPI schema at /docs)."""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any, Literal, Union

from bqat.measures import available_modalities, specification


@dataclass
class ScanRequest:
    """A folder, or a list of files, relative to a data root (BQAT_DATA_ROOT)."""

    input: str | list[str]
    modality: str
    options: dict[str, Any] = field(default_factory=dict)
    dataset_id: str | None = None


@dataclass
class TaskCreated:
    tid: str
    dataset_id: str


@dataclass
class Progress:
    total: int | None
    done: int
    failed: int
    eta_s: float | None


@dataclass
class TaskOut:
    tid: str
    kind: str
    dataset_id: str | None
    state: str
    progress: Progress
    created: str | None
    started: str | None
    finished: str | None
    error: str | None = None


@dataclass
class DatasetOut:
    dataset_id: str
    modality: str
    created: str
    rows: int
    errors: int


def _row_model(modality: str) -> type:
    """A dataclass of one stored row, generated from the measure declarations (for OpenAPI)."""
    python = {"integer": int, "number": float, "boolean": bool, "string": str}
    fields = [
        ("dataset_id", str),
        ("file", str),
        ("sha256", str),
        ("scanned_at", str),
        ("engine_version", str),
        ("models", str),
        ("options", str),
    ]
    known = {name for name, _ in fields}
    for name, entry in specification(modality).items():
        if name not in known:
            fields.append((name, python[str(entry["type"])] | None))  # type: ignore[arg-type]
    return make_dataclass(f"{modality.capitalize()}Row", fields)


Row = Union[tuple(_row_model(m) for m in available_modalities())]  # type: ignore[misc]  # noqa: UP007


@dataclass
class ProfilesPage:
    """A page of stored rows; `items` follow the declared columns of the dataset's modality."""

    items: list[Row]  # type: ignore[valid-type]
    total: int
    offset: int
    limit: int


@dataclass
class FileError:
    file: str
    reason: str


@dataclass
class AssessJson:
    """One sample as base64 in JSON (the multipart form with `file` works too)."""

    modality: str
    data: str
    filename: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelOut:
    name: str
    sha256: str


@dataclass
class InfoOut:
    version: str
    models: list[ModelOut]
    providers: list[str]
    modalities: list[str]


@dataclass
class OutlierRequest:
    detector: str = "ECOD"
    columns: list[str] | None = None
    contamination: float = 0.05


@dataclass
class TaskStarted:
    tid: str


@dataclass
class DetectorOut:
    name: str
    description: str


@dataclass
class DuplicateGroupOut:
    kind: Literal["exact", "near"]
    files: list[str]
    distance: int


@dataclass
class DuplicatesOut:
    dataset_id: str
    max_distance: int
    groups: list[DuplicateGroupOut]
