"""The store on a PostgreSQL catalog, as workers on several machines would share it.

A throw-away cluster (initdb, pg_ctl) on a free port, run by an unprivileged user, is stopped
whatever happens; the tests skip only where no PostgreSQL binaries exist.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bqat.store import Store

TESTS = Path(__file__).resolve().parents[1]


def _binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@pytest.fixture(scope="module")
def cluster() -> Iterator[Callable[[], str]]:
    """A fresh cluster, stopped and removed afterwards; calling it makes a new database and
    returns `postgres:<connection string>`."""
    binaries = _binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
    # PostgreSQL refuses to run as root: run it as nobody, in a folder nobody owns.
    user = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    folder = Path(tempfile.mkdtemp(prefix="bqat-pg-"))
    folder.chmod(0o755)
    os.chown(folder, user.pw_uid, user.pw_gid)
    as_user = {"user": user.pw_uid, "group": user.pw_gid, "cwd": folder}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cluster = folder / "cluster"
    try:
        subprocess.run(
            [binaries / "initdb", "-D", cluster, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            **as_user,
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                binaries / "pg_ctl",
                "-D",
                cluster,
                "-o",
                options,
                "-l",
                folder / "log",
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
            **as_user,
        )
        made = itertools.count()

        def database() -> str:
            name = f"bqat{next(made)}"
            address = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            subprocess.run([binaries / "createdb", *address, name], check=True, **as_user)
            return f"postgres:host=127.0.0.1 port={port} user=postgres dbname={name}"

        yield database
    finally:
        if (cluster / "postmaster.pid").exists():
            subprocess.run(
                [binaries / "pg_ctl", "-D", cluster, "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
                **as_user,
            )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres(cluster: Callable[[], str]) -> str:
    return cluster()


def test_a_postgres_catalog_keeps_rows_history_and_deletions(postgres, tmp_path):
    store = Store(tmp_path / "store", catalog=postgres, data=str(tmp_path / "data"))
    store.create_dataset("pg", "face")
    store.append("pg", rows=[{"file": "a.jpg", "sha256": "a" * 64, "ipd": 1}])
    store.append("pg", rows=[{"file": "a.jpg", "sha256": "b" * 64, "ipd": 2}])
    first = store.history("pg")[1]["snapshot"]
    assert [r["ipd"] for r in store.profiles("pg").items] == [2]
    assert [r["ipd"] for r in store.profiles("pg", as_of=first).items] == [1]
    store.compact("pg")
    store.delete_dataset("pg")
    assert store.datasets() == []
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


SCAN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[5])
    from fake_modality import ENGINE
    from bqat.engines import register
    from bqat.ingest import discover
    from bqat.scanning import assess_batch, plan
    from bqat.store import Store

    register(ENGINE)
    store = Store(Path(sys.argv[1]), catalog=sys.argv[2], data=sys.argv[3])
    store.create_dataset("tallies", ENGINE.modality)
    work = plan(store.stored_hashes("tallies"), discover(Path(sys.argv[4]), ENGINE.modality))
    for start in range(0, len(work.work), 5):
        assess_batch(store, "tallies", ENGINE.modality, work.work[start : start + 5], {})
    """
)


def test_two_scans_in_two_processes_store_every_file_once(postgres, tmp_path, tally_modality):
    folder = tmp_path / "tallies"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i:02d}.tally").write_text(f"{i} {i + 1}" if i % 10 else "not numbers")
    args = [str(tmp_path / "store"), postgres, str(tmp_path / "data"), str(folder), str(TESTS)]
    scans = [subprocess.Popen([sys.executable, "-c", SCAN, *args]) for _ in range(2)]
    try:
        assert [scan.wait(timeout=120) for scan in scans] == [0, 0]
    finally:
        for scan in scans:
            if scan.poll() is None:
                scan.kill()
    store = Store(tmp_path / "store", catalog=postgres, data=str(tmp_path / "data"))
    files = [r["file"] for r in store.profiles("tallies").items]
    errors = [e["file"] for e in store.errors("tallies")]
    assert sorted(files + errors) == sorted(f"{i:02d}.tally" for i in range(40))
    assert len(errors) == 4
