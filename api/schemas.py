"""Request and response bodies of the HTTP API (they make the OpenAPI schema at /docs)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import msgspec
from litestar.openapi.spec.schema import SchemaDataContainer
from litestar.plugins import OpenAPISchemaPlugin

from bqat._version import __version__
from bqat.measures import available_modalities, specification
from bqat.measures.declaration import Direction, JsonType

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition


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
    step: str | None = None  # assess, outliers or report while running; None when finished
    step: str | None = None  # assess, outliers or report while running; None when finished


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


@dataclass
class FolderOut:
    name: str
    files: dict[str, int]  # modality -> samples a scan of this folder would find


@dataclass
class InputsOut:
    path: str
    folders: list[FolderOut]
    files: dict[str, int]  # modality -> samples a scan of `path` would find


class _RowMarker:
    """Marks `Row`: its OpenAPI schema is the union of the row models an app was created with."""

    def __repr__(self) -> str:
        return "Row"


Row = Annotated[dict[str, Any], _RowMarker()]
"""One stored row (a JSON object); documented per modality by `RowSchemaPlugin`."""

_PYTHON = {"integer": int, "number": float, "boolean": bool, "string": str}
# A plausible magnitude per unit, for the examples of columns whose range is open.
_TYPICAL = {"px": 100, "ratio": 0.5, "fraction": 0.5, "IED": 1.0, "score": 50}

BOOKKEEPING: dict[str, tuple[Any, str, object]] = {
    "dataset_id": (str, "The dataset the row belongs to.", "audit-2026"),
    "file": (
        str,
        "Path of the sample relative to the scanned folder (uploads: the sanitised upload "
        "name; zip members: their path inside the zip).",
        "subject_0001.jpg",
    ),
    "sha256": (str, "SHA-256 of the file's bytes, hex.", "9f2c" * 16),
    "scanned_at": (
        datetime,
        "When the sample was assessed (ISO 8601, UTC).",
        "2026-01-15T09:30:00+00:00",
    ),
    "engine_version": (str, "The bqat version that assessed the sample.", __version__),
    "models": (
        dict[str, str],
        "Name -> sha256 of each model file the assessment ran.",
        {"yunet_s_dynamic": "5a1c" * 16},
    ),
    "options": (
        dict[str, Any],
        "The engine options the sample was assessed with (those given; the rest default).",
        {"confidence": 0.6},
    ),
    "measure_errors": (
        dict[str, str],
        "Measures that could not be computed, with the reason; empty when all were.",
        {},
    ),
}


def row_models() -> dict[str, type[msgspec.Struct]]:
    """One row model per available modality, generated now from the measure declarations.

    `create_app` calls it, so that a modality registered before the app is created is
    documented without any change here.
    """
    return {modality: _row_model(modality) for modality in available_modalities()}


def _row_model(modality: str) -> type[msgspec.Struct]:
    """A model of one stored row of `modality`: bookkeeping, then every declared column.

    Each field carries the declared description (with the unit), range (minimum/maximum),
    values (enum) and an example derived from the declaration. Only for OpenAPI: rows are
    served as the store returns them.
    """
    fields: list[tuple[str, Any]] = [
        (name, Annotated[kind, msgspec.Meta(description=text, examples=[example])])
        for name, (kind, text, example) in BOOKKEEPING.items()
    ]
    for name, entry in specification(modality).items():
        if name not in BOOKKEEPING:
            fields.append((name, _column_type(name, entry)))
    title = "".join(p.capitalize() for p in re.split(r"[^0-9A-Za-z]+", modality) if p)
    return msgspec.defstruct(f"{title}Row", fields, module=__name__)


def _column_type(name: str, entry: dict[str, object]) -> Any:
    """The nullable type of a declared column, annotated with what its declaration says."""
    values = entry.get("values")
    kind: Any = Literal[tuple(values)] if values else _PYTHON[str(entry["type"])]  # type: ignore[misc, arg-type]
    description = str(entry["description"])
    if entry.get("unit"):
        description += f" Unit: {entry['unit']}."
    low, high = _bounds(entry)
    extra = {k: v for k, v in (("minimum", low), ("maximum", high)) if v is not None}
    meta = msgspec.Meta(
        description=description,
        examples=[_example(entry)],
        # Through `extra` (Litestar copies it to the schema as is): a minimum of 0 set with
        # `ge` would be dropped on an optional field.
        extra_json_schema={"extra": extra} if extra else None,
    )
    return Annotated[kind | None, meta]


def _bounds(entry: dict[str, object]) -> tuple[float | None, float | None]:
    declared = entry.get("range")
    if not declared:
        return None, None
    low, high = declared  # type: ignore[misc]
    return low, high


def _example(entry: dict[str, object]) -> object:
    """A realistic value from the declaration: an enumeration's first value, the middle of a
    closed range, else a typical magnitude for the unit within the open range; a declared
    example comes first."""
    if entry.get("example") is not None:
        return entry["example"]
    values = entry.get("values")
    if values:
        return values[0]  # type: ignore[index]
    kind = entry["type"]
    if kind == "boolean":
        return False
    if kind == "string":
        return "text"
    low, high = _bounds(entry)
    if low is not None and high is not None:
        value: float = (low + high) / 2
    else:
        value = _TYPICAL.get(str(entry.get("unit")), 1)
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
    return round(value) if kind == "integer" else float(value)


class RowSchemaPlugin(OpenAPISchemaPlugin):
    """Documents `Row` as one of the row models given (the app's modalities)."""

    def __init__(self, models: dict[str, type[msgspec.Struct]]) -> None:
        self.models = models

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return any(isinstance(m, _RowMarker) for m in field_definition.metadata)

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        models = tuple(self.models.values())
        row: Any = Union[models] if models else dict[str, Any]  # type: ignore[valid-type]  # noqa: UP007
        return SchemaDataContainer(data_container=row)


@dataclass
class ProfilesPage:
    """A page of stored rows; `items` follow the declared columns of the dataset's modality."""

    items: list[Row]
    total: int
    offset: int
    limit: int


class MeasureSpec(msgspec.Struct):
    """One declared column, as `bqat.specification` gives it."""

    modality: str
    type: Annotated[JsonType, msgspec.Meta(description="JSON type of the value.")]
    unit: Annotated[str | None, msgspec.Meta(description="Unit; null when dimensionless.")]
    range: Annotated[
        list[float | None] | None,
        msgspec.Meta(description="[low, high], null where open; null when not declared."),
    ]
    direction: Annotated[Direction, msgspec.Meta(description="Which values are better.")]
    description: str
    clause: Annotated[str | None, msgspec.Meta(description="The standard clause, if any.")]
    values: Annotated[
        list[str] | msgspec.UnsetType, msgspec.Meta(description="The values of an enumeration.")
    ] = msgspec.UNSET
    component: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(description="Mapping to the 0-100 column `<name>_scalar`, when declared."),
    ] = msgspec.UNSET
    example: Annotated[
        Any, msgspec.Meta(description="A typical value, where the declaration gives one.")
    ] = msgspec.UNSET

    @classmethod
    def of(cls, entry: dict[str, object]) -> MeasureSpec:
        """From one `specification()` entry (keys it does not know are left out)."""
        return cls(**{k: entry[k] for k in cls.__struct_fields__ if k in entry})  # type: ignore[arg-type]


def measure_specs(spec: dict[str, dict[str, object]]) -> dict[str, MeasureSpec]:
    return {name: MeasureSpec.of(entry) for name, entry in spec.items()}


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
    """A model the built modalities run. `providers`: the ONNX Runtime execution providers its
    session in this process actually uses when `loaded`, else those it would request (empty for
    files that are not ONNX models)."""

    name: str
    sha256: str
    loaded: bool = False
    providers: list[str] = field(default_factory=list)


@dataclass
class InfoOut:
    """`providers`: the execution providers the sessions loaded in this process actually use
    (`loaded_sessions` > 0), else those a new session would request, best first."""

    version: str
    models: list[ModelOut]
    providers: list[str]
    modalities: list[str]
    loaded_sessions: int = 0
    requested_providers: list[str] = field(default_factory=list)
    available_providers: list[str] = field(default_factory=list)


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
