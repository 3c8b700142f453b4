"""The result store: Parquet parts on disk, queried with an in-process DuckDB.

Why parts and not one database file: DuckDB lets one process hold a database file, so API and
workers (other processes, other machines on a shared filesystem) would fight over it. Here every
batch is written as its own Parquet file (to a temporary name, then renamed: atomic), and any
process can read all parts at any time. A crash loses at most the batch being written.

Rows are keyed by (dataset_id, file). Several parts may hold the same file (a changed file is
re-assessed, a failed one retried): for each file the latest event wins, a row (its measures) or
an error (its reason). Compaction rewrites a dataset's parts as one part holding only the latest
event per file; readers that see old and new parts at once still get each file once.

Layout: <root>/<dataset_id>/dataset.json, rows/*.parquet, errors/*.parquet.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bqat.atomic import atomic_write
from bqat.exceptions import ConfigError, NotFoundError
from bqat.measures import check_modality
from bqat.settings import get_settings
from bqat.store.schema import ERROR_SCHEMA, row_schema

_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
Operator = Literal["=", "!=", "<", "<=", ">", ">="]
OPERATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")
_CACHED_DATASETS = 2
_READ_ATTEMPTS = 5
_JSON_COLUMNS = ("models", "options", "measure_errors")
_REPLACES = "bqat.replaces"  # Parquet metadata of a merged part: the names of the parts it holds
MAX_PARTS = 32


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: str
    modality: str
    created: datetime
    rows: int
    errors: int


@dataclass(frozen=True)
class Filter:
    """`column op value`; the column must be a stored column, the value is a bound parameter."""

    column: str
    op: Operator
    value: object


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int | None


def check_dataset_id(dataset_id: str) -> str:
    """`dataset_id` if it is a safe folder name (letters, digits, . _ -; at most 128)."""
    if not isinstance(dataset_id, str) or not _DATASET_ID.match(dataset_id):
        raise ConfigError(
            f"invalid dataset id {dataset_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return dataset_id


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Datasets of assessed rows and per-file errors under one root folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else get_settings().home / "store"
        self._local = threading.local()
        self._cache: OrderedDict[str, _Latest] = OrderedDict()
        self._cache_lock = threading.Lock()

    # Datasets -------------------------------------------------------------------------------

    def create_dataset(self, dataset_id: str, modality: str) -> DatasetInfo:
        """Create the dataset, or return it when it exists with the same modality."""
        folder = self._folder(check_dataset_id(dataset_id))
        check_modality(modality)
        meta = folder / "dataset.json"
        if not meta.exists():
            for sub in ("rows", "errors"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            content = {"modality": modality, "created": _now().isoformat()}
            atomic_write(meta, json.dumps(content).encode())
        existing = self._meta(dataset_id)
        if existing["modality"] != modality:
            raise ConfigError(
                f"dataset {dataset_id} holds {existing['modality']} samples, not {modality}"
            )
        return self.dataset(dataset_id)

    def add_source(self, dataset_id: str, folder: Path) -> None:
        """Remember a folder the dataset's files were read from (reports show their thumbnails)."""
        meta = self._meta(dataset_id)
        sources = meta.get("sources", [])
        if str(folder) not in sources:
            meta["sources"] = [*sources, str(folder)]
            atomic_write(self._folder(dataset_id) / "dataset.json", json.dumps(meta).encode())

    def sources(self, dataset_id: str) -> list[Path]:
        """The folders scanned into the dataset, oldest first."""
        return [Path(folder) for folder in self._meta(dataset_id).get("sources", [])]

    def dataset(self, dataset_id: str) -> DatasetInfo:
        meta = self._meta(dataset_id)
        rows, errors = self._counts(dataset_id)
        return DatasetInfo(
            dataset_id=dataset_id,
            modality=meta["modality"],
            created=datetime.fromisoformat(meta["created"]),
            rows=rows,
            errors=errors,
        )

    def datasets(self) -> list[DatasetInfo]:
        if not self.root.is_dir():
            return []
        found = [p.parent.name for p in self.root.glob("*/dataset.json")]
        return sorted((self.dataset(d) for d in found), key=lambda d: (d.created, d.dataset_id))

    def delete_dataset(self, dataset_id: str) -> None:
        folder = self._folder(check_dataset_id(dataset_id))
        if not (folder / "dataset.json").exists():
            raise NotFoundError(f"unknown dataset {dataset_id}")
        trash = folder.with_name(f".deleting-{dataset_id}-{uuid.uuid4().hex}")
        os.replace(folder, trash)  # readers stop seeing it at once; removal may take a while
        shutil.rmtree(trash, ignore_errors=True)

    # Writing --------------------------------------------------------------------------------

    def append(
        self,
        dataset_id: str,
        rows: Sequence[dict[str, Any]] = (),
        errors: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Store one batch: each list becomes one atomic Parquet part.

        Rows hold the bookkeeping columns (file, sha256, engine_version, models, options,
        measure_errors; dataset_id and scanned_at are filled in) and the measures; unknown keys
        are refused.
        Errors hold file, sha256 (may be None) and reason.
        """
        meta = self._meta(dataset_id)
        stamp = _now()
        if rows:
            schema = row_schema(meta["modality"])
            table = _table(rows, schema, dataset_id, stamp)
            self._write_part(dataset_id, "rows", table)
        if errors:
            table = _table(errors, ERROR_SCHEMA, dataset_id, stamp)
            self._write_part(dataset_id, "errors", table)
        self.merge_small_parts(dataset_id)

    def merge_small_parts(self, dataset_id: str, max_parts: int = MAX_PARTS) -> None:
        """Keep each kind of part at most `max_parts`: merge the smallest ones into one part.

        Size-tiered: a merge takes the smallest parts, so a row is rewritten a logarithmic
        number of times however long the scan. Events are copied as they are (no deduplication:
        that is `compact`), so readers see the same answers before and after. Skipped while
        another process compacts or merges this dataset.
        """
        folder = self._folder(check_dataset_id(dataset_id))
        kinds = [k for k in ("rows", "errors") if len(self._parts(dataset_id, k)) > max_parts]
        if not kinds:
            return
        with _exclusive(folder / ".compact.lock") as locked:
            if not locked:
                return
            for kind in kinds:
                parts = self._parts(dataset_id, kind)
                if len(parts) <= max_parts:
                    continue
                smallest = sorted(parts, key=lambda p: p.stat().st_size)
                chosen = smallest[: len(parts) - max_parts // 2 + 1]
                merged = pa.concat_tables(
                    [pq.read_table(p) for p in chosen], promote_options="default"
                )
                self._write_part(dataset_id, kind, merged, replaces=chosen)
                for part in chosen:
                    part.unlink()

    def compact(self, dataset_id: str) -> bool:
        """Rewrite the dataset as one part of rows and one of errors, latest event per file.

        Returns False when another process is compacting this dataset (nothing is done).
        """
        folder = self._folder(check_dataset_id(dataset_id))
        self._meta(dataset_id)
        with _exclusive(folder / ".compact.lock") as locked:
            if not locked:
                return False
            rows, errors = self._parts(dataset_id, "rows"), self._parts(dataset_id, "errors")
            if len(rows) <= 1 and len(errors) <= 1:
                return True
            with self._cursor() as cur:
                if rows:
                    latest = _utc(cur.execute(_latest_rows_sql(rows, errors)).to_arrow_table())
                    if latest.num_rows:
                        self._write_part(dataset_id, "rows", latest, replaces=rows)
                if errors:
                    latest = _utc(cur.execute(_latest_errors_sql(rows, errors)).to_arrow_table())
                    if latest.num_rows:
                        self._write_part(
                            dataset_id,
                            "errors",
                            latest.select(ERROR_SCHEMA.names),
                            replaces=errors,
                        )
            for part in (*rows, *errors):
                part.unlink(missing_ok=True)
            return True

    # Reading --------------------------------------------------------------------------------

    def stored_hashes(self, dataset_id: str) -> dict[str, str]:
        """file -> sha256 of the files whose latest event is a stored row (skip these on re-run)."""
        table = self._latest(dataset_id).table
        return dict(
            zip(table.column("file").to_pylist(), table.column("sha256").to_pylist(), strict=True)
        )

    def profiles(
        self,
        dataset_id: str,
        *,
        offset: int = 0,
        limit: int | None = None,
        order_by: Sequence[str] = (),
        filters: Sequence[Filter] = (),
    ) -> Page:
        """One page of the dataset's rows (latest per file), ordered and filtered.

        `order_by` names stored columns, `-column` for descending; rows are then ordered by file
        so pages are stable. Columns are checked against the stored schema and quoted; values
        are bound parameters, never spliced into the SQL.
        """
        page, total = self.rows(
            dataset_id, offset=offset, limit=limit, order_by=order_by, filters=filters
        )
        items = page.to_pylist()
        for item in items:
            item["scanned_at"] = item["scanned_at"].isoformat()
            for column in _JSON_COLUMNS:  # objects, not JSON text inside JSON
                if item[column] is not None:  # null: stored before the column existed
                    item[column] = json.loads(item[column])
        return Page(items=items, total=total, offset=offset, limit=limit)

    def rows(
        self,
        dataset_id: str,
        *,
        offset: int = 0,
        limit: int | None = None,
        order_by: Sequence[str] = (),
        filters: Sequence[Filter] = (),
    ) -> tuple[pa.Table, int]:
        """`profiles` as an Arrow table (for exports), with the total number of matching rows."""
        meta = self._meta(dataset_id)
        columns = row_schema(meta["modality"]).names
        if offset < 0 or (limit is not None and limit < 0):
            raise ConfigError("offset and limit must not be negative")
        where, params = _where(filters, columns)
        order = [*(_order_term(term, columns) for term in order_by), '"file"']
        latest = self._latest(dataset_id)
        if not filters:
            total = latest.table.num_rows
            end = total if limit is None else min(total, offset + limit)
            return latest.take(latest.order(tuple(order_by))[offset:end]), total
        with self._cursor() as cur:
            cur.register("latest", latest.table)
            base = f"SELECT * FROM latest {where}"
            total = cur.execute(f"SELECT count(*) FROM ({base})", params).fetchone()[0]
            page = cur.execute(
                f"{base} ORDER BY {', '.join(order)} LIMIT ? OFFSET ?",
                [*params, limit if limit is not None else total, offset],
            ).to_arrow_table()
            cur.unregister("latest")
        return _utc(page), int(total)

    def table(self, dataset_id: str, columns: Sequence[str]) -> pa.Table:
        """The dataset's latest rows, these stored columns only, as one Arrow table."""
        stored = row_schema(self._meta(dataset_id)["modality"]).names
        unknown = [c for c in columns if c not in stored]
        if unknown:
            raise ConfigError(f"not stored columns: {', '.join(unknown)}")
        return self._latest(dataset_id).table.select(list(columns))

    def summary(self, dataset_id: str) -> list[dict[str, Any]]:
        """count, min, mean, median and max of every numeric measure column of the dataset."""
        meta = self._meta(dataset_id)
        schema = row_schema(meta["modality"])
        numeric = [
            f.name for f in schema if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
        ]

        latest = self._latest(dataset_id).table
        if not latest.num_rows or not numeric:
            return []
        aggregates = ", ".join(
            f"count({q}), min({q}), avg({q}), median({q}), max({q})" for q in map(_quote, numeric)
        )
        with self._cursor() as cur:
            cur.register("latest", latest)
            values = cur.execute(f"SELECT {aggregates} FROM latest").fetchone()
            cur.unregister("latest")
        return [
            {
                "column": column,
                "count": values[5 * i],
                "min": values[5 * i + 1],
                "mean": values[5 * i + 2],
                "median": values[5 * i + 3],
                "max": values[5 * i + 4],
            }
            for i, column in enumerate(numeric)
            if values[5 * i]
        ]

    def errors(self, dataset_id: str) -> list[dict[str, Any]]:
        """The files whose latest event is an error, with the reason, ordered by file."""
        self._meta(dataset_id)

        def query(cur: duckdb.DuckDBPyConnection, rows: list[Path], errors: list[Path]) -> Any:
            if not errors:
                return []
            sql = f"SELECT file, reason FROM ({_latest_errors_sql(rows, errors)}) ORDER BY file"
            return cur.execute(sql).fetchall()

        return [{"file": file, "reason": reason} for file, reason in self._read(dataset_id, query)]

    # Internals ------------------------------------------------------------------------------

    def _latest(self, dataset_id: str) -> _Latest:
        """The dataset's latest row per file, cached until its set of parts changes.

        Parts are immutable and uniquely named, so their names identify a snapshot. When parts
        were added, or merged from parts the snapshot holds, the snapshot is extended with the
        new parts instead of being rebuilt: a running scan does not make every read rescan the
        dataset. A full compaction of parts the snapshot holds keeps it as it is, too.
        """
        rows = tuple(p.name for p in self._parts(dataset_id, "rows"))
        errors = tuple(p.name for p in self._parts(dataset_id, "errors"))
        with self._cache_lock:
            cached = self._cache.get(dataset_id)
        if cached is not None and (cached.rows, cached.errors) == (rows, errors):
            latest = cached
        elif cached is None:
            latest = self._rebuilt(dataset_id)
        else:
            try:
                known_rows = self._absorbed(dataset_id, "rows", cached.rows, rows)
                known_errors = self._absorbed(dataset_id, "errors", cached.errors, errors)
                if known_rows is None or known_errors is None:
                    latest = self._rebuilt(dataset_id)
                elif (known_rows, known_errors) == (rows, errors):  # merges only: same events
                    latest = cached.relabelled(rows, errors)
                else:
                    latest = self._extended(
                        dataset_id,
                        _Latest(known_rows, known_errors, cached.table),
                        rows,
                        errors,
                    )
            except (duckdb.IOException, OSError):  # a compaction removed new parts meanwhile
                latest = self._rebuilt(dataset_id)
        with self._cache_lock:
            self._cache[dataset_id] = latest
            self._cache.move_to_end(dataset_id)
            while len(self._cache) > _CACHED_DATASETS:
                self._cache.popitem(last=False)
        return latest

    def _rebuilt(self, dataset_id: str) -> _Latest:
        schema = row_schema(self._meta(dataset_id)["modality"])

        def query(cur: duckdb.DuckDBPyConnection, rows: list[Path], errors: list[Path]) -> Any:
            table = (
                _utc(cur.execute(_latest_rows_sql(rows, errors)).to_arrow_table())
                if rows
                else schema.empty_table()
            )
            return _Latest(tuple(p.name for p in rows), tuple(p.name for p in errors), table)

        return self._read(dataset_id, query)

    def _absorbed(
        self, dataset_id: str, kind: str, cached: tuple[str, ...], current: tuple[str, ...]
    ) -> tuple[str, ...] | None:
        """The current parts whose events the snapshot of `cached` parts already holds.

        That is the cached parts still present plus the merged parts made only of cached parts.
        None when a cached part is gone without such a merge (a full rebuild is needed).
        """
        known = set(cached)
        covered: set[str] = set()
        for name in current:
            if name in known:
                continue
            metadata = pq.read_schema(self._folder(dataset_id) / kind / name).metadata or {}
            replaced = set(json.loads(metadata.get(_REPLACES.encode(), b"[]")))
            if replaced and replaced <= known:
                covered |= replaced
                known.add(name)
        if not set(cached) - set(current) <= covered:
            return None
        return tuple(n for n in current if n in known)

    def _extended(
        self, dataset_id: str, cached: _Latest, rows: tuple[str, ...], errors: tuple[str, ...]
    ) -> _Latest:
        """`cached` with the events of the parts added since: they are newer than its own."""
        folder = self._folder(dataset_id)
        new_rows = [folder / "rows" / n for n in rows if n not in set(cached.rows)]
        new_errors = [folder / "errors" / n for n in errors if n not in set(cached.errors)]
        table = cached.table
        with self._cursor() as cur:
            fresh = (
                _utc(cur.execute(_latest_rows_sql(new_rows, new_errors)).to_arrow_table())
                if new_rows
                else None
            )
            failed = (
                cur.execute(f"SELECT DISTINCT file FROM read_parquet({_files(new_errors)})")
                .to_arrow_table()
                .column("file")
                if new_errors
                else None
            )
        changed = [
            c for c in (None if fresh is None else fresh.column("file"), failed) if c is not None
        ]
        if changed and table.num_rows:
            superseded = pc.is_in(
                table.column("file"),
                value_set=pa.concat_arrays(
                    [chunk for column in changed for chunk in column.chunks]
                ),
            )
            if pc.any(superseded).as_py():
                table = table.filter(pc.invert(superseded))
        if fresh is not None and fresh.num_rows:
            table = pa.concat_tables([table, fresh], promote_options="default")
        return _Latest(rows, errors, table)

    def _folder(self, dataset_id: str) -> Path:
        return self.root / dataset_id

    def _meta(self, dataset_id: str) -> dict[str, Any]:
        path = self._folder(check_dataset_id(dataset_id)) / "dataset.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFoundError(f"unknown dataset {dataset_id}") from None

    def _parts(self, dataset_id: str, kind: str) -> list[Path]:
        folder = self._folder(dataset_id) / kind
        try:
            return sorted(folder.glob("*.parquet"))
        except FileNotFoundError:
            return []

    def _counts(self, dataset_id: str) -> tuple[int, int]:
        """Files whose latest event is a row (from the snapshot), and those where it is an error."""

        def failed(cur: duckdb.DuckDBPyConnection, rows: list[Path], errors: list[Path]) -> Any:
            if not errors:
                return 0
            return cur.execute(
                f"SELECT count(*) FROM ({_latest_errors_sql(rows, errors)})"
            ).fetchone()[0]

        return self._latest(dataset_id).table.num_rows, int(self._read(dataset_id, failed))

    def _read(
        self,
        dataset_id: str,
        query: Callable[[duckdb.DuckDBPyConnection, list[Path], list[Path]], Any],
    ) -> Any:
        """Run `query` over the dataset's current parts.

        A compaction may delete parts between listing and reading them; the query is then
        repeated with a fresh listing (the compacted part holds the same events).
        """
        for attempt in range(_READ_ATTEMPTS):
            rows, errors = self._parts(dataset_id, "rows"), self._parts(dataset_id, "errors")
            try:
                with self._cursor() as cur:
                    return query(cur, rows, errors)
            except duckdb.IOException:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _write_part(
        self, dataset_id: str, kind: str, table: pa.Table, replaces: Sequence[Path] = ()
    ) -> Path:
        """Write `table` as a new part, atomically; `replaces` names the parts it supersedes."""
        folder = self._folder(dataset_id) / kind
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.parquet"
        temporary = folder / f".{name}.tmp"
        if replaces:
            table = table.replace_schema_metadata(
                {_REPLACES: json.dumps([p.name for p in replaces])}
            )
        pq.write_table(table, temporary, compression="zstd")
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, folder / name)
        return folder / name

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of this thread's in-memory DuckDB connection (connections are per thread)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = duckdb.connect()
            self._local.connection = connection
        cursor = connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def _utc(table: pa.Table) -> pa.Table:
    """DuckDB names the UTC zone 'Etc/UTC'; use the schema's 'UTC' so snapshots concatenate."""
    index = table.schema.get_field_index("scanned_at")
    utc = pa.timestamp("us", tz="UTC")
    return table.set_column(index, "scanned_at", pc.cast(table.column(index), utc))


