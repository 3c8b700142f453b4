"""The result store: one DuckLake table per dataset, read and written by any process.

Each dataset is a table of the lake (bqat/store/lake.py) holding its rows and its per-file
errors (an error is a row whose `reason` is set). Each batch is one transaction: it deletes
the rows of the files it holds and inserts their new events, so a file has one row. Should two
writers insert the same file at once, readers still see one: the latest event per file wins,
an error on a tie. Every commit is a snapshot named after its dataset (the commit message),
with what it did in its extra info; any past snapshot can be read back (`as_of`).

The modality, creation time and source folders of a dataset live in its table's comment.
Readers keep the latest rows of a few datasets in memory, keyed by the snapshot they were read
at; while no later commit names their dataset they are kept as they are, and after one they are
extended with the rows it inserted.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bqat.exceptions import ConfigError, NotFoundError
from bqat.measures import check_modality
from bqat.settings import get_settings
from bqat.store import lake
from bqat.store.schema import ERROR_SCHEMA, row_schema

_DATASET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # fullmatch: `$` took "x\n"
_SNAPSHOT_ID = re.compile(r"[0-9]{1,18}")  # str.isdigit takes "²", which int() refuses
Operator = Literal["=", "!=", "<", "<=", ">", ">="]
_COMPARE = {
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_CACHED_DATASETS = 2
_JSON_COLUMNS = ("models", "options", "measure_errors")
_FILLED = ("dataset_id", "scanned_at")  # by the insert
_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN"}
_QUIET = ("source", "evolve")  # commits that change no row: not listed in the history


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: str
    modality: str
    created: datetime
    rows: int
    errors: int


@dataclass(frozen=True)
class Filter:
    """`column op value`; the column must be a stored column, the value is never spliced into
    a query."""

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
    """`dataset_id` if it is a safe name (letters, digits, . _ -; at most 128)."""
    if not isinstance(dataset_id, str) or not _DATASET_ID.fullmatch(dataset_id):
        raise ConfigError(
            f"invalid dataset id {dataset_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return dataset_id


def check_reference(reference: str) -> tuple[str, str | None]:
    """`{id}` or `{id}@{snapshot id or ISO 8601 time}` (a dataset as it was then), split into
    the id and the snapshot or time; anything else is refused before any lookup."""
    dataset_id, at, as_of = (
        reference.partition("@") if isinstance(reference, str) else (reference, "", "")
    )
    check_dataset_id(dataset_id)
    if not at:
        return dataset_id, None
    if not _SNAPSHOT_ID.fullmatch(as_of):
        _moment(as_of)
    return dataset_id, as_of


def check_layout(root: Path) -> None:
    """Refuse a store folder in the layout of bqat before DuckLake (it is never migrated)."""
    if root.is_dir() and any(root.glob("*/dataset.json")):
        raise ConfigError(
            f"{root} holds a store in the old layout (Parquet parts per dataset), which this "
            "version neither reads nor migrates; nothing in it was changed. Move that folder "
            "away (or set BQAT_HOME elsewhere) and scan the datasets again."
        )


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Datasets of assessed rows and per-file errors in one DuckLake.

    `root` holds the default SQLite catalog and the data files; `catalog` (a SQLite path or
    `postgres:<connection string>`) and `data` (a folder or `s3://` prefix) override them, and
    default to BQAT_STORE_CATALOG and BQAT_STORE_DATA when no root is given.
    """

    def __init__(
        self, root: Path | None = None, *, catalog: str | None = None, data: str | None = None
    ) -> None:
        settings = get_settings() if root is None or catalog is None or data is None else None
        if root is None:
            root = settings.home / "store"
            catalog = catalog or settings.store_catalog
            data = data or settings.store_data
        self.root = root
        check_layout(root)
        self.catalog = catalog or str(root.resolve() / "catalog.sqlite")
        self.data = data or str(root.resolve() / "data")
        if not self.data.startswith("s3://"):
            Path(self.data).mkdir(parents=True, exist_ok=True)
        if not lake.catalog_uri(self.catalog)[0].startswith("ducklake:postgres:"):
            Path(self.catalog).parent.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[tuple[str, int | None], _Entry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._evolved: set[tuple[str, tuple[str, ...]]] = set()  # tables known to have every column

    # Datasets -------------------------------------------------------------------------------

    def create_dataset(
        self, dataset_id: str, modality: str, extra: Sequence[str] = ()
    ) -> DatasetInfo:
        """Create the dataset, or return it when it exists with the same modality.

        `extra`: text columns beyond the declared ones (another tool's results kept by an
        import), after them in every row.
        """
        con, lk = self._con()
        check_dataset_id(dataset_id)
        schema = _schema({"modality": check_modality(modality), "extra": list(extra)})

        def create(cur: duckdb.DuckDBPyConnection) -> None:
            existing = _comment(cur, lk, dataset_id)
            if existing is not None:
                if existing["modality"] != modality:
                    raise ConfigError(
                        f"dataset {dataset_id} holds {existing['modality']} samples, not {modality}"
                    )
                return
            columns = ", ".join(f"{_quote(f.name)} {_sql_type(f.type)}" for f in schema)
            cur.execute(f"CREATE TABLE {_table(lk, dataset_id)} ({columns}, reason VARCHAR)")
            meta = {"dataset_id": dataset_id, "modality": modality, "created": _now().isoformat()}
            if extra:
                meta["extra"] = list(extra)
            _set_comment(cur, lk, dataset_id, meta)
            _message(cur, lk, dataset_id, "create")

        lake.transaction(con, create)
        return self.dataset(dataset_id)

    def add_source(self, dataset_id: str, folder: Path) -> None:
        """Remember a folder the dataset's files were read from (reports show their thumbnails)."""
        con, lk = self._con()

        def add(cur: duckdb.DuckDBPyConnection) -> None:
            meta = _comment(cur, lk, dataset_id)
            if meta is None:
                raise NotFoundError(f"unknown dataset {dataset_id}")
            if str(folder) not in meta.get("sources", []):
                meta["sources"] = [*meta.get("sources", []), str(folder)]
                _set_comment(cur, lk, dataset_id, meta)
                _message(cur, lk, dataset_id, "source")

        lake.transaction(con, add)

    def sources(self, dataset_id: str) -> list[Path]:
        """The folders scanned into the dataset, oldest first."""
        return [Path(folder) for folder in self._entry(dataset_id).meta.get("sources", [])]

    def dataset(self, dataset_id: str, *, as_of: int | str | None = None) -> DatasetInfo:
        entry = self._entry(dataset_id, as_of)
        rows, errors = entry.counts(self)
        return DatasetInfo(
            dataset_id=dataset_id,
            modality=entry.meta["modality"],
            created=datetime.fromisoformat(entry.meta["created"]),
            rows=rows,
            errors=errors,
        )

    def datasets(self) -> list[DatasetInfo]:
        with self._cursor() as (cur, lk):
            comments = cur.execute(
                "SELECT comment FROM duckdb_tables() WHERE database_name = ?", [lk]
            ).fetchall()
        found = []
        for (comment,) in comments:
            try:
                found.append(self.dataset(json.loads(comment)["dataset_id"]))
            except NotFoundError:  # deleted meanwhile
                continue
        return sorted(found, key=lambda d: (d.created, d.dataset_id))

    def delete_dataset(self, dataset_id: str) -> None:
        """Remove the dataset and every trace of its values: rows, errors, the snapshots that
        held them, their data files and the catalog rows (inlined data, statistics) about them.

        Snapshots are shared by all datasets: the ones from the dataset's creation to its
        deletion are expired, so other datasets can no longer be read as of those.
        """
        info = self.dataset(dataset_id)
        con, lk = self._con()

        def drop(cur: duckdb.DuckDBPyConnection) -> None:
            cur.execute(f"DROP TABLE {_table(lk, dataset_id)}")
            _message(cur, lk, dataset_id, "delete", removed=info.rows + info.errors)

        lake.transaction(con, drop)
        self._forget(dataset_id)
        self._purge()

    def _purge(self) -> None:
        """Expire the snapshots that still hold a dropped table (a deleted dataset; again after
        a crash, by `maintain`), remove its files and scrub the catalog."""
        with self._cursor() as (cur, lk):
            held = cur.execute(
                f"SELECT DISTINCT s.snapshot_id FROM {_meta(lk)}.ducklake_snapshot s "
                f"JOIN {_meta(lk)}.ducklake_table t ON s.snapshot_id >= t.begin_snapshot "
                "AND s.snapshot_id < t.end_snapshot ORDER BY 1"
            ).fetchall()
        if held:
            versions = [snapshot for (snapshot,) in held]
            lake.retry(lambda: self._call("ducklake_expire_snapshots", versions=versions))
            lake.retry(lambda: self._call("ducklake_cleanup_old_files", cleanup_all=True))
            lake.scrub(self.catalog)

    # Writing --------------------------------------------------------------------------------

    def append(
        self,
        dataset_id: str,
        rows: Sequence[dict[str, Any]] | pa.Table = (),
        errors: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Store one batch in one transaction: its files' rows and errors replace their old ones.

        Rows hold the bookkeeping columns (file, sha256, engine_version, models, options,
        measure_errors; dataset_id and scanned_at are filled in) and the measures; unknown keys
        are refused. They may come as one Arrow table of those columns, which skips the per-row
        conversion. Errors hold file, sha256 (may be None) and reason.
        """
        schema = _schema(self._entry(dataset_id).meta)
        parts = [_arrow(given, kind) for given, kind in ((rows, schema), (errors, ERROR_SCHEMA))]
        if not any(part.num_rows for part in parts):
            return
        batch = pa.concat_tables([p for p in parts if p.num_rows], promote_options="default")
        self._evolve(dataset_id, schema)
        con, lk = lake.attach(self.catalog, self.data, writer=True)
        target = _table(lk, dataset_id)
        bounds = [v.as_py() for v in pc.min_max(batch.column("file")).values()]

        def write(cur: duckdb.DuckDBPyConnection) -> None:
            cur.register("batch", batch)
            # The constant bounds let DuckLake skip the data files whose names lie outside.
            changed = cur.execute(
                f"DELETE FROM {target} WHERE file BETWEEN ? AND ? "
                "AND file IN (SELECT file FROM batch)",
                bounds,
            ).fetchone()[0]
            cur.execute(  # stamped per attempt: a retried batch is the later event
                f"INSERT INTO {target} BY NAME SELECT *, ? AS dataset_id, "
                "?::TIMESTAMPTZ AS scanned_at FROM batch",
                [dataset_id, _now()],
            )
            cur.unregister("batch")
            _message(cur, lk, dataset_id, "append", added=batch.num_rows - changed, changed=changed)

        lake.transaction(con, write)

    def compact(self, dataset_id: str) -> bool:
        """Merge the dataset's small data files (readers see the same rows before and after).

        Returns False when a concurrent commit made the merge give up (nothing is lost).
        """
        self._entry(dataset_id)
        try:
            self._merge(_table_name(dataset_id))
        except duckdb.Error:
            return False
        return True

    def maintain(self, keep_days: float, grace_s: float = 3600) -> None:
        """Merge small files, rewrite files with many deleted rows, expire the snapshots older
        than `keep_days`, and remove the data files that no snapshot has needed for `grace_s`
        (a reader may still be reading them) and those no commit ever recorded (a writer
        killed mid-batch) once a day old."""
        grace = _now() - timedelta(seconds=grace_s)
        self._merge()
        for function, options in (
            ("ducklake_expire_snapshots", {"older_than": _now() - timedelta(days=keep_days)}),
            ("ducklake_cleanup_old_files", {"older_than": grace}),
            ("ducklake_delete_orphaned_files", {"older_than": min(grace, _now() - timedelta(1))}),
        ):
            lake.retry(lambda function=function, options=options: self._call(function, **options))
        self._purge()  # a deletion that a crash interrupted

    def _merge(self, table: str | None = None) -> None:
        """Write inlined rows out, rewrite files with deleted rows and merge small files, of
        one table or of every table."""
        named = {} if table is None else {"table_name": table}
        args = () if table is None else (table,)
        lake.retry(lambda: self._call("ducklake_flush_inlined_data", **named))
        lake.retry(lambda: self._call("ducklake_rewrite_data_files", *args, delete_threshold=0.0))
        lake.retry(lambda: self._call("ducklake_merge_adjacent_files", *args))

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
        as_of: int | str | None = None,
    ) -> Page:
        """One page of the dataset's rows (latest per file), ordered and filtered.

        `order_by` names stored columns, `-column` for descending; rows are then ordered by file
        so pages are stable. Columns are checked against the stored schema; filters compare
        values as values, never spliced into a query. `as_of`: a snapshot id or an ISO 8601
        time, to read a past state.
        """
        page, total = self.rows(
            dataset_id, offset=offset, limit=limit, order_by=order_by, filters=filters, as_of=as_of
        )
        return Page(items=json_items(page), total=total, offset=offset, limit=limit)

    def rows(
        self,
        dataset_id: str,
        *,
        offset: int = 0,
        limit: int | None = None,
        order_by: Sequence[str] = (),
        filters: Sequence[Filter] = (),
        as_of: int | str | None = None,
    ) -> tuple[pa.Table, int]:
        """`profiles` as an Arrow table (for exports), with the total number of matching rows."""
        if offset < 0 or (limit is not None and limit < 0):
            raise ConfigError("offset and limit must not be negative")
        latest = self._latest(dataset_id, as_of)
        columns = latest.table.column_names
        for column in (term.removeprefix("-") for term in order_by):
            if column not in columns:
                raise ConfigError(f"cannot order by {column!r}: not a stored column")
        if filters:  # filtered in Arrow, sorted once (not kept)
            latest = _Latest(_filtered(latest.table, filters))
        total = latest.table.num_rows
        end = total if limit is None else min(total, offset + limit)
        return latest.take(latest.order(tuple(order_by))[offset:end]), total

    def table(
        self, dataset_id: str, columns: Sequence[str], *, as_of: int | str | None = None
    ) -> pa.Table:
        """The dataset's latest rows, these stored columns only, as one Arrow table."""
        latest = self._latest(dataset_id, as_of).table
        unknown = [c for c in columns if c not in latest.column_names]
        if unknown:
            raise ConfigError(f"not stored columns: {', '.join(unknown)}")
        return latest.select(list(columns))

    def summary(self, dataset_id: str) -> list[dict[str, Any]]:
        """count, min, mean, median and max of every numeric measure column of the dataset."""
        latest = self._latest(dataset_id).table
        found = []
        for field in latest.schema:
            column = latest.column(field.name)
            count = len(column) - column.null_count
            if count and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
                least, most = pc.min_max(column).values()
                median = pc.quantile(column, q=0.5)[0]  # interpolated, as SQL's median
                found.append(
                    {
                        "column": field.name,
                        "count": count,
                        "min": least.as_py(),
                        "mean": pc.mean(column).as_py(),
                        "median": median.as_py(),
                        "max": most.as_py(),
                    }
                )
        return found

    def errors(self, dataset_id: str, *, as_of: int | str | None = None) -> list[dict[str, Any]]:
        """The files whose latest event is an error, with the reason, ordered by file."""
        return self._entry(dataset_id, as_of).errors(self)

    def history(self, dataset_id: str) -> list[dict[str, Any]]:
        """The dataset's snapshots, oldest first: `{snapshot, time, flow_run, added, changed,
        removed}`. The commits of one flow run (a scan's batches) are one entry, at its last
        snapshot; snapshots older than BQAT_STORE_KEEP_DAYS are gone."""
        check_dataset_id(dataset_id)
        with self._cursor() as (cur, lk):
            found = cur.execute(
                f"SELECT snapshot_id, snapshot_time, commit_extra_info FROM {lk}.snapshots() "
                "WHERE commit_message = ? ORDER BY snapshot_id",
                [dataset_id],
            ).fetchall()
        if not found:
            self._entry(dataset_id)  # NotFoundError for an unknown dataset
        entries: list[dict[str, Any]] = []
        for snapshot, time, extra in found:
            info = json.loads(extra or "{}")
            if info.get("action") in _QUIET:
                continue
            last = entries[-1] if entries else None
            entry = {
                "snapshot": snapshot,
                "time": time.astimezone(UTC).isoformat(),
                "flow_run": info.get("flow_run"),
                **{key: info.get(key, 0) for key in ("added", "changed", "removed")},
            }
            if last and entry["flow_run"] and last["flow_run"] == entry["flow_run"]:
                for key in ("added", "changed", "removed"):
                    entry[key] += last[key]
                entries[-1] = entry
            else:
                entries.append(entry)
        return entries

    def files(self, dataset_id: str) -> list[str]:
        """The data files that hold the dataset's rows now (small batches may sit inlined in
        the catalog until a compaction writes them out)."""
        self._entry(dataset_id)
        with self._cursor() as (cur, lk):
            found = cur.execute(
                "SELECT data_file FROM ducklake_list_files(?, ?)", [lk, _table_name(dataset_id)]
            ).fetchall()
        return [path for (path,) in found]

    def snapshot(self, as_of: int | str | datetime) -> tuple[int, datetime]:
        """The id and time of the snapshot `as_of` names: its id, or the last one at an ISO 8601
        time."""
        by_id = isinstance(as_of, int) or _SNAPSHOT_ID.fullmatch(str(as_of))
        where = "snapshot_id = ?" if by_id else "snapshot_time <= ?"
        with self._cursor() as (cur, lk):
            found = cur.execute(
                f"SELECT snapshot_id, snapshot_time FROM {lk}.snapshots() "
                f"WHERE {where} ORDER BY snapshot_id DESC LIMIT 1",
                [int(as_of) if by_id else _moment(as_of)],
            ).fetchone()
        if found is None:
            raise NotFoundError(
                f"no snapshot {as_of} (expired, or never made)"
                if by_id
                else f"no snapshot at or before {_moment(as_of).isoformat()}"
            )
        return int(found[0]), found[1].astimezone(UTC)

    def pin(self, reference: str) -> str:
        """`reference` with a time resolved to the snapshot id it names (`id@N`), once the
        dataset is known to exist there: a comparison against it is stored under that name."""
        dataset_id, as_of = check_reference(reference)
        pinned = dataset_id if as_of is None else f"{dataset_id}@{self.snapshot(as_of)[0]}"
        self._entry(pinned)
        return pinned

    # Internals ------------------------------------------------------------------------------

    def _entry(self, dataset_id: str, as_of: int | str | None = None) -> _Entry:
        """The dataset as of a snapshot (the latest by default): cached while no later commit
        names it, so that paging a large dataset reads the lake once. `id@snapshot` and
        `id@time` name a past state too (drift's `reference=`)."""
        dataset_id, at = check_reference(dataset_id)
        as_of = at if as_of is None else as_of
        key = (dataset_id, None if as_of is None else self.snapshot(as_of)[0])
        with self._cache_lock:
            cached = self._cache.get(key)
        if key[1] is None:
            known = cached.snapshot if cached else -1
            with self._cursor() as (cur, lk):
                current, kept, changes = cur.execute(  # the filters reach the catalog
                    "SELECT max(snapshot_id), count(*) FILTER (WHERE snapshot_id = ?), "
                    f"(SELECT count(*) FROM {_meta(lk)}.ducklake_snapshot_changes "
                    "WHERE snapshot_id > ? AND commit_message = ?) "
                    f"FROM {_meta(lk)}.ducklake_snapshot WHERE snapshot_id >= ?",
                    [known, known, dataset_id, known],
                ).fetchone()
            if cached is not None and (cached.snapshot == current or (kept and not changes)):
                cached.snapshot = current
                return cached
            snapshot = current
        elif cached is not None:
            return cached
        else:
            snapshot = key[1]
        with self._cursor() as (cur, lk):
            meta = _comment(cur, lk, dataset_id, snapshot)
        if meta is None:
            raise NotFoundError(
                f"unknown dataset {dataset_id}"
                + ("" if key[1] is None else f" at snapshot {snapshot}")
            )
        # Extend what was read: the same dataset (not one deleted and made again) at a snapshot
        # that still exists.
        same = cached is not None and kept and cached.meta["created"] == meta["created"]
        entry = _Entry(dataset_id, snapshot, meta, cached if key[1] is None and same else None)
        with self._cache_lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHED_DATASETS:
                self._cache.popitem(last=False)
        return entry

    def _latest(self, dataset_id: str, as_of: int | str | None = None) -> _Latest:
        return self._entry(dataset_id, as_of).latest(self)

    def _forget(self, dataset_id: str) -> None:
        self._evolved = {known for known in self._evolved if known[0] != dataset_id}
        with self._cache_lock:
            for key in [k for k in self._cache if k[0] == dataset_id]:
                del self._cache[key]

    def _evolve(self, dataset_id: str, schema: pa.Schema) -> None:
        """Add the declared columns that the dataset's table lacks (a measure added since)."""
        if (dataset_id, tuple(schema.names)) in self._evolved:
            return
        con, lk = self._con()
        table = _table(lk, dataset_id)

        def add(cur: duckdb.DuckDBPyConnection) -> None:
            have = {
                column[0] for column in cur.execute(f"SELECT * FROM {table} LIMIT 0").description
            }
            missing = [f for f in schema if f.name not in have]
            for field in missing:
                cur.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "
                    f"{_quote(field.name)} {_sql_type(field.type)}"
                )
            if missing:
                _message(cur, lk, dataset_id, "evolve")

        lake.transaction(con, add)  # a transaction that changes nothing makes no snapshot
        self._evolved.add((dataset_id, tuple(schema.names)))

    def _call(self, function: str, *args: object, **options: object) -> None:
        """CALL a DuckLake maintenance function on the lake, with bound arguments."""
        named = [f"{name} => ?" for name in options]
        placeholders = ", ".join(["?"] * (1 + len(args)) + named)
        with self._cursor() as (cur, lk):
            values = [lk, *args, *options.values()]
            cur.execute(f"CALL {function}({placeholders})", values).fetchall()

    def _con(self) -> tuple[duckdb.DuckDBPyConnection, str]:
        """This process's DuckDB and the name the lake is attached as."""
        return lake.attach(self.catalog, self.data)

    @contextmanager
    def _cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """A cursor of this process's DuckDB (one per thread at a time), and the lake's name."""
        con, lk = self._con()
        cursor = con.cursor()
        try:
            yield cursor, lk
        finally:
            cursor.close()


class _Entry:
    """A dataset at one snapshot: its metadata, then its events once someone asks for them.

    With a `base` (the same dataset at an earlier snapshot, already read), only the events
    committed since are read: a running scan does not make every reader read it all again.
    """

    def __init__(
        self, dataset_id: str, snapshot: int, meta: dict[str, Any], base: _Entry | None = None
    ) -> None:
        self.dataset_id = dataset_id
        self.snapshot = snapshot
        self.meta = meta
        self._base = base
        self._latest: _Latest | None = None
        self._failed = pa.table({"file": [], "scanned_at": [], "reason": []})
        self._counts: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def latest(self, store: Store) -> _Latest:
        """The latest rows, read with the errors (these are kept too)."""
        with self._lock:
            if self._latest is None:
                base, self._base = self._base, None
                schema = _schema(self.meta)
                with store._cursor() as (cur, lk):
                    if base is None or not self._extend(cur, lk, base, schema):
                        self._load(cur, lk, schema)
            return self._latest

    def _load(self, cur: duckdb.DuckDBPyConnection, lk: str, schema: pa.Schema) -> None:
        table = cur.execute(
            f"SELECT * FROM {_table(lk, self.dataset_id)} AT (VERSION => {self.snapshot})"
        ).to_arrow_table()
        if pc.count_distinct(table.column("file")).as_py() < table.num_rows:
            # Racing writers left two events of a file: keep the latest.
            table = cur.execute(_events(lk, self.dataset_id, self.snapshot)).to_arrow_table()
        self._keep(schema, _utc(table))

    def _extend(
        self, cur: duckdb.DuckDBPyConnection, lk: str, base: _Entry, schema: pa.Schema
    ) -> bool:
        """`base` with the events inserted since; False when only a full read is right."""
        if base._latest is None or base._latest.table.schema != schema:
            return False
        fresh = _utc(
            cur.execute(
                "SELECT * FROM ducklake_table_insertions(?, 'main', ?, ?, ?)",
                [lk, _table_name(self.dataset_id), base.snapshot + 1, self.snapshot],
            ).to_arrow_table()
        )
        files = fresh.column("file").combine_chunks()
        if pc.count_distinct(files).as_py() < fresh.num_rows:
            return False
        rows, failed = base._latest.table, base._failed
        known = pa.concat_tables([rows.select(["file", "scanned_at"]), failed.select([0, 1])])
        where = pc.index_in(files, value_set=known.column("file").combine_chunks())
        before = known.column("scanned_at").take(where)
        if pc.any(pc.less(fresh.column("scanned_at"), before)).as_py():
            return False  # a racing writer's older event: the newer one stays
        kept = [t.filter(pc.invert(pc.is_in(t.column("file"), files))) for t in (rows, failed)]
        self._keep(schema, fresh, kept)
        return True

    def _keep(self, schema: pa.Schema, events: pa.Table, kept: Sequence[pa.Table] = ()) -> None:
        """Split `events` into rows and errors, after the `kept` rows and errors."""
        failed = pc.is_valid(events.column("reason"))
        rows = events.filter(pc.invert(failed))
        columns = [  # a column added after the snapshot reads as null
            rows.column(f.name) if f.name in rows.column_names else pa.nulls(rows.num_rows, f.type)
            for f in schema
        ]
        rows = pa.Table.from_arrays(columns, schema=schema)
        errors = events.filter(failed).select(["file", "scanned_at", "reason"])
        if kept:
            rows = pa.concat_tables([kept[0], rows])
            errors = pa.concat_tables([kept[1], errors])
        self._latest = _Latest(rows)
        self._failed = errors.sort_by("file")
        self._counts = (rows.num_rows, errors.num_rows)

    def errors(self, store: Store) -> list[dict[str, Any]]:
        self.latest(store)
        return self._failed.select(["file", "reason"]).to_pylist()

    def counts(self, store: Store) -> tuple[int, int]:
        """Rows and errors, counted without reading the rows when they are not cached."""
        with self._lock:
            if self._counts is None:
                with store._cursor() as (cur, lk):
                    found = cur.execute(
                        "SELECT count(*) FILTER (reason IS NULL), count(*) FILTER (reason IS NOT "
                        f"NULL) FROM ({_events(lk, self.dataset_id, self.snapshot, 'reason')})"
                    ).fetchone()
                self._counts = (int(found[0]), int(found[1]))
            return self._counts


def _schema(meta: dict[str, Any]) -> pa.Schema:
    """A dataset's columns: its modality's declared ones, then its extra text columns."""
    schema = row_schema(meta["modality"])
    for name in meta.get("extra", ()):
        if name in schema.names or name == "reason":
            raise ConfigError(f"extra column {name!r} has the name of a stored column")
        schema = schema.append(pa.field(name, pa.string()))
    return schema


def _events(lk: str, dataset_id: str, snapshot: int, columns: str = "*") -> str:
    """The latest event per file at `snapshot` (an error wins a tie with a row)."""
    return (
        f"SELECT {columns} FROM {_table(lk, dataset_id)} AT (VERSION => {int(snapshot)}) "
        "QUALIFY row_number() OVER (PARTITION BY file ORDER BY scanned_at DESC, "
        "reason IS NULL) = 1"
    )


def _table_name(dataset_id: str) -> str:
    """The dataset's table: DuckDB names are case-insensitive, so capitals are marked with ^."""
    return "".join(f"^{c.lower()}" if c.isupper() else c for c in dataset_id)


def _table(lk: str, dataset_id: str) -> str:
    return f"{lk}.main.{_quote(_table_name(dataset_id))}"


def _meta(lk: str) -> str:
    """The catalog database of lake `lk`, attached by DuckLake itself."""
    return f"__ducklake_metadata_{lk}"


def _comment(
    cur: duckdb.DuckDBPyConnection, lk: str, dataset_id: str, snapshot: int | None = None
) -> dict[str, Any] | None:
    """The dataset's metadata (its table's comment) at `snapshot`, by default the latest."""
    meta = _meta(lk)
    if snapshot is None:
        snapshot = cur.execute(f"SELECT max(snapshot_id) FROM {meta}.ducklake_snapshot").fetchone()[
            0
        ]
    found = cur.execute(
        f"SELECT g.value FROM {meta}.ducklake_table t JOIN {meta}.ducklake_tag g "
        "ON g.object_id = t.table_id AND g.key = 'comment' AND g.begin_snapshot <= ? "
        "AND (g.end_snapshot IS NULL OR g.end_snapshot > ?) WHERE t.table_name = ? "
        "AND t.begin_snapshot <= ? AND (t.end_snapshot IS NULL OR t.end_snapshot > ?)",
        [snapshot, snapshot, _table_name(dataset_id), snapshot, snapshot],
    ).fetchone()
    return None if found is None or found[0] is None else json.loads(found[0])


def _set_comment(
    cur: duckdb.DuckDBPyConnection, lk: str, dataset_id: str, meta: dict[str, Any]
) -> None:
    cur.execute(f"COMMENT ON TABLE {_table(lk, dataset_id)} IS {_literal(json.dumps(meta))}")


def _message(
    cur: duckdb.DuckDBPyConnection, lk: str, dataset_id: str, action: str, **counts: int
) -> None:
    """Name the commit after the dataset; say what it did and which flow run did it."""
    info = json.dumps({"action": action, "flow_run": _flow_run(), **counts})
    cur.execute(
        "CALL ducklake_set_commit_message(?, 'bqat', ?, extra_info => ?)",
        [lk, dataset_id, info],
    )


def _flow_run() -> str | None:
    """The Prefect flow run this process works for, if any (Prefect is never imported here)."""
    context = sys.modules.get("prefect.context")
    if context is not None:
        task = context.TaskRunContext.get()
        if task is not None and task.task_run.flow_run_id is not None:
            return str(task.task_run.flow_run_id)
        flow = context.FlowRunContext.get()
        if flow is not None and flow.flow_run is not None:
            return str(flow.flow_run.id)
    return None


def _moment(text: object) -> datetime:
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{text!r} is neither a snapshot id nor an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(table: pa.Table) -> pa.Table:
    """DuckDB names the UTC zone 'Etc/UTC'; use the schema's 'UTC' so snapshots concatenate."""
    index = table.schema.get_field_index("scanned_at")
    utc = pa.timestamp("us", tz="UTC")
    return table.set_column(index, "scanned_at", pc.cast(table.column(index), utc))


class _Latest:
    """A snapshot of a dataset's latest rows and the row orders asked of it so far.

    Sorting a million rows takes a while; once sorted, every page of that order is a slice.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._orders: dict[tuple[str, ...], pa.Array] = {}
        self._lock = threading.Lock()

    def take(self, indices: pa.Array) -> pa.Table:
        """The rows at `indices`, in that order.

        Gathered chunk by chunk: `Table.take` concatenates every chunked column first, a copy
        of the whole dataset for a page of 50 rows.
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


def _arrow(records: Sequence[dict[str, Any]] | pa.Table, schema: pa.Schema) -> pa.Table:
    """Records (or a table) as Arrow columns of `schema` less dataset_id and scanned_at, which
    the insert fills in; unknown columns are refused.

    The measures go through one struct-array conversion, done by Arrow in C++ (about twice as
    fast as gathering columns in Python); `models`, `options` and `measure_errors` become JSON
    text.
    """
    if isinstance(records, pa.Table):
        given = set(records.column_names)
    else:  # the few distinct key lists, not every key of every record
        given = set().union(*{tuple(record) for record in records})
    unknown = given - set(schema.names)
    if unknown:
        raise ConfigError(f"unknown columns for the store: {', '.join(sorted(unknown))}")
    if isinstance(records, pa.Table):
        return records.drop_columns([name for name in _FILLED if name in given])
    text = [name for name in _JSON_COLUMNS if name in schema.names]
    plain = [f for f in schema if f.name not in (*_FILLED, *text)]
    table = pa.Table.from_struct_array(pa.array(records, type=pa.struct(plain)))
    for name in text:
        values = [_json_text(record.get(name)) for record in records]
        table = table.append_column(name, pa.array(values, pa.string()))
    return table


def json_items(table: pa.Table) -> list[dict[str, Any]]:
    """Stored rows as JSON-ready dicts: times in ISO 8601, and `models`, `options` and
    `measure_errors` as objects, not JSON text inside JSON."""
    items = table.to_pylist()
    for item in items:
        item["scanned_at"] = item["scanned_at"].isoformat()
        for column in _JSON_COLUMNS:
            if item[column] is not None:  # null: stored before the column existed
                item[column] = json.loads(item[column])
    return items


def _json_text(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value, sort_keys=True)


def _sql_type(kind: pa.DataType) -> str:
    return "TIMESTAMPTZ" if pa.types.is_timestamp(kind) else _SQL_TYPES[str(kind)]


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _filtered(table: pa.Table, filters: Sequence[Filter]) -> pa.Table:
    """The rows that pass every filter: columns and operators checked, values compared as
    values (nothing is spliced into a query)."""
    matching = pc.scalar(True)
    for f in filters:
        if f.column not in table.column_names:
            raise ConfigError(f"cannot filter on {f.column!r}: not a stored column")
        if f.op not in _COMPARE:
            raise ConfigError(f"unknown filter operator {f.op!r}; use one of {', '.join(_COMPARE)}")
        matching &= _COMPARE[f.op](pc.field(f.column), pc.scalar(f.value))
    try:
        return table.filter(matching)
    except (pa.ArrowException, TypeError) as error:
        raise ConfigError(f"cannot compare with the filters' values: {error}") from None
