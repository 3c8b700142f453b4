"""The scan-dataset flow end to end on a folder of real and broken samples."""

from __future__ import annotations

import json
import shutil
import time

import pytest

import bqat
from bqat.outliers import read_outliers
from bqat.progress import Progress, read_progress
from bqat.report_files import report_path
from bqat.store import Store, shared_store


@pytest.fixture
def folder(tmp_path, samples):
    root = tmp_path / "data"
    (root / "nested").mkdir(parents=True)
    for name in ("268625316_1.jpg", "269968666_1.jpg", "271207626_1.jpg"):
        shutil.copy(samples / "face" / name, root / "nested" / name)
    shutil.copy(samples / "face" / "271207685_1.jpg", root / "mislabelled.png")
    (root / "text.jpg").write_text("not an image")
    (root / "readme.txt").write_text("ignored: not a sample extension")
    return root


def test_a_scan_stores_rows_and_errors_and_a_rerun_skips_them(folder):
    first = bqat.scan(folder, "face", dataset_id="faces", batch_size=2)
    assert (first.dataset_id, first.discovered, first.assessed, first.skipped, first.failed) == (
        "faces",
        5,
        4,
        0,
        1,
    )
    files = [row["file"] for row in bqat.profiles("faces", order_by="file")]
    assert files == [
        "mislabelled.png",
        "nested/268625316_1.jpg",
        "nested/269968666_1.jpg",
        "nested/271207626_1.jpg",
    ]
    assert bqat.errors("faces")[0]["file"] == "text.jpg"
    assert len(Store().files("faces")) == 1  # three batches, compacted at the end of the scan
    detected = read_outliers("faces")  # the default detection ran at the end of the scan
    assert detected is not None and detected["detector"] == "ECOD" and detected["rows"] == 4
    assert "Quality report · faces" in report_path("faces").read_text()  # and the report too
    # The steps shared one store, which lets go of the dataset's rows when the scan ends.
    assert not [key for key in shared_store()._cache if key[0] == "faces"]

    again = bqat.scan(folder, "face", dataset_id="faces", batch_size=2)
    assert (again.assessed, again.skipped, again.failed) == (0, 4, 1)
    assert len(bqat.profiles("faces")) == 4


def _first_message(flow_run_id) -> str:
    """The run's first log line as Prefect's server has it (logs arrive in batches)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    only_this_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while not (logs := client.read_logs(only_this_run, limit=1, sort=LogSort.TIMESTAMP_ASC)):
            assert time.monotonic() < deadline, "no log line reached the server"
            time.sleep(0.2)
    return logs[0].message


def test_progress_is_readable_by_task_id(folder):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    summary = bqat.scan(folder, "face", pattern=r"^nested/")
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    latest = max((r for r in runs if "source" in r.parameters), key=lambda run: run.created)
    progress = read_progress(str(latest.id))
    assert summary.discovered == 3
    assert progress == Progress(total=3, done=3, failed=0, step=None)
    # The runs are named after what they did and tagged for the Prefect UI's filters; the steps
    # after the scan have progress of their own, over the dataset's rows.
    assert latest.name == f"scan {summary.dataset_id} · face · 3 files"
    assert _first_message(latest.id).startswith("Beginning flow run 'scan new · face'")
    assert {"modality:face", f"dataset:{summary.dataset_id}"} <= set(latest.tags)
    with get_client(sync_client=True) as client:
        steps = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[latest.id]))
        )
    after = {step.task_key.split("-")[0]: step for step in steps}
    for name in ("outliers_step", "report_step"):
        assert read_progress(str(after[name].id)) == Progress(total=3, done=3, failed=0), name


def test_engine_options_are_validated_before_any_file_is_assessed(folder):
    with pytest.raises(bqat.ConfigError, match="colour"):
        bqat.scan(folder, "face", colour=1)


def test_the_scan_verb_prints_the_summary_as_json(folder, capsys):
    from bqat.cli import main

    assert main(["scan", "--modality", "face", "--dataset", "cli", "--json", str(folder)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {
        "dataset_id": "cli",
        "discovered": 5,
        "assessed": 4,
        "skipped": 0,
        "failed": 1,
    }


def test_progress_can_be_followed_under_a_key_of_the_callers_choice(folder):
    summary = bqat.scan(folder, "face", progress_key="cli-follow")
    progress = read_progress("cli-follow")
    assert progress is not None
    assert (progress.total, progress.done, progress.failed) == (summary.discovered, 5, 1)


def test_the_outliers_report_and_duplicates_verbs(folder, tmp_path, capsys):
    from bqat.cli import main

    shutil.copy(folder / "mislabelled.png", folder / "nested" / "copy.png")
    bqat.scan(folder, "face", dataset_id="few")
    capsys.readouterr()
    assert main(["outliers", "few", "--detector", "knn", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["detector"] == "KNN" and result["rows"] == 5
    assert main(["outliers", "few", "--detector", "nope"]) == 2
    assert main(["report", "few", "-o", str(tmp_path / "few.html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "few.html")
    assert "<b>KNN</b>" in (tmp_path / "few.html").read_text()  # the latest detection
    assert main(["duplicates", "few", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"kind": "exact", "files": ["mislabelled.png", "nested/copy.png"], "distance": 0}
    ]
    assert main(["duplicates", "few", "--max-distance", "40"]) == 2
