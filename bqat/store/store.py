"""The result store: one DuckLake table per dataset, read and written by any process.

A dataset is a table of the lake (lake.py) holding its rows and its per-file errors (rows with
`reason` set); its modality, creation time and source folders are the table's comment. Each
batch is one transaction that deletes its files' rows and inserts their new events, so a file
has one row; should two writers insert one file at once, readers keep the latest event (an error
wins a tie). Every commit is a snapshot named after its dataset, with what it did in its extra
info, and can be read back (`as_of`). Readers keep the latest rows of a few datasets in memory,
keyed by snapshot, and extend them with the rows that later commits of that dataset inserted.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, TypeVar

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
_COUNTS = ("added", "changed", "removed")
T = TypeVar("T")


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: str
    modality: str
    created: datetime
    rows: int
    errors: int


@dataclass(frozen=True)
class Filter:
    """`column op value`: the column must be stored; the value is compared as a value."""

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
    if at and not _SNAPSHOT_ID.fullmatch(as_of):
        _moment(as_of)
    return dataset_id, as_of if at else None


def check_layout(root: Path) -> None:
    """Refuse a store folder in the layout of bqat before DuckLake (it is never migrated)."""
    if root.is_dir() and any(root.glob("*/dataset.json")):
        raise ConfigError(
            f"{root} holds a store in the old layout (Parquet parts per dataset), which this "
            "version neither reads nor migrates; nothing in it was changed. Move that folder "
            "away (or set BQAT_HOME elsewhere) and scan the datasets again."
        )


class Store:
    """Datasets of assessed rows and per-file errors in one DuckLake.

    `root` holds the default SQLite catalog and the data files; `catalog` (a SQLite path or
    `postgres:<connection string>`) and `data` (a folder or `s3://` prefix) override them, and
    default to BQAT_STORE_CATALOG and BQAT_STORE_DATA when no root is given.
    """

    def __init__(
        self, root: Path | None = None, *, catalog: str | None = None, data: str | None = None
    ) -> None:
        if root is None:
            settings = get_settings()
            root = settings.home / "store"
            catalog, data = catalog or settings.store_catalog, data or settings.store_data
        check_layout(root)
        self.root = root
        self.catalog = catalog or str(root.resolve() / "catalog.sqlite")
        self.data = data or str(root.resolve() / "data")
        if not self.data.startswith("s3://"):
            Path(self.data).mkdir(parents=True, exist_ok=True)
        if lake.catalog_uri(self.catalog)[1] == "sqlite_scanner":
            Path(self.catalog).parent.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[tuple[str, int | None], _Entry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._columns: dict[str, pa.Schema] = {}  # dataset -> its columns, all in its table

    # Datasets -------------------------------------------------------------------------------

    def create_dataset(
        self,
        dataset_id: str,
        modality: str,
        extra: Sequence[str] = (),
        *,
        new: bool = False,
        source: Path | None = None,
    ) -> DatasetInfo:
        """Create the dataset, or return it when it exists with the same modality. `extra`:
        text columns after the declared ones (another tool's results kept by an import).
        `new`: ConfigError when it exists, decided in the creating transaction, so that of two
        callers racing for one id exactly one creates it (imports). `source`: a folder the
        dataset's files are read from (reports show their thumbnails), remembered in the same
        commit, whether the dataset is made now or was made before."""
        check_dataset_id(dataset_id)
        schema = _schema({"modality": check_modality(modality), "extra": list(extra)})

        def create(cur: duckdb.DuckDBPyConnection, lk: str) -> datetime | None:
            """The creation time, or None when the dataset exists already."""
            existing = _comment(cur, lk, dataset_id)
            if existing is not None and new:
                raise ConfigError(f"dataset {dataset_id} exists")
            if existing is not None and existing["modality"] != modality:
                raise ConfigError(
                    f"dataset {dataset_id} holds {existing['modality']} samples, not {modality}"
                )
            if existing is not None:
                if source is not None and _with_source(existing, source):
                    _commit(cur, lk, dataset_id, "source", existing)
                return None
            columns = ", ".join(map(_column, schema))
            cur.execute(f"CREATE TABLE {_table(lk, dataset_id)} ({columns}, reason VARCHAR)")
            created = _now()
            meta = {"dataset_id": dataset_id, "modality": modality, "created": created.isoformat()}
            if extra:
                meta["extra"] = list(extra)
            if source is not None:
                _with_source(meta, source)
            _commit(cur, lk, dataset_id, "create", meta)
            return created

        created = self._transaction(create)
        if created is None:
            return self.dataset(dataset_id)
        # Just made, so empty: reading it back would cost a scan's start 65 ms for two zeros.
        return DatasetInfo(dataset_id, modality, created, 0, 0)

    def sources(self, dataset_id: str) -> list[Path]:
        """The folders scanned into the dataset, oldest first."""
        return [Path(folder) for folder in self._entry(dataset_id).meta.get("sources", [])]

    def dataset(self, dataset_id: str, *, as_of: int | str | None = None) -> DatasetInfo:
        entry = self._entry(dataset_id, as_of)
        created = datetime.fromisoformat(entry.meta["created"])
        return DatasetInfo(dataset_id, entry.meta["modality"], created, *entry.counts(self))

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
        held them (shared by all datasets: others can no longer be read as of those), their
        data files and the catalog rows (inlined data, statistics) about them."""
        info = self.dataset(dataset_id)

        def drop(cur: duckdb.DuckDBPyConnection, lk: str) -> None:
            cur.execute(f"DROP TABLE {_table(lk, dataset_id)}")
            _commit(cur, lk, dataset_id, "delete", removed=info.rows + info.errors)

        self._transaction(drop)
        self._forget(dataset_id)
        self._purge()

    def _purge(self) -> None:
        """Expire the snapshots that still hold a dropped table (again by `maintain`, should a
        crash have cut a deletion short), remove its files and scrub the catalog."""
        with self._cursor() as (cur, lk):
            held = cur.execute(
                f"SELECT DISTINCT s.snapshot_id FROM {_meta(lk)}.ducklake_snapshot s "
                f"JOIN {_meta(lk)}.ducklake_table t ON s.snapshot_id >= t.begin_snapshot "
                "AND s.snapshot_id < t.end_snapshot ORDER BY 1"
            ).fetchall()
        if held:
            self._call("ducklake_expire_snapshots", versions=[snapshot for (snapshot,) in held])
            self._call("ducklake_cleanup_old_files", cleanup_all=True)
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
        measure_errors; dataset_id and scanned_at are filled in) and the measures, as records
        or as one Arrow table; unknown keys are refused. Errors hold file, sha256 and reason.
        """
        try:
            self._append(dataset_id, rows, errors)
        except (ConfigError, duckdb.CatalogException, duckdb.BinderException):
            if dataset_id not in self._columns:
                raise
            # Columns known from an earlier batch: another process may have dropped the
            # dataset, or made it again, since. Look again.
            self._forget(dataset_id)
            self._append(dataset_id, rows, errors)

    def _append(
        self,
        dataset_id: str,
        rows: Sequence[dict[str, Any]] | pa.Table,
        errors: Sequence[dict[str, Any]],
    ) -> None:
        schema = self._columns.get(dataset_id) or self._evolve(dataset_id)
        parts = [_arrow(given, kind) for given, kind in ((rows, schema), (errors, ERROR_SCHEMA))]
        if not any(part.num_rows for part in parts):
            return
        batch = pa.concat_tables([p for p in parts if p.num_rows], promote_options="default")
        bounds = [v.as_py() for v in pc.min_max(batch.column("file")).values()]

        def write(cur: duckdb.DuckDBPyConnection, lk: str) -> None:
            cur.register("batch", batch)
            # The constant bounds let DuckLake skip the data files whose names lie outside.
            changed = cur.execute(
                f"DELETE FROM {_table(lk, dataset_id)} WHERE file BETWEEN ? AND ? "
                "AND file IN (SELECT file FROM batch)",
                bounds,
            ).fetchone()[0]
            cur.execute(  # stamped per attempt: a retried batch is the later event
                f"INSERT INTO {_table(lk, dataset_id)} BY NAME SELECT *, ? AS dataset_id, "
                "?::TIMESTAMPTZ AS scanned_at FROM batch",
                [dataset_id, _now()],
            )
            cur.unregister("batch")
            _commit(cur, lk, dataset_id, "append", added=len(batch) - changed, changed=changed)

        self._transaction(write, writer=True)
        self._columns[dataset_id] = schema

    def _evolve(self, dataset_id: str) -> pa.Schema:
        """The dataset's columns, once those its table lacks (measures declared since) are added
        as nullable columns."""
        schema = _schema(self._entry(dataset_id).meta)

        def add(cur: duckdb.DuckDBPyConnection, lk: str) -> None:
            table = _table(lk, dataset_id)
            have = {
                column[0] for column in cur.execute(f"SELECT * FROM {table} LIMIT 0").description
            }
            missing = [f for f in schema if f.name not in have]
            for f in missing:
                cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {_column(f)}")
            if missing:
                _commit(cur, lk, dataset_id, "evolve")

        self._transaction(add)  # a transaction that changes nothing makes no snapshot
        return schema

    def compact(self, dataset_id: str) -> bool:
        """Merge the dataset's small data files (readers see the same rows before and after).
        False when a concurrent commit made the merge give up (nothing is lost)."""
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
        self._call("ducklake_expire_snapshots", older_than=_now() - timedelta(days=keep_days))
        self._call("ducklake_cleanup_old_files", older_than=grace)
        self._call("ducklake_delete_orphaned_files", older_than=min(grace, _now() - timedelta(1)))
        self._purge()

    def _merge(self, table: str | None = None) -> None:
        """Write inlined rows out, rewrite files with deleted rows and merge small files, of
        one table or of every table."""
        args = () if table is None else (table,)
        self._call(
            "ducklake_flush_inlined_data", **({} if table is None else {"table_name": table})
        )
        self._call("ducklake_rewrite_data_files", *args, delete_threshold=0.0)
        self._call("ducklake_merge_adjacent_files", *args)

    # Reading --------------------------------------------------------------------------------

    def stored_hashes(self, dataset_id: str) -> dict[str, str]:
        """file -> sha256 of the files whose latest event is a stored row (skip these on re-run)."""
        table = self._entry(dataset_id).latest(self).table
        return dict(zip(*table.select(["file", "sha256"]).to_pydict().values(), strict=True))

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
        """One page of the dataset's rows as of a snapshot id or ISO 8601 time (the latest by
        default): `order_by` names stored columns (`-column` descending), then rows are ordered
        by file so pages are stable; filters compare values as values, never in a query."""
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
        latest = self._entry(dataset_id, as_of).latest(self)
        for column in (term.removeprefix("-") for term in order_by):
            if column not in latest.table.column_names:
                raise ConfigError(f"cannot order by {column!r}: not a stored column")
        if filters:  # filtered in Arrow, sorted once (not kept)
            latest = _Latest(_filtered(latest.table, filters))
        total = latest.table.num_rows
        end = total if limit is None else min(total, offset + limit)
        return latest.take(latest.order(tuple(order_by))[offset:end]), total

    def table(
        self,
        dataset_id: str,
        columns: Sequence[str],
        *,
        as_of: int | str | None = None,
        stored_only: bool = False,
    ) -> pa.Table:
        """The dataset's latest rows, these columns only, as one Arrow table: ConfigError for
        one that is not stored, or with `stored_only` the table of those that are."""
        latest = self._entry(dataset_id, as_of).latest(self).table
        unknown = [c for c in columns if c not in latest.column_names]
        if stored_only:
            columns = [c for c in columns if c in latest.column_names]
        elif unknown:
            raise ConfigError(f"not stored columns: {', '.join(unknown)}")
        return latest.select(list(columns))

    def summary(self, dataset_id: str) -> list[dict[str, Any]]:
        """count, min, mean, median and max of every numeric measure column of the dataset."""
        latest = self._entry(dataset_id).latest(self).table
        found = []
        for field, column in zip(latest.schema, latest.columns, strict=True):
            count = len(column) - column.null_count
            if count and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
                least, most = pc.min_max(column).values()
                found.append(
                    {
                        "column": field.name,
                        "count": count,
                        "min": least.as_py(),
                        "mean": pc.mean(column).as_py(),
                        "median": pc.quantile(column, q=0.5)[0].as_py(),  # as SQL's median
                        "max": most.as_py(),
                    }
                )
        return found

    def errors(self, dataset_id: str, *, as_of: int | str | None = None) -> list[dict[str, Any]]:
        """The files whose latest event is an error, with the reason, ordered by file."""
        entry = self._entry(dataset_id, as_of)
        entry.latest(self)
        return entry.failed.select(["file", "reason"]).to_pylist()

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
            run = info.get("flow_run")
            entry = {
                "snapshot": snapshot,
                "time": time.astimezone(UTC).isoformat(),
                "flow_run": run,
            }
            entry.update({key: info.get(key, 0) for key in _COUNTS})
            if run and entries and entries[-1]["flow_run"] == run:
                last = entries.pop()
                entry.update({key: entry[key] + last[key] for key in _COUNTS})
            entries.append(entry)
        return entries

    def files(self, dataset_id: str) -> list[str]:
        """The data files that hold the dataset's rows now, one per batch until a compaction
        merges them (none is inlined in the catalog: see lake.attach)."""
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
        with self._cursor() as (cur, lk):
            found = cur.execute(
                f"SELECT snapshot_id, snapshot_time FROM {lk}.snapshots() WHERE "
                f"{'snapshot_id = ?' if by_id else 'snapshot_time <= ?'} "
                "ORDER BY snapshot_id DESC LIMIT 1",
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
        """The dataset as of a snapshot (the latest by default; `id@snapshot` and `id@time` name
        a past state too): cached while no later commit names it, so that paging a large
        dataset reads the lake once, and extended with what later commits inserted."""
        dataset_id, at = check_reference(dataset_id)
        as_of = at if as_of is None else as_of
        key = (dataset_id, None if as_of is None else self.snapshot(as_of)[0])
        with self._cache_lock:
            cached = self._cache.get(key)
        if key[1] is not None:
            if cached is not None:
                return cached
            snapshot = key[1]
        else:
            known = cached.snapshot if cached else -1
            with self._cursor() as (cur, lk):
                snapshot, kept, changes = cur.execute(  # the filters reach the catalog
                    "SELECT max(snapshot_id), count(*) FILTER (WHERE snapshot_id = ?), "
                    f"(SELECT count(*) FROM {_meta(lk)}.ducklake_snapshot_changes "
                    "WHERE snapshot_id > ? AND commit_message = ?) "
                    f"FROM {_meta(lk)}.ducklake_snapshot WHERE snapshot_id >= ?",
                    [known, known, dataset_id, known],
                ).fetchone()
            if cached is not None and (cached.snapshot == snapshot or (kept and not changes)):
                cached.snapshot = snapshot
                return cached
        with self._cursor() as (cur, lk):
            meta = _comment(cur, lk, dataset_id, snapshot)
        if meta is None:
            at_snapshot = "" if key[1] is None else f" at snapshot {snapshot}"
            raise NotFoundError(f"unknown dataset {dataset_id}{at_snapshot}")
        # Extend what was read: the same dataset (not one made again) at a snapshot still kept.
        same = key[1] is None and cached is not None and kept
        same = same and cached.meta["created"] == meta["created"]
        entry = _Entry(dataset_id, snapshot, meta, cached if same else None)
        with self._cache_lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHED_DATASETS:
                self._cache.popitem(last=False)
        return entry

    def release(self, dataset_id: str) -> None:
        """Drop the dataset's rows that this store holds in memory (read again when needed)."""
        with self._cache_lock:
            for key in [k for k in self._cache if k[0] == dataset_id]:
                del self._cache[key]

    def _forget(self, dataset_id: str) -> None:
        self._columns.pop(dataset_id, None)
        self.release(dataset_id)

    def _transaction(
        self, work: Callable[[duckdb.DuckDBPyConnection, str], T], *, writer: bool = False
    ) -> T:
        """`work(cursor, lake name)` in one transaction of this process's DuckDB (its writing
        one for a batch of rows), retried from scratch when a concurrent commit won."""
        con, lk = lake.attach(self.catalog, self.data, writer=writer)
        return lake.transaction(con, lambda cur: work(cur, lk))

    def _call(self, function: str, *args: object, **options: object) -> None:
        """CALL a DuckLake function on the lake with bound arguments, again if it lost a race."""
        named = [f"{name} => ?" for name in options]
        sql = f"CALL {function}({', '.join(['?'] * (1 + len(args)) + named)})"

        def call() -> None:
            with self._cursor() as (cur, lk):
                cur.execute(sql, [lk, *args, *options.values()]).fetchall()

        lake.retry(call)

    @contextmanager
    def _cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """A cursor of this process's DuckDB (one per thread at a time), and the lake's name."""
        con, lk = lake.attach(self.catalog, self.data)
        cursor = con.cursor()
        try:
            yield cursor, lk
        finally:
            cursor.close()