class _Latest:
    """A snapshot of a dataset's latest rows and the row orders asked of it so far.

    Sorting a million rows takes a while; once sorted, every page of that order is a slice.
    """

    def __init__(self, rows: tuple[str, ...], errors: tuple[str, ...], table: pa.Table) -> None:
        self.rows = rows
        self.errors = errors
        self.table = table
        self._orders: dict[tuple[str, ...], pa.Array] = {}
        self._lock = threading.Lock()

    def relabelled(self, rows: tuple[str, ...], errors: tuple[str, ...]) -> _Latest:
        """The same events under the names of the parts that now hold them (after a merge)."""
        copy = _Latest(rows, errors, self.table)
        with self._lock:
            copy._orders = dict(self._orders)
        return copy

    def take(self, indices: pa.Array) -> pa.Table:
        """The rows at `indices`, in that order.

        Gathered chunk by chunk: `Table.take` concatenates every chunked column first, a copy
        of the whole dataset for a page of 50 rows (the snapshot gains a chunk per extension).
        """
        if self.table.column("file").num_chunks <= 1:
            return self.table.take(indices)
        batches = [batch for batch in self.table.to_batches() if batch.num_rows]
        starts = np.cumsum([0, *(batch.num_rows for batch in batches)])
        wanted = indices.to_numpy(zero_copy_only=False).astype(np.int64)
        chunk = np.searchsorted(starts, wanted, side="right") - 1
        by_chunk = np.argsort(chunk, kind="stable")
        pieces = [
            batches[c].take(pa.array(wanted[by_chunk][chunk[by_chunk] == c] - starts[c]))
            for c in np.unique(chunk)
        ]
        gathered = pa.Table.from_batches(pieces, schema=self.table.schema)
        return gathered.take(pa.array(np.argsort(by_chunk)))

    def order(self, order_by: tuple[str, ...]) -> pa.Array:
        """Row indices sorted by `order_by` ('-col' descending, nulls last), then by file."""
        with self._lock:
            indices = self._orders.get(order_by)
            if indices is None:
                keys = [
                    (term[1:], "descending", "at_end")
                    if term.startswith("-")
                    else (term, "ascending", "at_end")
                    for term in order_by
                ]
                indices = pc.sort_indices(
                    self.table, sort_keys=[*keys, ("file", "ascending", "at_end")]
                )
                self._orders[order_by] = indices
            return indices


