"""The stored columns of each modality, generated from the measure declarations.

Every row carries the bookkeeping columns below, then one typed, nullable column per declared
column of its modality; a measure declared later is added to a dataset's table as a nullable
column, null in older rows. An error is a row with `reason` set and only the first columns.
"""

from __future__ import annotations

import pyarrow as pa

from bqat.measures import specification

META_COLUMNS: dict[str, pa.DataType] = {
    "dataset_id": pa.string(),
    "file": pa.string(),
    "sha256": pa.string(),
    "scanned_at": pa.timestamp("us", tz="UTC"),
    "engine_version": pa.string(),
    "models": pa.string(),  # JSON object: model name -> sha256
    "options": pa.string(),  # JSON object of the options the sample was assessed with
    "measure_errors": pa.string(),  # JSON object: measure name -> why it could not be computed
}
ERROR_SCHEMA = pa.schema(
    [*list(META_COLUMNS.items())[:4], ("reason", pa.string())]  # dataset_id ... scanned_at
)
_ARROW_TYPES = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


def measure_columns(modality: str) -> dict[str, pa.DataType]:
    """Declared columns of the modality (less `file`, which is bookkeeping), with arrow types."""
    return {
        name: _ARROW_TYPES[entry["type"]]
        for name, entry in specification(modality).items()
        if name not in META_COLUMNS
    }


def row_schema(modality: str) -> pa.Schema:
    """The full schema of a stored row of `modality`."""
    return pa.schema([*META_COLUMNS.items(), *measure_columns(modality).items()])
