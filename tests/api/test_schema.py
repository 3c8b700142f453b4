"""The OpenAPI schema: the declarations it carries, and Schemathesis against it (no 5xx).

Requests go through the app's own test client, so that its lifespan (the Prefect connection)
runs, and every test gets a fresh BQAT_HOME with one small dataset `ds` in it.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar.testing import TestClient
from schemathesis.checks import not_a_server_error

import api.schemas
from api.app import create_app
from bqat.measures import available_modalities, specification
from bqat.settings import get_settings
from bqat.store import Store

schema = schemathesis.openapi.from_dict(create_app().openapi_schema.to_schema())


@pytest.fixture
def stored(client, tmp_path_factory):
    # Generated requests include DELETE /datasets/{id}: they must only ever meet a throw-away
    # BQAT_HOME (tests/conftest.py gives each test its own), never live data.
    assert get_settings().home.resolve().is_relative_to(tmp_path_factory.getbasetemp().resolve())
    store = Store()
    store.create_dataset("ds", "face")
    store.append("ds", rows=[{"file": "a.jpg", "sha256": "0" * 64, "ipd": 50}])
    return client


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, stored):
    response = stored.request(**case.as_transport_kwargs(base_url=str(stored.base_url)))
    case.validate_response(response, checks=[not_a_server_error])


def _components(app) -> dict:
    return app.openapi_schema.to_schema()["components"]["schemas"]


def test_the_row_model_carries_each_declaration():
    """Description and unit (in the description), range as minimum/maximum, an example."""
    declared = specification("face")
    rows = _components(create_app())["FaceRow"]["properties"]
    closed = [
        n
        for n, e in declared.items()
        if e["unit"] and e["range"] and None not in e["range"] and e["type"] == "number"
    ]
    assert closed, "no face measure with a unit and a closed range"
    for name in closed:
        entry, field = declared[name], rows[name]
        assert str(entry["description"]) in field["description"]
        assert f"Unit: {entry['unit']}." in field["description"]
        low, high = entry["range"]
        assert (field["minimum"], field["maximum"]) == (low, high)
        assert low <= field["examples"][0] <= high
        assert {"type": "null"} in field["oneOf"]
    assert rows["ipd"]["minimum"] == 0 and "maximum" not in rows["ipd"]  # open above
    assert rows["yaw_pose"]["enum"] == ["Left", "Right", "Forward", None]
    assert rows["yaw_pose"]["examples"] == ["Left"]
    assert rows["file"]["examples"] == ["subject_0001.jpg"]
    errors = rows["measure_errors"]
    assert errors["type"] == "object" and errors["additionalProperties"] == {"type": "string"}
    assert "could not be computed" in errors["description"]
    assert set(declared) <= set(rows)


def test_the_profiles_page_lists_row_models():
    schema = create_app().openapi_schema.to_schema()
    response = schema["paths"]["/scan/{dataset_id}/profiles"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProfilesPage"
    }
    items = schema["components"]["schemas"]["ProfilesPage"]["properties"]["items"]["items"]
    rows = [{"$ref": f"#/components/schemas/{m.capitalize()}Row"} for m in available_modalities()]
    assert items == (rows[0] if len(rows) == 1 else {"oneOf": rows})


def test_the_specification_response_is_typed():
    app = create_app()
    schema = app.openapi_schema.to_schema()
    response = schema["paths"]["/specification"]["get"]["responses"]["200"]
    one_modality, every_modality = response["content"]["application/json"]["schema"]["oneOf"]
    ref = {"$ref": "#/components/schemas/MeasureSpec"}
    assert one_modality["additionalProperties"] == ref
    assert every_modality["additionalProperties"]["additionalProperties"] == ref
    spec = schema["components"]["schemas"]["MeasureSpec"]
    assert set(spec["required"]) == {
        "modality",
        "type",
        "unit",
        "range",
        "direction",
        "description",
        "clause",
    }
    assert {"values", "component", "example"} <= set(spec["properties"])
    # The JSON is what it was: the declarations as they are, `values`/`component` only if set.
    client = TestClient(app)
    assert client.get("/specification", params={"modality": "face"}).json() == specification("face")
    assert client.get("/specification").json() == {
        m: specification(m) for m in available_modalities()
    }


def test_a_modality_registered_before_the_app_gets_a_row_model(monkeypatch):
    tiny = {
        "file": {"modality": "tiny", "type": "string", "unit": None, "range": None,
                 "direction": "none", "description": "Path.", "clause": None},
        "loudness": {"modality": "tiny", "type": "number", "unit": "LUFS",
                     "range": [-70, 0], "direction": "none",
                     "description": "Integrated loudness.", "clause": "ITU-R BS.1770-4"},
        "hum": {"modality": "tiny", "type": "boolean", "unit": None, "range": None,
                "direction": "none", "description": "Mains hum.", "clause": None},
    }  # fmt: skip
    real = api.schemas.specification
    monkeypatch.setattr(api.schemas, "available_modalities", lambda: ["face", "tiny"])
    monkeypatch.setattr(api.schemas, "specification", lambda m: tiny if m == "tiny" else real(m))
    schemas = _components(create_app())
    row = schemas["TinyRow"]["properties"]
    assert list(row)[-2:] == ["loudness", "hum"]
    assert "measure_errors" in row and "dataset_id" in row
    assert row["loudness"]["description"] == "Integrated loudness. Unit: LUFS."
    assert (row["loudness"]["minimum"], row["loudness"]["maximum"]) == (-70, 0)
    assert row["loudness"]["examples"] == [-35.0]
    assert row["hum"]["examples"] == [False]
    items = schemas["ProfilesPage"]["properties"]["items"]["items"]["oneOf"]
    assert {"$ref": "#/components/schemas/TinyRow"} in items
    assert {"$ref": "#/components/schemas/FaceRow"} in items