def _table(
    records: Sequence[dict[str, Any]], schema: pa.Schema, dataset_id: str, stamp: datetime
) -> pa.Table:
    """Records as a table of `schema`; dataset_id and scanned_at are filled in.

    The measures go through one struct-array conversion, done by Arrow in C++ (about twice as
    fast as gathering columns in Python); `models`, `options` and `measure_errors` become JSON
    text.
    """
    unknown = set().union(*map(dict.keys, records)) - set(schema.names)
    if unknown:
        raise ConfigError(f"unknown columns for the store: {', '.join(sorted(unknown))}")
    filled = {"dataset_id", "scanned_at", *_JSON_COLUMNS}
    converted = pa.Table.from_struct_array(
        pa.array(records, type=pa.struct([f for f in schema if f.name not in filled]))
    )
    count = len(records)
    columns = []
    for field in schema:
        if field.name == "dataset_id":
            columns.append(pa.array([dataset_id] * count, type=field.type))
        elif field.name == "scanned_at":
            columns.append(pa.array([stamp] * count, type=field.type))
        elif field.name in _JSON_COLUMNS:
            values = [_json_text(record.get(field.name)) for record in records]
            columns.append(pa.array(values, type=field.type))
        else:
            columns.append(converted.column(field.name))
    return pa.Table.from_arrays(columns, schema=schema)


