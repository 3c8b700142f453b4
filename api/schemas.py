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
from bqat.wsq import DEFAULT_BITRATE, MAX_BITRATE, MIN_BITRATE

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition


class StrictBody(msgspec.Struct, forbid_unknown_fields=True):
    """A request body whose unknown fields are refused (422 naming the field): a misspelt or
    foreign field (a BQAT-API client's) never goes unnoticed."""


class ScanRequest(StrictBody):
    """A folder, or a list of files, relative to a data root (BQAT_DATA_ROOT)."""

    input: str | list[str]
    modality: Annotated[
        str | None, msgspec.Meta(description="Required, here or as the query's `modality`.")
    ] = None
    options: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="The engine's options (unknown ones are refused; the README lists "
            "each modality's), `pattern` (a regular expression searched in each path relative "
            "to `input`), `batch_size` (most files per assess task: batches are evened out over "
            "the threads) and `engine` (BQAT-API's choice of engine: only 'default' or 'bqat', "
            "the engine of the modality)."
        ),
    ] = msgspec.field(default_factory=dict)
    dataset_id: Annotated[
        str | None,
        msgspec.Meta(description="The dataset the rows go to (new or existing); random if absent."),
    ] = None
    collection: Annotated[
        str | None,
        msgspec.Meta(
            description="BQAT-API's name of `dataset_id` (deprecated).",
            extra_json_schema={"extra": {"deprecated": True}},
        ),
    ] = None


class PreprocessScan(StrictBody):
    """Scan the output once it is written."""

    modality: str
    dataset_id: Annotated[
        str | None, msgspec.Meta(description="The dataset the rows go to; random if absent.")
    ] = None


class PreprocessRequest(StrictBody):
    """A folder relative to a data root, converted into a new folder under the first data root."""

    input: str
    output: Annotated[
        str | None,
        msgspec.Meta(
            description="A new folder, relative to the first data root (409 if it exists); "
            "default `<input>-prep-<first 8 hex digits of tid>`."
        ),
    ] = None
    options: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="mode (rgb, grey), resize_width or scale, format (png, jpg, jp2, webp, "
            "tif, wsq; wav, flac), quality, bitrate (wsq bits per pixel, "
            f"{MIN_BITRATE:g}-{MAX_BITRATE:g}, default {DEFAULT_BITRATE:g}), sample_rate, "
            "channels (1), pattern; unknown ones are refused."
        ),
    ] = msgspec.field(default_factory=dict)
    scan: PreprocessScan | None = None


@dataclass
class PreprocessCreated:
    tid: str
    output: str  # relative to the first data root


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
    # A completed scan whose samples mostly look like another modality says so here.
    warning: str | None = None


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


class AssessJson(StrictBody):
    """One sample as base64 in JSON (the multipart form with `file` works too)."""

    modality: str
    data: str
    filename: str | None = None
    options: dict[str, Any] = msgspec.field(default_factory=dict)


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
class SessionOut:
    """An ONNX Runtime session the built modalities create: a whole model (`name` = `model`) or
    a graph derived from part of one (`model/part`), with the registered file it comes from.
    `providers` as in ModelOut."""

    name: str
    model: str
    file: str
    sha256: str
    loaded: bool = False
    providers: list[str] = field(default_factory=list)


@dataclass
class InfoOut:
    """`providers`: the execution providers the sessions loaded in this process actually use
    (`loaded_sessions` > 0), else those a new session would request, best first. `sessions`:
    every ONNX Runtime session the built modalities use (several may run one model file)."""

    version: str
    models: list[ModelOut]
    providers: list[str]
    modalities: list[str]
    loaded_sessions: int = 0
    requested_providers: list[str] = field(default_factory=list)
    available_providers: list[str] = field(default_factory=list)
    sessions: list[SessionOut] = field(default_factory=list)


class OutlierRequest(StrictBody):
    detector: str = "ECOD"
    columns: list[str] | None = None
    contamination: float = 0.05


class UpstreamReportOptions(StrictBody):
    """BQAT-API's report options: bqat builds one report from every row, so only the values
    that ask for it are taken."""

    minimal: Annotated[bool, msgspec.Meta(description="Only false: there is one report.")] = False
    downsample: Annotated[
        float | None, msgspec.Meta(description="Only 1 (or absent): every row is reported.")
    ] = None


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


class ThresholdOut(msgspec.Struct):
    """One component of a quality profile."""

    measure: Annotated[str, msgspec.Meta(description="The declared column it reads.")]
    minimum: Annotated[float | None, msgspec.Meta(description="Passes at or above; null: open.")]
    maximum: Annotated[float | None, msgspec.Meta(description="Passes at or below; null: open.")]
    allowed: Annotated[
        list[bool | str] | None, msgspec.Meta(description="Passing values of a label or flag.")
    ]
    passes: Annotated[str, msgspec.Meta(description="The passing values, in words.")]
    source: Annotated[
        str, msgspec.Meta(description="Where the value comes from (a clause, or our choice).")
    ]


class QualityProfileOut(msgspec.Struct):
    """A named threshold set of one modality; verdicts under it are computed when read."""

    name: str
    modality: str
    title: str
    description: str
    default: Annotated[bool, msgspec.Meta(description="The modality's default profile.")]
    score: Annotated[
        str | None, msgspec.Meta(description="The measure the report ranks samples by.")
    ]
    presence: Annotated[
        ThresholdOut | None,
        msgspec.Meta(
            description="Says a sample shows this modality at all (wrong-modality check)."
        ),
    ]
    thresholds: list[ThresholdOut]

    @classmethod
    def of(cls, declared: dict[str, Any], *, default: bool) -> QualityProfileOut:
        """From `Profile.to_json()`."""
        return msgspec.convert({**declared, "default": default}, cls)


@dataclass
class ImportOut:
    """A dataset made from another tool's results: `mapped` {their column: ours}, and the
    columns kept as they are (`extra`, text)."""

    dataset_id: str
    rows: int
    mapped: dict[str, str]
    extra: list[str]
