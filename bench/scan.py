"""Scan and store at scale, in one run.

Prints: (1) the store's ingestion rate for 1 000 000 generated face rows (dict records, 10 000
per append, the path a scan uses, with the rows per CPU-second, which load on the machine
changes less; then a quarter as many records shaped like a scan's, with models, options and
measure_errors objects; then the same batches as Arrow tables, a columnar caller's path), with
the rate of plain Parquet parts written by the same process as the baseline,
(2) the p50/p95 of a profiles page query (random offset, limit 50, a random order among four
columns) on those rows, before and after compaction,
(3) 4 writer processes appending to one dataset at once (no row may be lost), (4) the time to
find duplicates, detect outliers and build the HTML report on those rows, (5) the throughput and
peak RSS of a scan of generated images in a separate process, its time to the first stored batch
(Prefect's temporary server starts in that process first) and the ratio of later scans (the
server up, as with `bqat serve`) to assessing the same images without a scan (same process, same
models, threads): the median of five alternating pairs up to 1 000 images, one pair above,
and where those scans spent their time (before the first assess task, assessing, after),
(6) the store package's lines.
Targets: ingestion >= 85 000 rows/s, page p95 <= 10 ms, no lost row, scan RSS < 1.5 GB,
scan <= 1.5x the bare assessment.
Run: make bench-scan (or .venv/bin/python bench/scan.py [--rows N] [--images N]).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from bqat.duplicates import find_duplicates
from bqat.outliers import detect, write_outliers
from bqat.phash import PHASH_COLUMN
from bqat.report import build_report
from bqat.store import Store
from bqat.store.schema import measure_columns

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "face"
ORDERS = ["-ipd", "yaw_degree", "-iso_sharpness", "file"]


def generated_rows(count: int, start: int, rng: np.random.Generator) -> list[dict]:
    columns = measure_columns("face")
    rows = []
    for i in range(count):
        row = {"file": f"{start + i:08d}.jpg", "sha256": "a" * 64, "engine_version": "bench"}
        for name, kind in columns.items():
            if pa.types.is_floating(kind):
                row[name] = float(rng.random())
            elif pa.types.is_integer(kind):
                row[name] = int(rng.integers(0, 1000))
            elif pa.types.is_boolean(kind):
                row[name] = bool(rng.integers(0, 2))
            elif name == PHASH_COLUMN:
                row[name] = f"{int(rng.integers(0, 2**63)):016x}"
            else:
                row[name] = "Forward"
        rows.append(row)
    return rows


def parquet_numbers(folder: Path, template: list[dict], total: int) -> float:
    """Baseline: the same batches as Arrow tables written to Parquet files, nothing else (the
    write path of the store before DuckLake); returns the seconds it took."""
    import pyarrow.parquet as pq

    from bqat.store.store import _arrow, row_schema

    folder.mkdir(parents=True, exist_ok=True)
    schema, elapsed = row_schema("face"), 0.0
    for start in range(0, total, 10_000):
        batch = [{**row, "file": f"{start + i:08d}.jpg"} for i, row in enumerate(template)]
        began = time.perf_counter()
        pq.write_table(_arrow(batch, schema), folder / f"{start}.parquet")
        elapsed += time.perf_counter() - began
    return elapsed


def arrow_numbers(store: Store, template: list[dict], total: int) -> float:
    """The same batches handed over as Arrow tables (no per-row conversion in the store), into
    a dataset of their own; returns the seconds the appends took."""
    from bqat.store.store import _arrow, row_schema

    store.create_dataset("bench-arrow", "face")
    schema, elapsed = row_schema("face"), 0.0
    for start in range(0, total, 10_000):
        batch = _arrow(
            [{**row, "file": f"{start + i:08d}.jpg"} for i, row in enumerate(template)], schema
        )
        began = time.perf_counter()
        store.append("bench-arrow", rows=batch)
        elapsed += time.perf_counter() - began
    return elapsed


def dict_numbers(
    store: Store, dataset_id: str, template: list[dict], total: int
) -> tuple[float, float]:
    """Batches of 10 000 records appended as a scan does; the seconds and CPU seconds taken."""
    elapsed = cpu = 0.0
    for start in range(0, total, 10_000):
        batch = [
            {**row, "file": f"{start + i:08d}.jpg", "sha256": f"{start + i:064x}"}
            for i, row in enumerate(template)
        ]
        began, began_cpu = time.perf_counter(), time.process_time()
        store.append(dataset_id, rows=batch)
        elapsed += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
    return elapsed, cpu


def page_times(store: Store, total: int, queries: int) -> list[float]:
    times = []
    for _ in range(queries):
        start = time.perf_counter()
        store.profiles(
            "bench",
            offset=random.randint(0, total - 50),
            limit=50,
            order_by=[random.choice(ORDERS)],
        )
        times.append(time.perf_counter() - start)
    return times


def store_numbers(root: Path, total: int) -> None:
    store = Store(root)
    store.create_dataset("bench", "face")
    rng = np.random.default_rng(1)
    template = generated_rows(10_000, 0, rng)
    elapsed, cpu = dict_numbers(store, "bench", template, total)
    baseline = parquet_numbers(root.parent / "parts", template, total)
    print(
        f"store ingestion: {total} rows in {elapsed:.1f} s = {total / elapsed:,.0f} rows/s "
        f"(target >= 85,000; {total / cpu:,.0f} rows per CPU-second of this process); "
        f"{baseline / elapsed:.2f}x the rate of plain Parquet parts"
    )
    # As a scan's records: every row holds models and options (one object per batch) and
    # measure_errors (its own object, mostly empty).
    models, options = {"face_detector": "a" * 64, "face_mesh": "b" * 64}, {"engine": "default"}
    scanned = [
        {**row, "models": models, "options": options, "measure_errors": {}} for row in template
    ]
    for row in scanned[::50]:
        row["measure_errors"] = {"ipd": "no face"}
    store.create_dataset("bench-scan", "face")
    part = max(10_000, total // 4)
    elapsed, cpu = dict_numbers(store, "bench-scan", scanned, part)
    print(
        f"store ingestion of scan-shaped records ({part} rows): {part / elapsed:,.0f} rows/s "
        f"({part / cpu:,.0f} rows per CPU-second)"
    )
    columnar = arrow_numbers(store, template, total)
    print(
        f"store ingestion from Arrow tables: {total / columnar:,.0f} rows/s; "
        f"{baseline / columnar:.2f}x the rate of plain Parquet parts"
    )
    for label in ("appended", "compacted"):
        if label == "compacted":
            began = time.perf_counter()
            store.compact("bench")
            print(f"compaction of {total} rows: {time.perf_counter() - began:.1f} s")
        first = time.perf_counter()
        store.profiles("bench", limit=50)
        print(f"first page after a change ({label}): {(time.perf_counter() - first) * 1e3:.0f} ms")
        times = sorted(page_times(store, total, 200))
        p50, p95 = statistics.median(times) * 1e3, times[int(0.95 * len(times))] * 1e3
        print(f"page query ({label}): p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 10 ms)")
    extra = [{**row, "file": f"new-{i:02d}.jpg"} for i, row in enumerate(template[:16])]
    store.append("bench", rows=extra)
    began = time.perf_counter()
    store.profiles("bench", limit=50, order_by=["-ipd"])
    print(
        "page query right after a 16-row batch lands (cached rows extended, order re-sorted): "
        f"{(time.perf_counter() - began) * 1e3:.0f} ms"
    )
    report_numbers(store, total)
    writer_numbers(root)


WRITER = """
import sys
from pathlib import Path
from bqat.store import Store
store, writer = Store(Path(sys.argv[1])), sys.argv[2]
store.create_dataset("writers", "face")
for batch in range(40):
    rows = [{"file": f"{writer}-{batch}-{i}.jpg", "sha256": "a" * 64} for i in range(250)]
    store.append("writers", rows=rows)
