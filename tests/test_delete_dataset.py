"""Deleting a dataset from the CLI or Python, as DELETE /datasets/{id} does: its rows and the
Prefect artifacts that summarise it go; another dataset's stay. A task of the dataset that is
queued refuses it, and an unreachable Prefect server is a clear error; both delete nothing."""

from __future__ import annotations

import json

from dataset_artifacts import count
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

import bqat
from bqat.cli import main
from bqat.store import Store


def test_the_cli_deletes_the_rows_and_the_prefect_artifacts(summarised_datasets, capsys):
    assert main(["datasets", "delete", "gone"]) == 0
    assert "deleted gone" in capsys.readouterr().out
    assert (count(summarised_datasets["gone"]), count(summarised_datasets["kept"])) == (0, 1)
    assert main(["datasets", "list", "--json"]) == 0
    assert [d["dataset_id"] for d in json.loads(capsys.readouterr().out)] == ["kept"]


def test_python_deletes_the_rows_and_the_prefect_artifacts(summarised_datasets):
    assert bqat.delete_dataset("gone") == 2
    assert (count(summarised_datasets["gone"]), count(summarised_datasets["kept"])) == (0, 1)
    assert [d.dataset_id for d in Store().datasets()] == ["kept"]


def test_an_unreachable_prefect_server_is_a_clear_error_and_nothing_is_deleted(
    summarised_datasets, capsys, free_port
):
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        assert main(["datasets", "delete", "gone"]) == 2
    error = capsys.readouterr().err
    assert "gone is not deleted: the Prefect server at" in error, error
    assert sorted(d.dataset_id for d in Store().datasets()) == ["gone", "kept"]
    assert count(summarised_datasets["gone"]) == 2


def test_a_queued_task_of_the_dataset_refuses_its_deletion(summarised_datasets, capsys):
    from prefect import flow
    from prefect.states import Cancelled, Scheduled

    from flows import names

    @flow(name=names.REPORT)
    def build_report(dataset_id: str) -> None:  # the report flow's name, never run here
        pass

    with get_client(sync_client=True) as prefect:
        run = prefect.create_flow_run(
            build_report, parameters={"dataset_id": "gone"}, state=Scheduled()
        )
        assert main(["datasets", "delete", "gone"]) == 2
        error = capsys.readouterr().err
        assert f"dataset gone is in use by task {run.id}" in error, error
        assert sorted(d.dataset_id for d in Store().datasets()) == ["gone", "kept"]
        prefect.set_flow_run_state(run.id, Cancelled(), force=True)
    assert main(["datasets", "delete", "gone"]) == 0
    assert [d.dataset_id for d in Store().datasets()] == ["kept"]
