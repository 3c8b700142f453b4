"""POST /preprocess/ into an output that an interrupted run left: the same input and options
complete it, anything else is 409, and so is an output another run holds."""

from __future__ import annotations

from bqat.preparation import check_options, claimed_output


def test_an_interrupted_output_is_taken_again_only_by_the_same_input_and_options(client, data_root):
    options = {"format": "png", "scale": 0.5}
    with claimed_output(data_root / "faces", data_root / "half", check_options(options)):
        body = {"input": "faces", "output": "half", "options": options}
        held = client.post("/preprocess/", json=body)
        assert held.status_code == 409 and "another run is writing" in held.json()["detail"]
    other = client.post("/preprocess/", json={**body, "options": {"format": "png"}})
    assert other.status_code == 409 and "not an interrupted" in other.json()["detail"]
    resumed = client.post("/preprocess/", json=body)
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["output"] == "half"
    client.post(f"/task/{resumed.json()['tid']}/cancel")