def _json_text(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else _json(value)


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _files(parts: Sequence[Path]) -> str:
    """Parts as a SQL list literal. Part paths are generated by the store (no quotes in them)."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts) + "]"


def _latest_sql(parts: Sequence[Path], rivals: Sequence[Path], *, wins_ties: bool) -> str:
    """The latest event per file in `parts`, unless `rivals` holds a later one for that file.

    Rows and errors are each other's rivals; on equal times the error wins.
    """
    latest = (
        f"SELECT * FROM read_parquet({_files(parts)}, union_by_name=true) "
        "QUALIFY row_number() OVER (PARTITION BY file ORDER BY scanned_at DESC) = 1"
    )
    if not rivals:
        return latest
    rival = (
        "SELECT file, max(scanned_at) AS rival_at "
        f"FROM read_parquet({_files(rivals)}, union_by_name=true) GROUP BY file"
    )
    beats = "<=" if wins_ties else "<"
    return (
        f"SELECT k.* FROM ({latest}) k LEFT JOIN ({rival}) r USING (file) "
        f"WHERE r.rival_at IS NULL OR r.rival_at {beats} k.scanned_at"
    )


def _latest_rows_sql(rows: Sequence[Path], errors: Sequence[Path]) -> str:
    return _latest_sql(rows, errors, wins_ties=False)


def _latest_errors_sql(rows: Sequence[Path], errors: Sequence[Path]) -> str:
    return _latest_sql(errors, rows, wins_ties=True)


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _order_term(term: str, columns: Sequence[str]) -> str:
    descending = term.startswith("-")
    column = term[1:] if descending else term
    if column not in columns:
        raise ConfigError(f"cannot order by {column!r}: not a stored column")
    return f"{_quote(column)} {'DESC' if descending else 'ASC'} NULLS LAST"


def _where(filters: Sequence[Filter], columns: Sequence[str]) -> tuple[str, list[object]]:
    clauses, params = [], []
    for f in filters:
        if f.column not in columns:
            raise ConfigError(f"cannot filter on {f.column!r}: not a stored column")
        if f.op not in OPERATORS:
            raise ConfigError(
                f"unknown filter operator {f.op!r}; use one of {', '.join(OPERATORS)}"
            )
        clauses.append(f"{_quote(f.column)} {f.op} ?")
        params.append(f.value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


@contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """A non-blocking exclusive lock on `path`: yields False when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