_SHARED: dict[tuple[str, str], Store] = {}
_SHARED_LOCK = threading.Lock()


def shared_store() -> Store:
    """This process's one `Store` of the configured lake, so that the steps of a run (a scan's
    batches, compaction, outliers, report, summary) read the dataset once between them, not
    once each: a 200-row scan's last steps took 383 ms with a store each, 304 ms sharing one.
    Whoever loads a large dataset through it releases it when done (`Store.release`); at most
    two datasets stay held either way (the store's cache)."""
    store = Store()
    with _SHARED_LOCK:
        return _SHARED.setdefault((store.catalog, store.data), store)


class _Entry:
    """A dataset at one snapshot: its metadata, then its rows and errors once asked for.

    With a `base` (the same dataset at an earlier snapshot, already read), only the events
    committed since are read: a running scan does not make every reader read it all again.
    """

    def __init__(
        self, dataset_id: str, snapshot: int, meta: dict[str, Any], base: _Entry | None = None
    ) -> None:
        self.dataset_id, self.snapshot, self.meta, self._base = dataset_id, snapshot, meta, base
        self._latest: _Latest | None = None
        self.failed = pa.table({"file": [], "scanned_at": [], "reason": []})  # errors by file
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
        at = f"{_table(lk, self.dataset_id)} AT (VERSION => {self.snapshot})"
        # DuckLake scans an empty table in ~2.3 ms per column (0.3 s for a face dataset just
        # created, before its first scan); one column says whether there is anything to read.
        if not cur.execute(f"SELECT file FROM {at} LIMIT 1").fetchall():
            self._keep(schema, schema.append(pa.field("reason", pa.string())).empty_table())
            return
        table = cur.execute(f"SELECT * FROM {at}").to_arrow_table()
        if pc.count_distinct(table.column("file")).as_py() < table.num_rows:
            # Racing writers left two events of a file: keep the latest.
            table = cur.execute(_events(lk, self)).to_arrow_table()
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
        rows, failed = base._latest.table, base.failed
        known = pa.concat_tables([rows.select(["file", "scanned_at"]), failed.select([0, 1])])
        where = pc.index_in(files, value_set=known.column("file").combine_chunks())
        if pc.any(
            pc.less(fresh.column("scanned_at"), known.column("scanned_at").take(where))
        ).as_py():
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
            rows, errors = pa.concat_tables([kept[0], rows]), pa.concat_tables([kept[1], errors])
        self._latest = _Latest(rows)
        self.failed = errors.sort_by("file")
        self._counts = (rows.num_rows, errors.num_rows)

    def counts(self, store: Store) -> tuple[int, int]:
        """Rows and errors, counted without reading the rows when they are not cached."""
        with self._lock:
            if self._counts is None:
                with store._cursor() as (cur, lk):
                    found = cur.execute(
                        "SELECT count(*) FILTER (reason IS NULL), count(*) FILTER (reason IS NOT "
                        f"NULL) FROM ({_events(lk, self, 'reason')})"
                    ).fetchone()
                self._counts = (int(found[0]), int(found[1]))
            return self._counts


