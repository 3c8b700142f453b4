"""The DuckLake under the store: extensions from their PyPI packages, the catalog, transactions.

DuckLake keeps Parquet data files and a catalog of snapshots in a SQLite file (one machine,
several processes) or PostgreSQL (several machines). Each process reads through an in-memory
DuckDB with the lake attached, and writes through another with one thread: spreading a batch's
Parquet writing over threads made it slower (1.1-1.8x for 10 000 rows on 2 busy cores), while
reads of large datasets gain from them. The extensions are DuckDB's signed binaries from the
`duckdb-extension-*` packages, loaded from their files: nothing is downloaded, every signature
is checked and unsigned extensions stay refused.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from bqat.exceptions import ConfigError

_ATTEMPTS = 60
# Lost races: a busy or conflicting commit, a catalog or table another process made first.
_RETRIED = (
    "database is locked",
    "busy",
    "conflict",
    "could not serialize",
    "deadlock",
    "duplicate key",
    "already exists",
)
# Writer or not -> this process's DuckDB: pid, connection, loaded extensions, attached lakes.
_INSTANCES: dict[bool, dict] = {}
_CONNECTING = threading.Lock()
_ALIASES = itertools.count()
T = TypeVar("T")


def extension(name: str) -> str:
    """The file of DuckDB extension `name` for this DuckDB, in package `duckdb_extension_<name>`."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the DuckDB extension {name} is not installed (package {package})")
    path = Path(spec.submodule_search_locations[0]) / "extensions" / f"v{duckdb.__version__}"
    path /= f"{name}.duckdb_extension"
    if not path.is_file():
        raise ConfigError(
            f"{package} holds no {name} extension for DuckDB {duckdb.__version__}: install the "
            "versions pinned in requirements.lock"
        )
    return str(path)


def catalog_uri(catalog: str) -> tuple[str, str]:
    """The DuckLake URI of a catalog setting (`postgres:<libpq connection string>`, or the path
    of a SQLite file) and the scanner extension it needs."""
    if catalog.startswith(("postgres:", "postgresql:")):
        return "ducklake:postgres:" + catalog.split(":", 1)[1], "postgres_scanner"
    return f"ducklake:sqlite:{catalog}", "sqlite_scanner"


def attach(
    catalog: str, data: str, *, writer: bool = False
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """This process's DuckDB (for reads, or the one-thread one for writes) and the name under
    which the lake of `catalog` is attached.

    Each is made once per process (again after a fork): loading an extension checks its
    signature, which takes a while. One lake at a time is attached, as every query starts a
    transaction in each attached lake (a process uses one store; tests use many in turn).
    """
    with _CONNECTING:
        instance = _INSTANCES.get(writer)
        if instance is None or instance["pid"] != os.getpid():
            config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
            con = duckdb.connect(config={**config, **({"threads": 1} if writer else {})})
            con.execute("SET TimeZone = 'UTC'")
            instance = {"pid": os.getpid(), "connection": con, "loaded": set(), "lakes": {}}
            _INSTANCES[writer] = instance
        con, lakes = instance["connection"], instance["lakes"]
        if (catalog, data) not in lakes:
            uri, scanner = catalog_uri(catalog)
            if scanner == "sqlite_scanner" and not Path(catalog).exists():
                with contextlib.closing(sqlite3.connect(catalog)) as db:
                    db.execute("PRAGMA journal_mode=WAL")  # kept by the file: readers never block
            for name in (scanner, "ducklake", *(["httpfs"] if data.startswith("s3://") else [])):
                if name not in instance["loaded"]:
                    con.execute(f"LOAD {literal(extension(name))}")
                    if name == "ducklake":  # it retries a commit that lost a race: short waits
                        con.execute("SET ducklake_retry_wait_ms = 10")
                    instance["loaded"].add(name)
            for attached in lakes.values():
                with contextlib.suppress(duckdb.Error):
                    con.execute(f"DETACH {attached}")
            lakes.clear()
            alias = f"lake{next(_ALIASES)}"
            # Two processes may create a new catalog at once: the loser retries, finds it made.
            # No batch is inlined in the catalog: a reader whose catalog reads straddle the
            # flush that writes inlined rows out (every compaction) misses them, seen as 5 of
            # 300 rows missing from a reader beside a writer that appended and compacted.
            options = f"DATA_PATH {literal(data)}, DATA_INLINING_ROW_LIMIT 0"
            sql = f"ATTACH {literal(uri)} AS {alias} ({options})"
            retry(lambda: con.execute(sql))
            lakes[(catalog, data)] = alias
        return con, lakes[(catalog, data)]


def scrub(catalog: str) -> None:
    """Rewrite a SQLite catalog without the bytes of its deleted rows (free pages, the WAL).

    A PostgreSQL catalog keeps dead rows until its own VACUUM: schedule one on that server.
    """
    if catalog_uri(catalog)[1] == "sqlite_scanner":
        with contextlib.closing(sqlite3.connect(catalog, timeout=30)) as db:
            db.execute("PRAGMA secure_delete = ON")
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def retry(work: Callable[[], T]) -> T:
    """`work()`, again after a pause when the catalog was busy or a concurrent commit won."""
    for attempt in range(_ATTEMPTS):
        try:
            return work()
        except duckdb.Error as error:
            message = str(error).lower()
            retried = isinstance(error, duckdb.TransactionException) or any(
                word in message for word in _RETRIED
            )
            if not retried or attempt == _ATTEMPTS - 1:
                raise
            time.sleep(min(0.5, 0.005 * 1.5**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def transaction(
    con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]
) -> T:
    """`work(cursor)` in one transaction: it commits as one snapshot, or retries from scratch."""

    def attempt() -> T:
        cursor = con.cursor()
        try:
            cursor.execute("BEGIN")
            result = work(cursor)
            cursor.execute("COMMIT")
            return result
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed commit ended it already
                cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()

    return retry(attempt)


def literal(text: str) -> str:
    """`text` as a SQL string literal, for the statements that take no parameters."""
    return "'" + text.replace("'", "''") + "'"