"""


def writer_numbers(root: Path, writers: int = 4) -> None:
    """`writers` processes append 40 batches of 250 rows each to one dataset at once."""
    began = time.perf_counter()
    children = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(w)]) for w in range(writers)
    ]
    codes = [child.wait() for child in children]
    elapsed = time.perf_counter() - began
    stored = Store(root).dataset("writers").rows
    print(
        f"{writers} writer processes at once: {stored} of {writers * 10_000} rows stored "
        f"({writers * 10_000 - stored} lost; exit codes {codes}) in {elapsed:.1f} s"
    )


def store_lines() -> None:
    package = Path(__file__).resolve().parents[1] / "bqat" / "store"
    lines = sum(len(p.read_text().splitlines()) for p in package.glob("*.py"))
    print(f"bqat/store: {lines} lines (the Parquet-part store had 793)")


def report_numbers(store: Store, total: int) -> None:
    began = time.perf_counter()
    groups = find_duplicates("bench", store=store)
    print(
        f"duplicates of {total} rows: {len(groups)} groups in {time.perf_counter() - began:.1f} s"
    )
    began = time.perf_counter()
    write_outliers(detect("bench", store=store))
    print(f"outliers (ECOD) of {total} rows: {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    html = build_report("bench", store)
    print(
        f"report of {total} rows: {time.perf_counter() - began:.1f} s, "
        f"{len(html) / 1e6:.1f} MB of HTML"
    )


# Peak RSS from the child's own VmHWM: getrusage's ru_maxrss would carry over the parent's
# peak (the 1 M-row store above) through fork and exec.
SCAN = """
import os, re, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import bqat
from bqat.progress import read_progress
files = sorted(str(path) for path in Path(sys.argv[1]).glob("*.jpg"))
bqat.assess(files[0], "face")  # the models load once, before either timing
start = time.perf_counter()
with ThreadPoolExecutor(os.cpu_count()) as pool:  # the scan's parallelism, without the scan
    list(pool.map(lambda file: bqat.assess(file, "face"), files))