class _Latest:
    """A snapshot of a dataset's latest rows and the row orders asked of it so far.

    Sorting a million rows takes a while; once sorted, every page of that order is a slice.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._orders: dict[tuple[str, ...], pa.Array] = {}
        self._lock = threading.Lock()

    def take(self, indices: pa.Array) -> pa.Table:
        """The rows at `indices`, in that order, gathered chunk by chunk: `Table.take`
        concatenates every chunked column first, a copy of the whole dataset for 50 rows."""
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
            if order_by not in self._orders:
                keys = [
                    (
                        term.removeprefix("-"),
                        "descending" if term[:1] == "-" else "ascending",
                        "at_end",
                    )
                    for term in (*order_by, "file")
                ]
                self._orders[order_by] = pc.sort_indices(self.table, sort_keys=keys)
            return self._orders[order_by]


def _schema(meta: dict[str, Any]) -> pa.Schema:
    """A dataset's columns: its modality's declared ones, then its extra text columns."""
    schema = row_schema(meta["modality"])
    for name in meta.get("extra", ()):
        if name in schema.names or name == "reason":
            raise ConfigError(f"extra column {name!r} has the name of a stored column")
        schema = schema.append(pa.field(name, pa.string()))
    return schema


def _events(lk: str, entry: _Entry, columns: str = "*") -> str:
    """The latest event per file at the entry's snapshot (an error wins a tie with a row)."""
    return (
        f"SELECT {columns} FROM {_table(lk, entry.dataset_id)} AT (VERSION => "
        f"{int(entry.snapshot)}) QUALIFY row_number() OVER (PARTITION BY file "
        "ORDER BY scanned_at DESC, reason IS NULL) = 1"
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
        "ON g.object_id = t.table_id AND g.key = 'comment' AND g.begin_snapshot <= $1 "
        "AND (g.end_snapshot IS NULL OR g.end_snapshot > $1) WHERE t.table_name = $2 "
        "AND t.begin_snapshot <= $1 AND (t.end_snapshot IS NULL OR t.end_snapshot > $1)",
        [snapshot, _table_name(dataset_id)],
    ).fetchone()
    return None if found is None or found[0] is None else json.loads(found[0])


