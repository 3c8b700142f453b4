"""The API checks scan options without knowing the scan flow's defaults: `batch_size` is
validated when given and passed on only then."""

from __future__ import annotations

import uuid

import pytest
from prefect import get_client


@pytest.mark.parametrize("size", [0, 10_001, "8", True, 2.5])
def test_a_batch_size_out_of_range_or_not_an_integer_is_refused(client, size):
    response = client.post(
        "/scan/", json={"input": "faces", "modality": "face", "options": {"batch_size": size}}
    )
    assert response.status_code == 422 and "batch_size" in response.json()["detail"]


def test_the_batch_size_is_passed_only_when_given(client):
    given = client.post(
        "/scan/", json={"input": "faces", "modality": "face", "options": {"batch_size": 8}}
    )
    default = client.post("/scan/", json={"input": "faces", "modality": "face"})
    tids = [r.json()["tid"] for r in (given, default)]
    try:
        with get_client(sync_client=True) as prefect:
            parameters = [prefect.read_flow_run(uuid.UUID(tid)).parameters for tid in tids]
    finally:
        for tid in tids:
            client.post(f"/task/{tid}/cancel")
    assert parameters[0]["batch_size"] == 8
    assert "batch_size" not in parameters[1]