pure = time.perf_counter() - start
first, ended = [], threading.Event()
def watch():
    while not ended.wait(0.02):
        progress = read_progress("scan-bench")
        if progress is not None and progress.done > 0:
            first.append(time.perf_counter() - start)
            return
start = time.perf_counter()
threading.Thread(target=watch, daemon=True).start()
summary = bqat.scan(sys.argv[1], "face", dataset_id="scan-bench",
                    progress_key="scan-bench")
elapsed = time.perf_counter() - start
ended.set()
# Again, with Prefect's temporary server already up: alternating pairs of the bare assessment
# and a scan, since the load on a shared machine swings one pair's ratio by 0.8x either way.
# (before, assessing, after) in seconds: from the call to the first assess task's start, from
# there to the last one's end, and from there to the return, by the task runs' times.
def phases(called, returned):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort
    from flows.connection import flow_server
    with flow_server(), get_client(sync_client=True) as client:
        run = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        steps = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    batches = [step for step in steps if step.name.startswith("assess-batch")]
    begun = min(step.start_time.timestamp() for step in batches)
    done = max(step.end_time.timestamp() for step in batches)
    return begun - called, done - begun, returned - done
ratios, spans = [], []
for pair in range(5 if len(files) <= 1000 else 1):
    start = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(lambda file: bqat.assess(file, "face"), files))
    bare = time.perf_counter() - start
    start, called = time.perf_counter(), time.time()
    bqat.scan(sys.argv[1], "face", dataset_id=f"scan-bench-again-{pair}")
    ratios.append((time.perf_counter() - start) / bare)
    spans.append(phases(called, time.time()))
spans = [sorted(span[i] for span in spans)[len(spans) // 2] for i in range(3)]  # medians
peak = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1]) / 1024
print(summary.discovered, summary.assessed, summary.failed, f"{elapsed:.2f}", f"{peak:.0f}",
      f"{pure:.2f}", f"{first[0] if first else float('nan'):.2f}",
      ",".join(f"{ratio:.2f}" for ratio in ratios), "/".join(f"{span:.2f}" for span in spans))
"""


def write_images(folder: Path, count: int) -> None:
    """`count` JPEGs made from the sample faces, 240-480 px on their long side."""
    sources = sorted(SAMPLES.glob("*.jpg"))
    rng = np.random.default_rng(2)
    for i in range(count):
        image = cv2.imread(str(sources[i % len(sources)]))
        side = int(rng.integers(240, 480))
        scale = side / max(image.shape[:2])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 85])


def scan_numbers(folder: Path, home: Path, images: int) -> None:
    write_images(folder, images)
    env = {**os.environ, "BQAT_HOME": str(home), "BQAT_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SCAN, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    discovered, assessed, failed, elapsed, peak, pure, first, pairs, spans = done.stdout.split()[
        -9:
    ]
    ratios = [float(ratio) for ratio in pairs.split(",")]
    before, assessing, after = (float(span) for span in spans.split("/"))
    print(
        f"scan of {discovered} generated images (240-480 px): {assessed} assessed, "
        f"{failed} failed, {float(elapsed):.1f} s = {int(assessed) / float(elapsed):.1f} img/s; "
        f"peak RSS {peak} MB (target < 1500)\n"
        f"  first batch stored after {float(first):.1f} s (Prefect's temporary server starting "
        f"in this process); the same images assessed without the scan (threads, one per core): "
        f"{float(pure):.1f} s; first scan / assessment = {float(elapsed) / float(pure):.2f}; "
        f"later scans in the same process (the server already up, as with `bqat serve`), each "
        f"after the bare assessment: median {statistics.median(ratios):.2f} x the assessment "
        f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)}; target <= 1.5)\n"
        f"  the later scans' phases (medians): "
        f"{before:.2f} s to the first assess task, {assessing:.2f} s assessing, {after:.2f} s "
        f"after (outliers, report, compaction)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    store_lines()
    with tempfile.TemporaryDirectory() as work:
        os.environ["BQAT_HOME"] = work  # the outliers JSON the report reads
        store_numbers(Path(work) / "store", args.rows)
    if args.images == 0:
        return
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "images"
        folder.mkdir()
        scan_numbers(folder, Path(work) / "home", args.images)


if __name__ == "__main__":
    main()