def _with_source(meta: dict[str, Any], folder: Path) -> bool:
    """Add `folder` to the dataset's metadata `meta`; False when it is there already."""
    if str(folder) in meta.get("sources", []):
        return False
    meta["sources"] = [*meta.get("sources", []), str(folder)]
    return True


def _commit(
    cur: duckdb.DuckDBPyConnection,
    lk: str,
    dataset_id: str,
    action: str,
    meta: dict[str, Any] | None = None,
    **counts: int,
) -> None:
    """Set the dataset's metadata when given; name the commit after the dataset, saying what it
    did and which flow run did it."""
    if meta is not None:
        text = lake.literal(json.dumps(meta))
        cur.execute(f"COMMENT ON TABLE {_table(lk, dataset_id)} IS {text}")
    info = json.dumps({"action": action, "flow_run": _flow_run(), **counts})
    cur.execute(
        "CALL ducklake_set_commit_message(?, 'bqat', ?, extra_info => ?)", [lk, dataset_id, info]
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


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(text: object) -> datetime:
    """A time as given, or read from ISO 8601 text; UTC unless it names its zone."""
    if not isinstance(text, datetime):
        try:
            text = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{text!r} is neither a snapshot id nor an ISO 8601 time") from None
    return text if text.tzinfo else text.replace(tzinfo=UTC)


def _utc(table: pa.Table) -> pa.Table:
    """DuckDB names the UTC zone 'Etc/UTC'; use the schema's 'UTC' so snapshots concatenate."""
    index = table.schema.get_field_index("scanned_at")
    utc = pa.timestamp("us", tz="UTC")
    return table.set_column(index, "scanned_at", pc.cast(table.column(index), utc))


def _arrow(records: Sequence[dict[str, Any]] | pa.Table, schema: pa.Schema) -> pa.Table:
    """Records (or a table) as Arrow columns of `schema` less dataset_id and scanned_at, which
    the insert fills in; unknown columns are refused, and models, options and measure_errors
    become JSON text.

    Arrow converts the values in C++, from tuples about twice as fast as from dicts: records
    that all have the first one's keys (a scan's do) go as tuples of their values, others as
    dicts. A `pa.array` per column is slower than either, as Python gathers the columns.
    """
    if isinstance(records, pa.Table):
        _refuse(records.column_names, schema)
        return records.drop_columns([name for name in _FILLED if name in records.column_names])
    keys = list(records[0]) if records else []
    _refuse(keys, schema)
    plain = [key for key in keys if key not in (*_FILLED, *_JSON_COLUMNS)]
    struct = None
    if len(plain) > 1 and set(map(len, records)) == {len(keys)}:
        with contextlib.suppress(KeyError), _no_collection():  # a record lacks one of the keys
            objects = {key: [record[key] for record in records] for key in keys if key not in plain}
            values = list(map(itemgetter(*plain), records))
            struct = pa.array(values, type=pa.struct([schema.field(key) for key in plain]))
            del values  # freed before collections resume
    if struct is None:
        given = set().union(*records)
        _refuse(given, schema)
        wanted = given - {*_FILLED, *_JSON_COLUMNS}
        plain = [f.name for f in schema if f.name in wanted]
        objects = {key: [record.get(key) for record in records] for key in _JSON_COLUMNS}
        struct = pa.array(records, type=pa.struct([schema.field(key) for key in plain]))
    columns = dict(zip(plain, pa.Table.from_struct_array(struct).columns, strict=True))
    columns.update({key: _json_texts(objects[key]) for key in _JSON_COLUMNS if key in objects})
    fields = [f for f in schema if f.name not in _FILLED]
    arrays = [
        columns[f.name] if f.name in columns else pa.nulls(len(records), f.type) for f in fields
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


class _CollectionPause:
    """No cyclic garbage collection while converting records: a conversion makes a tuple per
    record, garbage right after and in no cycle, and the collections their number sets off took
    a tenth of it (10 ms of a 10 000-row batch). Counted across threads: the last conversion
    done turns collections back on, and only if they were on before the first began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._converting = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._converting == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._converting += 1
        try:
            yield
        finally:
            with self._lock:
                self._converting -= 1
                if self._converting == 0 and self._resume:
                    gc.enable()


_no_collection = _CollectionPause()


def _refuse(columns: Iterable[str], schema: pa.Schema) -> None:
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise ConfigError(f"unknown columns for the store: {', '.join(sorted(unknown))}")


def _json_texts(values: list[object]) -> pa.Array:
    """Objects as JSON text (text and None as they are). The rows of a batch share their models
    and options: each object is written once, and empty ones (no measure failed) by value."""
    written: dict[object, str] = {}
    texts = []
    for value in values:
        if value is not None and not isinstance(value, str):
            key = id(value) if value else repr(value)  # `values` keeps every object alive
            value = written.get(key) or written.setdefault(key, json.dumps(value, sort_keys=True))
        texts.append(value)
    return pa.array(texts, pa.string())


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


def _column(field: pa.Field) -> str:
    """The column definition of `field` in SQL."""
    kind = "TIMESTAMPTZ" if pa.types.is_timestamp(field.type) else _SQL_TYPES[str(field.type)]
    return f"{_quote(field.name)} {kind}"


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


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
