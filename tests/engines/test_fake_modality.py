"""A modality added from outside bqat (tests/fake_modality.py) and registered, nothing else:
it gets records with measure errors, a store schema, scans, an API row model, a /specification
entry, outliers and a report section, without a line changed in those modules."""

from __future__ import annotations

import json

import pytest
from litestar.testing import TestClient

import bqat
from bqat.outliers import read_outliers
from bqat.report_files import report_path
from bqat.store import Store
from bqat.store.schema import row_schema


@pytest.fixture
def tallies(tmp_path):
    folder = tmp_path / "tallies"
    folder.mkdir()
    for name, text in {
        "a.tally": "10 20 30",
        "b.tally": "90 95",
        "c.tally": "42",  # one number: no spread
        "d.tally": "",  # empty: no mean (not applicable, not a failure)
        "e.tally": "7 eleven",  # not a tally: an error row
        "notes.txt": "ignored",
    }.items():
        (folder / name).write_text(text)
    return folder


def test_a_record_says_which_measure_failed_and_why(tally_modality, tallies):
    record = bqat.assess(tallies / "c.tally", tally_modality)
    assert record["tally_mean"] == 42.0 and record["tally_mean_scalar"] == 42
    assert record["spread"] is None
    assert record["measure_errors"] == {"spread": "the spread needs at least two numbers"}
    empty = bqat.assess(tallies / "d.tally", tally_modality)
    assert empty["tally_mean"] is None and empty["label"] is None  # not applicable: no reason
    assert empty["measure_errors"] == {"spread": "the spread needs at least two numbers"}
    assert bqat.assess(tallies / "a.tally", tally_modality, high=10)["label"] == "high"
    with pytest.raises(bqat.ConfigError, match="tally options"):
        bqat.assess(tallies / "a.tally", tally_modality, confidence=0.5)


def test_the_declarations_give_the_specification_and_the_store_schema(tally_modality):
    spec = bqat.specification(tally_modality)
    assert list(spec) == ["file", "count", "tally_mean", "tally_mean_scalar", "spread", "label"]
    assert spec["tally_mean"]["unit"] == "points" and spec["tally_mean_scalar"]["range"] == [0, 100]
    schema = row_schema(tally_modality)
    assert str(schema.field("count").type) == "int64"
    assert str(schema.field("label").type) == "string"
    assert "measure_errors" in schema.names


def test_a_scan_stores_rows_errors_outliers_and_a_report(tally_modality, tallies, prefect_server):
    summary = bqat.scan(tallies, tally_modality, dataset_id="tallies")
    assert (summary.discovered, summary.assessed, summary.failed) == (5, 4, 1)
    rows = {r["file"]: r for r in bqat.profiles("tallies")}
    assert rows["c.tally"]["measure_errors"] == {"spread": "the spread needs at least two numbers"}
    assert rows["a.tally"]["measure_errors"] == {} and rows["a.tally"]["spread"] == 20.0
    assert bqat.errors("tallies") == [
        {"file": "e.tally", "reason": "not a tally: a word is not a number"}
    ]
    outliers = read_outliers("tallies")
    assert outliers is not None and set(outliers["columns"]) == {"count", "tally_mean", "spread"}
    html = report_path("tallies").read_text()
    assert "Mean of the numbers; null for an empty tally." in html
    assert "<code>spread</code>" in html and "the spread needs at least two numbers" in html

    from api.app import create_app

    with TestClient(create_app()) as client:
        page = client.get("/scan/tallies/profiles", params={"order_by": "file"}).json()
        assert [i["file"] for i in page["items"]] == ["a.tally", "b.tally", "c.tally", "d.tally"]
        assert page["items"][2]["measure_errors"] == {
            "spread": "the spread needs at least two numbers"
        }
        spec = client.get("/specification", params={"modality": tally_modality}).json()
        assert spec["label"]["values"] == ["low", "high"]
        schemas = client.get("/docs/openapi.json").json()["components"]["schemas"]
        row = next(v for k, v in schemas.items() if k.endswith("TallyRow"))
        assert {"count", "tally_mean", "tally_mean_scalar", "measure_errors"} <= set(
            row["properties"]
        )
    assert Store().dataset("tallies").modality == tally_modality
    json.dumps(rows)
