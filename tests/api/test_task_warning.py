"""A completed scan whose samples mostly look like another modality (fingerprints scanned as
faces: no face anywhere) says so on its task, not only in the report."""

from __future__ import annotations

from prefect import flow, get_client
from prefect.states import Completed

from bqat.store import Store
from flows import names


@flow(name=names.SCAN)
def _scan_stub(dataset_id: str, modality: str) -> None:
    """Stands for the scan flow: only its name and parameters matter to GET /task/."""


def _completed_scan(dataset_id: str) -> str:
    """A flow run of `scan-dataset` that ended COMPLETED, as a worker would leave it."""
    with get_client(sync_client=True) as client:
        created = client.create_flow_run(
            _scan_stub,
            parameters={"dataset_id": dataset_id, "modality": "face"},
            state=Completed(),
        )
    return str(created.id)


def test_a_scan_of_no_faces_warns_and_a_scan_of_faces_does_not(client):
    store = Store()
    for dataset_id, faces in (("prints", 0), ("portraits", 1)):
        store.create_dataset(dataset_id, "face")
        store.append(
            dataset_id,
            rows=[{"file": f"{i}.png", "sha256": "0" * 64, "face_count": faces} for i in range(5)],
        )
    warned = client.get(f"/task/{_completed_scan('prints')}/").json()
    assert warned["state"] == "COMPLETED", warned
    assert "100% of the 5 assessed samples fail the face presence check" in warned["warning"]
    assert client.get(f"/task/{_completed_scan('portraits')}/").json().get("warning") is None
