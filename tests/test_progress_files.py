"""Progress files are read by the API while workers write them: a worker may be newer."""

from __future__ import annotations

import json

from bqat.progress import Progress, progress_path, read_progress, write_progress


def test_a_written_progress_reads_back_and_a_missing_one_is_none():
    write_progress("t1", Progress(total=5, done=2, failed=1, step="assess"))
    assert read_progress("t1") == Progress(total=5, done=2, failed=1, step="assess")
    assert read_progress("never-written") is None


def test_fields_a_newer_writer_added_are_ignored_and_older_files_read_without_a_step():
    path = progress_path("t2")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"total": 3, "done": 3, "failed": 0, "rate": 1.5}))
    assert read_progress("t2") == Progress(total=3, done=3, failed=0, step=None)
