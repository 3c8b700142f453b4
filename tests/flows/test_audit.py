"""Audits: a folder rescanned into dated datasets, drift against the previous one, schedules."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from bqat import ConfigError
from bqat.cli import main
from bqat.report_files import drift_paths
from bqat.store import Store
from flows.audit import audit_dataset_id, audit_folder, previous_audit
from flows.deployments import WORK_POOL, schedule_audit


@pytest.fixture
def folder(tmp_path, samples, set_env):
    set_env(BQAT_DATA_ROOT=str(tmp_path))  # an audited folder lies inside a data root
    root = tmp_path / "faces"
    root.mkdir()
    for path in sorted((samples / "face").glob("*.jpg"))[:4]:
        shutil.copy(path, root / path.name)
    return root


def test_the_second_audit_reports_drift_against_the_first(folder):
    first = audit_folder(str(folder), "face", "gate")
    assert first["reference_id"] is None and first["drift"] is None
    assert first["scan"]["assessed"] == 4 and first["dataset_id"].startswith("audit-gate-")

    second = audit_folder(str(folder), "face", "gate")
    assert second["reference_id"] == first["dataset_id"]
    assert second["scan"]["assessed"] == 4  # a new dataset: nothing to skip
    drift = second["drift"]
    assert drift["dataset_id"] == second["dataset_id"] and isinstance(drift["drifted"], bool)
    # The same images twice: no column can drift.
    assert drift["share_drifted"] == 0.0 and not drift["drifted"]
    html, summary = drift_paths(second["dataset_id"], first["dataset_id"])
    assert html.stat().st_size > 10_000 and json.loads(summary.read_text()) == drift
    with get_client(sync_client=True) as client:
        key = f"drift-{second['dataset_id']}".lower()
        artifact = client.read_latest_artifacts()
        links = [a for a in artifact if a.key == key]
    assert links and f"/scan/{second['dataset_id']}/drift?reference=" in str(links[0].data)


def test_the_previous_audit_is_the_latest_older_one_of_the_same_name():
    store = Store()
    ids = [audit_dataset_id("gate", datetime(2026, 1, day, tzinfo=UTC)) for day in (1, 2, 3)] + [
        audit_dataset_id("gate-1", datetime(2026, 1, 2, 12, tzinfo=UTC)),
        "audit-gate-by-hand",
    ]
    for dataset_id in ids:
        store.create_dataset(dataset_id, "face")
    assert previous_audit("gate", before=ids[2]) == ids[1]
    assert previous_audit("gate", before=ids[0]) is None
    assert previous_audit("gate-1", before=ids[2]) == ids[3]


def test_an_audit_schedule_is_a_cron_deployment_on_the_work_pool(folder, capsys):
    assert (
        main(
            [
                "audit",
                "schedule",
                str(folder),
                "--modality",
                "face",
                "--cron",
                "0 2 * * 1",
                "--timezone",
                "Europe/Paris",
                "--json",
            ]
        )
        == 0
    )
    scheduled = json.loads(capsys.readouterr().out)
    assert scheduled["deployment"] == "audit-folder/faces"
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("audit-folder/faces")
    assert deployment.work_pool_name == WORK_POOL
    assert deployment.entrypoint == "flows.audit.audit_folder"
    assert deployment.parameters == {
        "folder": str(folder.resolve()),
        "modality": "face",
        "name": "faces",
        "options": {},
    }
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * 1", "Europe/Paris")
    assert schedule.active


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "every monday"}, "invalid schedule"),
        ({"cron": "0 2 * * 1", "modality": "retina"}, "unknown modality"),
        ({"cron": "0 2 * * 1", "name": "../up"}, "invalid audit name"),
    ],
)
def test_bad_schedules_are_refused_before_anything_is_created(folder, kwargs, message):
    arguments = {"folder": folder, "modality": "face", **kwargs}
    with pytest.raises(ConfigError, match=message):
        schedule_audit(**arguments)


def test_a_missing_folder_or_server_is_a_clear_error(folder, tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        schedule_audit(tmp_path / "absent", "face", "0 2 * * 1")
    unreachable = {PREFECT_API_URL: "http://127.0.0.1:9/api"}
    with (
        temporary_settings(updates=unreachable),
        pytest.raises(ConfigError, match="start `bqat serve` first"),
    ):
        schedule_audit(folder, "face", "0 2 * * 1")


def test_the_drift_verb_writes_the_report_and_prints_json(folder, tmp_path, capsys):
    first = audit_folder(str(folder), "face", "cli")["dataset_id"]
    second = audit_folder(str(folder), "face", "cli")["dataset_id"]
    output = tmp_path / "drift.html"
    assert main(["drift", second, "--reference", first, "-o", str(output), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["dataset_id"], summary["reference_id"]) == (second, first)
    assert output.read_text().lstrip().lower().startswith("<!doctype html")
    assert main(["drift", second, "--reference", "nope"]) == 2
    assert "unknown dataset nope" in capsys.readouterr().err
