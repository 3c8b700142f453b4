"""Records of a results file as stored columns: mapped measures typed, the rest kept as text.

Conversion is by column with Arrow; a column that does not parse whole is converted cell by
cell, so that each bad cell gets its own reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bqat.exceptions import InputError
from bqat.imports.reading import Record
from bqat.imports.sources import (
    NFIQ2_COLUMNS,
    NFIQ2_ERROR,
    OFIQ_MEASURES,
    OFIQ_SCALAR,
    Format,
    extra_name,
    mapping,
)
from bqat.measures import specification
from bqat.store.schema import META_COLUMNS

# What api/routes/results.py's csv_safe prefixes with `'` in a text cell of our CSV export.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
JSON_COLUMNS = ("models", "options", "measure_errors")
STAMPED = ("dataset_id", "scanned_at")  # the store stamps them again
MISSING = ("", "NA", "NaN", "nan")
_ARROW = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_EXTRA_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Plan:
    """Where each column of the file goes: one of ours (with its declared type) or an extra."""

    fmt: Format
    header: list[str]
    types: dict[str, str]  # our column -> declared type
    ours: dict[str, str]  # their column -> our column
    extra: dict[str, str]  # their column -> extra column

    @property
    def mapped(self) -> dict[str, str]:
        """{their column: our measure} (bookkeeping such as the file name left out)."""
        return {k: v for k, v in self.ours.items() if v not in META_COLUMNS}

    @property
    def foreign(self) -> bool:
        return self.fmt.source != "bqat"


def plan(fmt: Format, modality: str, header: list[str]) -> Plan:
    """Our export's columns are ours by name; another tool's by its declared mapping."""
    declared = specification(modality)
    types = {name: str(entry["type"]) for name, entry in declared.items()}
    known = set(declared) | set(META_COLUMNS)
    if fmt.source == "bqat":
        ours = {name: name for name in header if name in known and name not in STAMPED}
        extra = {name: name for name in header if name not in known}
        for name in extra:
            if not _EXTRA_NAME.fullmatch(name) or name == "reason":
                raise InputError(
                    f"line 1: column {name!r} is none of bqat's {modality} columns, and cannot "
                    "be kept as an extra one (lower-case letters, digits and _ only)"
                )
    else:
        table = {fmt.file_column: "file", **mapping(fmt.source, modality)}
        ours = {name: table[name] for name in header if name in table}
        extra = {name: extra_name(fmt.source, name) for name in header if name not in ours}
        for theirs, name in extra.items():
            if name in known:
                raise InputError(f"line 1: column {theirs!r} cannot be kept as {name!r}")
        if len(set(extra.values())) < len(extra):
            raise InputError("line 1: two columns have the same snake_case name")
    return Plan(fmt=fmt, header=header, types=types, ours=ours, extra=extra)


def check(layout: Plan, records: Iterator[Record]) -> None:
    """Refuse, before anything is stored, a record without a file name, a file named twice
    and (in our export) a bookkeeping cell that is not a JSON object."""
    index = {name: i for i, name in enumerate(layout.header)}
    column = layout.fmt.file_column
    at = index[column]
    objects = [(name, index[name]) for name in JSON_COLUMNS if name in layout.ours]
    seen: dict[str, str] = {}
    for where, cells in records:
        file = _file(cells[at], layout)
        if file is None:
            raise InputError(f"{where}, column {column}: no file name")
        if file in seen:
            raise InputError(
                f"{where}, column {column}: file {file!r} is also on {seen[file]}; a dataset "
                "holds one row per file"
            )
        seen[file] = where
        for name, position in objects:
            _json_object(where, name, cells[position])


def batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """The records `size` at a time: one stored transaction each."""
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def table(layout: Plan, batch: Sequence[Record]) -> pa.Table:
    """One batch of records as stored columns (the store stamps dataset_id and scanned_at)."""
    wheres = [where for where, _ in batch]
    cells = list(zip(*(row for _, row in batch), strict=True))
    index = {name: i for i, name in enumerate(layout.header)}
    reasons: list[dict[str, str]] = [{} for _ in batch]
    columns: dict[str, pa.Array] = {}
    for theirs, ours in layout.ours.items():
        if ours in JSON_COLUMNS:
            continue
        kind = layout.types.get(ours, "string")
        values, failed = _convert(cells[index[theirs]], kind, layout)
        for row, why in failed.items():
            reasons[row][ours] = f"{layout.fmt.source} column {theirs} ({wheres[row]}): {why}"
        columns[ours] = values
    if layout.fmt.source == "ofiq":
        _ofiq_failures(cells, index, wheres, columns, reasons)
    if layout.fmt.source == "nfiq2" and NFIQ2_ERROR in index:
        _nfiq2_reasons(cells[index[NFIQ2_ERROR]], reasons)
    for key, value in _bookkeeping(layout, cells, index, wheres, reasons).items():
        columns[key] = value
    for theirs, name in layout.extra.items():
        columns[name] = _kept(cells[index[theirs]])
    return pa.table(columns)


def _kept(cells: Sequence[Any]) -> pa.Array:
    """An extra column: text as it is, empty as null (a Parquet list or struct as JSON)."""
    try:
        text = pc.cast(pa.array(cells), pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        text = pa.array([None if c is None else json.dumps(c, default=str) for c in cells])
    return pc.if_else(pc.equal(text, ""), None, text)


def _bookkeeping(
    layout: Plan,
    cells: list[tuple[Any, ...]],
    index: dict[str, int],
    wheres: list[str],
    reasons: list[dict[str, str]],
) -> dict[str, pa.Array]:
    """models, options and measure_errors as the store keeps them (JSON text, sorted keys):
    our export's own, merged with the reasons of this import; another tool's say where from."""
    count = len(wheres)
    if layout.foreign:
        empty = pa.nulls(count, pa.string())
        options = json.dumps({"imported_from": layout.fmt.source})
        found = {"sha256": empty, "engine_version": empty}
        found["models"] = pa.array(["{}"] * count, pa.string())
        found["options"] = pa.array([options] * count, pa.string())
        given: list[dict[str, str] | None] = [{} for _ in range(count)]
    else:
        found = {}
        objects = {
            name: [
                _json_object(where, name, cell)
                for where, cell in zip(wheres, cells[index[name]], strict=True)
            ]
            for name in JSON_COLUMNS
            if name in layout.ours
        }
        for name in ("models", "options"):
            if name in objects:
                found[name] = pa.array([_dumped(o) for o in objects[name]], pa.string())
        given = objects.get("measure_errors", [None] * count)
    merged = [
        None if old is None and not new else {**(old or {}), **new}
        for old, new in zip(given, reasons, strict=True)
    ]
    found["measure_errors"] = pa.array([_dumped(m) for m in merged], pa.string())
    return found


def _dumped(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _file(cell: Any, layout: Plan) -> str | None:
    if cell is None or cell == "":
        return None
    return _unquoted(cell) if not layout.foreign and isinstance(cell, str) else str(cell)


def _convert(cells: Sequence[Any], kind: str, layout: Plan) -> tuple[pa.Array, dict[int, str]]:
    """A column of cells as the declared type, and {row: why it is null} for the rows left
    null. Empty (and NIST's NA) is null: in another tool's results with its reason; in our
    export a null that the file's own measure_errors explain, or not applicable."""
    if kind == "string":  # the file name, or our export's text measures
        return pa.array([_file(c, layout) for c in cells], pa.string()), {}
    text = _text(cells)
    missing = _missing(cells, text) if layout.foreign else {}
    try:
        return _whole(cells, text, _ARROW[kind]), missing
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        pass
    values, failed = [], {}
    for row, cell in enumerate(cells):
        try:
            values.append(_value(cell, kind))
        except ValueError as exc:
            values.append(None)
            failed[row] = str(exc)
    return pa.array(values, _ARROW[kind]), {**missing, **failed}


def _text(cells: Sequence[Any]) -> pa.Array | None:
    """The cells trimmed, empty and NA as null; None when they are typed already (Parquet)."""
    if not any(isinstance(c, str) for c in cells):
        return None
    text = pc.utf8_trim_whitespace(pa.array(cells, pa.string()))
    return pc.if_else(pc.is_in(text, value_set=pa.array(MISSING)), None, text)


def _whole(cells: Sequence[Any], text: pa.Array | None, target: pa.DataType) -> pa.Array:
    """The column converted in one go; ValueError (or Arrow's) when any cell does not fit."""
    if text is None:
        values = pc.cast(pa.array(cells), target)
    elif pa.types.is_boolean(target):
        values = pc.cast(pc.utf8_lower(text), target)
    else:
        values = pc.cast(text, target)
    if pa.types.is_floating(values.type) and not pc.all(pc.is_finite(values)).as_py():
        raise ValueError("not finite")
    return values


def _missing(cells: Sequence[Any], text: pa.Array | None) -> dict[int, str]:
    """Why each empty cell of another tool's mapped column is null."""
    empty = pc.is_null(pa.array(cells) if text is None else text)
    return {
        row: f"{cells[row].strip()!r} in the file" if cells[row] else "empty in the imported file"
        for row in pc.indices_nonzero(empty).to_pylist()
    }


def _value(cell: Any, kind: str) -> Any:
    """One cell as the declared type (None when empty); ValueError says why it is not one."""
    if cell is None or (isinstance(cell, str) and cell.strip() in MISSING):
        return None
    if isinstance(cell, str):
        text = cell.strip()
        if kind == "boolean":
            if text.lower() not in _BOOLEANS:
                raise ValueError(f"{cell[:40]!r} is not true or false")
            return _BOOLEANS[text.lower()]
        try:
            cell = float(text)
        except ValueError:
            raise ValueError(f"{cell[:40]!r} is not a number") from None
    if kind == "boolean":
        if not isinstance(cell, bool):
            raise ValueError(f"{cell!r} is not true or false")
        return cell
    if isinstance(cell, bool) or not isinstance(cell, int | float) or not math.isfinite(cell):
        raise ValueError(f"{cell!r} is not a finite number")
    if kind == "integer":
        if cell != int(cell):
            raise ValueError(f"{cell!r} is not a whole number")
        return int(cell)
    return float(cell)


def _ofiq_failures(
    cells: list[tuple[Any, ...]],
    index: dict[str, int],
    wheres: list[str],
    columns: dict[str, pa.Array],
    reasons: list[dict[str, str]],
) -> None:
    """OFIQ writes -1 as the component of a measure that failed: our values are null then."""
    for theirs, measure in OFIQ_MEASURES.items():
        ours = measure.ours
        position = index.get(theirs + OFIQ_SCALAR)
        if position is None:
            continue
        failed = [row for row, cell in enumerate(cells[position]) if _is_minus_one(cell)]
        if not failed:
            continue
        mask = pc.is_in(pa.array(range(len(wheres))), value_set=pa.array(failed))
        for name in (ours, ours + "_scalar"):
            if name in columns:
                columns[name] = pc.if_else(mask, None, columns[name])
                for row in failed:
                    reasons[row][name] = f"OFIQ reports {theirs} failed (scalar -1, {wheres[row]})"


def _is_minus_one(cell: Any) -> bool:
    try:
        return float(cell) == -1
    except (TypeError, ValueError):
        return False


def _nfiq2_reasons(optional_errors: Sequence[Any], reasons: list[dict[str, str]]) -> None:
    """NIST's own reason after ours where it gave no score."""
    score = NFIQ2_COLUMNS["QualityScore"]
    for row, text in enumerate(optional_errors):
        said = str(text or "").strip()
        if score in reasons[row] and said and said != "NA":
            reasons[row][score] += f"; NFIQ 2 says: {said}"


def _unquoted(cell: str) -> str:
    """A text cell of our CSV export as it was stored (csv_safe put `'` before a formula)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def _json_object(where: str, column: str, cell: Any) -> dict[str, Any] | None:
    """A JSON object column of our export (models, options, measure_errors); None if empty."""
    if cell is None or cell == "":
        return None
    try:
        value = json.loads(cell) if isinstance(cell, str) else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InputError(f"{where}, column {column}: not a JSON object: {str(cell)[:60]!r}")
    return value
