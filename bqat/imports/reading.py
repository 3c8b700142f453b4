"""Reading a results file: which tool wrote it, its header, and its records, line by line.

Every refusal is an `InputError` naming the line (and column) a person opens the file at.
Records are read again for each pass over the file, never all held in memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bqat.exceptions import InputError
from bqat.imports.sources import FORMATS, NFIQ2_ERROR, Format

MAX_HEADER_BYTES = 1024 * 1024
PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH = 10_000

Record = tuple[str, list[Any]]  # where it is ("line 3", "row 3"), its cells in header order
Records = Callable[[], Iterator[Record]]


def open_results(path: Path, source: str | None) -> tuple[Format, list[str], Records]:
    """The format (`source`, or sniffed), the header and a reader of the records of `path`."""
    with path.open("rb") as handle:
        parquet = handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC
    if parquet:
        if source not in (None, "bqat"):
            raise InputError(f"{path.name} is a Parquet file; {source} writes CSV")
        return FORMATS["bqat"], *_parquet(path)
    return _csv(path, source)


def _csv(path: Path, source: str | None) -> tuple[Format, list[str], Records]:
    with path.open("rb") as handle:
        first = handle.readline(MAX_HEADER_BYTES)
    try:
        header_line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"line 1: not UTF-8 text (byte {exc.start + 1})") from None
    fmt = FORMATS[source] if source else _sniff(header_line)
    header = next(csv.reader([header_line], delimiter=fmt.delimiter), [])
    if fmt.source == "ofiq" and header and header[-1] == "":
        header = header[:-1]  # OFIQSampleApp ends its header, not its rows, with ';'
    if len(header) < 2:
        other = next((d for d in ",;\t" if d != fmt.delimiter and d in header_line), None)
        found = f"it is separated by {other!r}" if other else "it has one column"
        raise InputError(
            f"line 1: the header is not {fmt.source}'s: {found}, and {fmt.source} results are "
            f"separated by {fmt.delimiter!r}"
        )
    _check_header(header, fmt)
    return fmt, header, lambda: _csv_records(path, header, fmt)


def _sniff(header_line: str) -> Format:
    """The tool whose header this is: OFIQ's starts `Filename;`, NIST's names QualityScore and
    OptionalError, ours has `file` and `sha256`."""
    names = {cell.strip().strip('"') for cell in re.split(r"[,;\t]", header_line)}
    if header_line.startswith("Filename;"):
        return FORMATS["ofiq"]
    if {"Filename", "QualityScore", NFIQ2_ERROR} <= names:
        return FORMATS["nfiq2"]
    if {"file", "sha256"} <= names:
        return FORMATS["bqat"]
    raise InputError(
        "line 1: the header is none of bqat's export (file, sha256, ...), OFIQ's CSV "
        "(Filename;...) or NIST NFIQ 2's CSV (Filename, QualityScore, OptionalError, ...); "
        "name the source if it is one of them"
    )


def _check_header(header: list[str], fmt: Format) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(header, 1):
        if name in seen:
            raise InputError(f"line 1, columns {seen[name]} and {index}: {name!r} is named twice")
        seen[name] = index
    if fmt.file_column not in seen:
        raise InputError(f"line 1: no {fmt.file_column!r} column, which {fmt.source} results have")


def _csv_records(path: Path, header: list[str], fmt: Format) -> Iterator[Record]:
    """The rows after the header; blank lines are skipped."""
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text, delimiter=fmt.delimiter, strict=True)
        line = 1
        try:
            next(reader)
            line = reader.line_num + 1
            for cells in reader:
                # A record over several lines has a line break inside a quoted cell.
                if cells:
                    yield _checked(f"line {line}", cells, header, fmt, reader.line_num > line)
                line = reader.line_num + 1
        except csv.Error as exc:
            raise InputError(f"line {line}: not CSV as {fmt.source} writes it: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"near line {line}: not UTF-8 text ({exc.reason})") from None


def _checked(
    where: str, cells: list[str], header: list[str], fmt: Format, several_lines: bool
) -> Record:
    if fmt.source == "ofiq" and len(cells) == len(header) + 1 and not cells[-1]:
        cells = cells[:-1]
    if len(cells) != len(header):
        raise InputError(
            f"{where}: {len(cells)} cells where the header names {len(header)} "
            f"(cells are separated by {fmt.delimiter!r}; is one unquoted?)"
        )
    if several_lines:
        name = next(n for n, c in zip(header, cells, strict=True) if "\n" in c or "\r" in c)
        raise InputError(
            f"{where}, column {name}: a line break inside a quoted cell (refused: no file "
            "name or value holds one)"
        )
    return where, cells


def _parquet(path: Path) -> tuple[list[str], Records]:
    try:
        header = list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path.name}: not a readable Parquet file ({exc})") from None
    _check_header(header, FORMATS["bqat"])

    def records() -> Iterator[Record]:
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH):
            columns = [batch.column(name).to_pylist() for name in header]
            for cells in zip(*columns, strict=True):
                row += 1
                yield f"row {row}", list(cells)

    return header, records
