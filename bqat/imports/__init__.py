"""Another tool's results as a dataset: bqat's own export, OFIQ's CSV, NIST NFIQ 2's CSV.

The columns whose meaning is ours are mapped onto our declared measures (bqat/imports/sources.py
says which); every other column is kept as it is, as an extra text column. The dataset then
serves profiles, outliers, the report and drift like a scanned one, so last year's OFIQ audit
can be compared with this year's bqat scan.

A file that cannot be read as a whole (wrong separator, a line break inside a cell, a file
named twice, no file column, too large) is an `InputError` naming the line and column, and
nothing is stored: the file is read once to check it, then again to store it in batches. A cell
of a mapped measure that does not parse is that row's null with its reason in `measure_errors`.
An import only makes a new dataset: of two imports racing for one new id, one creates it and
the other is refused as if it had existed before (ConfigError), leaving the first's whole.
Cells are text, never evaluated: `=HYPERLINK(...)` is stored as written (the CSV export quotes
it again).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from bqat.exceptions import ConfigError, InputError, NotFoundError
from bqat.imports import columns
from bqat.imports.columns import FORMULA_START
from bqat.imports.reading import open_results
from bqat.imports.sources import NFIQ2_COLUMNS, OFIQ_MEASURES, SOURCES, mapping
from bqat.measures import check_modality
from bqat.settings import get_settings
from bqat.store import Store, check_dataset_id

BATCH_ROWS = 10_000  # rows converted and stored at a time

__all__ = [
    "FORMULA_START",
    "NFIQ2_COLUMNS",
    "OFIQ_MEASURES",
    "SOURCES",
    "ImportSummary",
    "import_results",
    "mapping",
]


@dataclass(frozen=True)
class ImportSummary:
    """What an import made: the dataset, its rows, `mapped` {theirs: ours}, the extra columns
    and the source (as given or sniffed)."""

    dataset_id: str
    rows: int
    mapped: dict[str, str]
    extra: list[str]
    source: str


def import_results(
    path: str | Path,
    modality: str,
    dataset_id: str | None = None,
    source: str | None = None,
    store: Store | None = None,
) -> ImportSummary:
    """Make a new dataset of `modality` from another tool's results file (CSV or Parquet).

    `source` (bqat, ofiq, nfiq2) is sniffed from the header when not given. The file may have
    at most BQAT_MAX_UPLOAD_BYTES. Raises `InputError` (naming the line and column) for a file
    that cannot be read, `ConfigError` for a bad argument or an existing `dataset_id`.
    """
    path = Path(path)
    modality = check_modality(modality)
    if source is not None and source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    _check_size(path)
    fmt, header, records = open_results(path, source)
    if fmt.modality is not None and fmt.modality != modality:
        raise ConfigError(f"{fmt.source} results are {fmt.modality} results, not {modality}")
    layout = columns.plan(fmt, modality, header)
    store = store or Store()
    dataset_id = _new_dataset(store, dataset_id)
    columns.check(layout, records())
    extra = list(layout.extra.values())
    try:  # an import racing this one for the id may have made it since _new_dataset
        store.create_dataset(dataset_id, modality, extra=extra, new=True)
    except ConfigError:
        raise _taken(dataset_id) from None
    rows = 0
    try:
        for batch in columns.batches(records(), BATCH_ROWS):
            table = columns.table(layout, batch)
            store.append(dataset_id, rows=table)
            rows += table.num_rows
    except BaseException:
        store.delete_dataset(dataset_id)
        raise
    return ImportSummary(dataset_id, rows, layout.mapped, extra, fmt.source)


def _check_size(path: Path) -> None:
    limit = get_settings().max_upload_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > limit:
        raise InputError(
            f"{path.name} has {size} bytes; the limit is {limit} (BQAT_MAX_UPLOAD_BYTES)"
        )


def _new_dataset(store: Store, dataset_id: str | None) -> str:
    chosen = check_dataset_id(dataset_id or uuid.uuid4().hex)
    try:
        store.dataset(chosen)
    except NotFoundError:
        return chosen
    raise _taken(chosen)


def _taken(dataset_id: str) -> ConfigError:
    return ConfigError(
        f"dataset {dataset_id} exists: import into a new dataset id, or delete it first"
    )
