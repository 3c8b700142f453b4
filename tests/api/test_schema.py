"""Schemathesis against the OpenAPI schema: generated requests to every route, no 5xx.

Requests go through the app's own test client, so that its lifespan (the Prefect connection)
runs, and every test gets a fresh BQAT_HOME with one small dataset `ds` in it.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from bqat.store import Store

schema = schemathesis.openapi.from_dict(create_app().openapi_schema.to_schema())


@pytest.fixture
def stored(client):
    store = Store()
    store.create_dataset("ds", "face")
    store.append("ds", rows=[{"file": "a.jpg", "sha256": "0" * 64, "ipd": 50}])
    return client


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, stored):
    response = stored.request(**case.as_transport_kwargs(base_url=str(stored.base_url)))
    case.validate_response(response, checks=[not_a_server_error])
