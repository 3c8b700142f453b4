"""The `bqat` command line: tables, --json, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bqat.cli import main
from bqat.models import MODELS


def test_models_list_prints_every_model_as_json(capsys):
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(MODELS)
    assert all(len(r["sha256"]) == 64 for r in rows)


def test_models_verify_passes_against_shared(shared, capsys):
    assert main(["models", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok ") == len(MODELS)


def test_models_verify_fails_when_a_file_is_missing(tmp_path, set_env, capsys):
    set_env(BQAT_MODEL_DIR=str(tmp_path))
    assert main(["models", "verify", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"missing"}


def test_an_invalid_setting_is_reported_without_a_traceback(set_env, capsys):
    set_env(BQAT_PORT="not-a-port")
    assert main(["models", "verify"]) == 2
    assert "BQAT_PORT" in capsys.readouterr().err


def test_the_console_script_runs_in_its_own_process(shared):
    bqat = os.path.join(os.path.dirname(sys.executable), "bqat")
    done = subprocess.run([bqat, "models", "verify", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == len(MODELS)


def test_assess_prints_one_json_record_per_file_and_reports_bad_files(samples, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_text("not an image")
    faces = sorted((samples / "face").glob("*.jpg"))[:2]
    code = main(
        ["assess", "--modality", "face", "--option", "confidence=0.5", *map(str, faces), str(bad)]
    )
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 1
    assert [r["file"] for r in records] == [str(p) for p in faces]
    assert all(r["face_count"] == 1 for r in records)
    assert "broken.jpg" in captured.err and "not a supported image" in captured.err


def test_assess_refuses_an_unknown_option(samples, capsys):
    face = next((samples / "face").glob("*.jpg"))
    assert main(["assess", "--modality", "face", "--option", "colour=1", str(face)]) == 2
    assert "colour" in capsys.readouterr().err
