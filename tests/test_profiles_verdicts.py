"""Quality profiles and verdicts: declarations checked against the measures, each threshold's
boundaries, unknown on null, the API and CLI filters, and the wrong-modality warning."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import TestClient

from bqat.cli import main
from bqat.exceptions import ConfigError
from bqat.measures import available_modalities, specification
from bqat.quality_profiles import Profile, Threshold, check_profile, get_profile, quality_profiles
from bqat.store import Store
from bqat.verdicts import judge, modality_warning, verdict_rows

MODALITIES = ("face", "fingerprint", "iris", "speech")
ARROW = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


def every_profile() -> list[Profile]:
    return [p for m in available_modalities() for p in quality_profiles(m)]


def passing_value(threshold: Threshold) -> object:
    if threshold.allowed is not None:
        return threshold.allowed[0]
    return threshold.minimum if threshold.minimum is not None else threshold.maximum


def rows_table(profile: Profile, variants: list[dict[str, object]]) -> pa.Table:
    """One row per variant: every component at a passing value, except those it sets."""
    spec = specification(profile.modality)
    base = {t.measure: passing_value(t) for t in profile.thresholds}
    rows = [{**base, **variant} for variant in variants]
    return pa.table(
        {name: pa.array([r[name] for r in rows], ARROW[str(spec[name]["type"])]) for name in base}
    )


def test_each_modality_declares_a_default_profile_of_declared_measures():
    assert set(MODALITIES) <= set(available_modalities())
    for modality in MODALITIES:
        profile = get_profile(modality)
        assert profile.modality == modality and profile.thresholds
    for profile in every_profile():
        spec = specification(profile.modality)
        for threshold in profile.thresholds:
            entry = spec[threshold.measure]  # a declared column
            assert threshold.source.strip()
            if threshold.allowed is None:
                assert entry["type"] in ("integer", "number")
                low, high = entry["range"] or (None, None)
                for bound in (threshold.minimum, threshold.maximum):
                    if bound is not None:
                        assert low is None or bound >= low, threshold
                        assert high is None or bound <= high, threshold
                if threshold.measure.endswith("_scalar"):
                    assert entry["unit"] == "score"  # a 0-100 component
            else:
                assert entry["type"] in ("boolean", "string")


@pytest.mark.parametrize(
    ("threshold", "reason"),
    [
        (Threshold("no_such_measure", "x", minimum=1), "not a declared"),
        (Threshold("nfiq2", "x", minimum=101), "outside the declared range"),
        (Threshold("file", "x", minimum=1), "numeric column"),
        (Threshold("nfiq2", "   ", minimum=1), "say where"),
        (Threshold("nfiq2", "x", minimum=50, maximum=40), "above maximum"),
        (Threshold("nfiq2", "x", allowed=(True,)), "allowed values"),
    ],
)
def test_a_threshold_the_measures_do_not_allow_is_refused(threshold, reason):
    profile = Profile("bad", "fingerprint", "Bad", "", (threshold,))
    with pytest.raises(ConfigError, match=reason):
        check_profile(profile)


@pytest.mark.parametrize("profile", every_profile(), ids=lambda p: f"{p.modality}-{p.name}")
def test_each_threshold_passes_on_its_bounds_and_fails_just_outside(profile):
    spec = specification(profile.modality)
    for threshold in profile.thresholds:
        name = threshold.measure
        step = 1 if spec[name]["type"] == "integer" else 1e-6
        variants: list[tuple[object, str]] = []
        if threshold.minimum is not None:
            variants += [(threshold.minimum, "pass"), (threshold.minimum - step, "fail")]
        if threshold.maximum is not None:
            variants += [(threshold.maximum, "pass"), (threshold.maximum + step, "fail")]
        variants.append((None, "unknown"))
        if spec[name]["type"] == "integer":
            variants = [(None if v is None else int(v), e) for v, e in variants]
        judged = judge(rows_table(profile, [{name: v} for v, _ in variants]), profile)
        columns = judged.columns()
        assert list(judged.verdicts) == [e for _, e in variants], (name, variants)
        failed = columns["failed_components"].to_pylist()
        unknown = columns["unknown_components"].to_pylist()
        for (_, expected), fails, nulls in zip(variants, failed, unknown, strict=True):
            assert fails == ([name] if expected == "fail" else [])
            assert nulls == ([name] if expected == "unknown" else [])


def test_a_failure_outweighs_a_missing_value_and_every_failure_is_named():
    profile = get_profile("fingerprint")
    table = rows_table(
        profile,
        [
            {"nfiq2": None, "fingerprint_image_with_minutiae": 4},
            {"nfiq2": 10, "sufficient_fingerprint_foreground": 10, "uniform_image": None},
            {},
        ],
    )
    judged = judge(table, profile)
    assert list(judged.verdicts) == ["fail", "fail", "pass"]
    assert judged.columns()["failed_components"].to_pylist() == [
        ["fingerprint_image_with_minutiae"],
        ["nfiq2", "sufficient_fingerprint_foreground"],
        [],
    ]
    assert judged.columns()["unknown_components"].to_pylist()[:2] == [["nfiq2"], ["uniform_image"]]
    assert judged.counts() == {"pass": 1, "fail": 2, "unknown": 0}
    assert judged.component_counts()["nfiq2"] == (1, 1)


def test_a_column_the_store_lacks_reads_as_unknown():
    profile = get_profile("speech")
    table = rows_table(profile, [{}]).drop_columns(["snr_db"])
    judged = judge(table, profile)
    assert list(judged.verdicts) == ["unknown"]
    assert judged.columns()["unknown_components"].to_pylist() == [["snr_db"]]


FINGERPRINTS = {"a.png": 34, "b.png": 35, "c.png": None, "d.png": 80}


@pytest.fixture
def fingerprints() -> Store:
    """A fingerprint dataset `fp`: nfiq2 below, at and above 35, and one null."""
    store = Store()
    store.create_dataset("fp", "fingerprint")
    profile = get_profile("fingerprint")
    good = {t.measure: passing_value(t) for t in profile.thresholds}
    store.append(
        "fp",
        rows=[
            {**good, "file": f, "sha256": "a" * 64, "nfiq2": v, "measure_errors": {}}
            for f, v in FINGERPRINTS.items()
        ],
    )
    return store


def test_verdict_rows_reads_the_store_and_filters(fingerprints):
    table, profile = verdict_rows(fingerprints, "fp", verdict="fail")
    assert profile.name == "nfiq2-35"
    assert table.column("file").to_pylist() == ["a.png"]
    everything, _ = verdict_rows(fingerprints, "fp", order_by=["-nfiq2"])
    assert everything.column("verdict").to_pylist() == ["pass", "pass", "fail", "unknown"]
    with pytest.raises(ConfigError, match="available: nfiq2-35"):
        verdict_rows(fingerprints, "fp", profile="icao-portrait")


def api_client(store: Store) -> TestClient:
    """Only the routes under test, on the test's store (no Prefect server needed)."""
    from api import errors
    from api.routes import results

    app = Litestar(
        route_handlers=[results.profiles, results.quality_profile_list],
        exception_handlers=errors.HANDLERS,  # type: ignore[arg-type]
        state=State({"store": store}),
    )
    return TestClient(app)


def test_the_api_filters_rows_by_verdict_and_lists_the_profiles(fingerprints):
    with api_client(fingerprints) as client:
        failing = client.get("/scan/fp/profiles", params={"verdict": "fail"}).json()
        assert failing["total"] == 1
        (row,) = failing["items"]
        assert (row["file"], row["verdict"], row["failed_components"]) == (
            "a.png",
            "fail",
            ["nfiq2"],
        )
        assert isinstance(row["measure_errors"], dict)  # objects, as in every other page
        page = client.get(
            "/scan/fp/profiles", params={"profile": "nfiq2-35", "offset": 1, "limit": 2}
        ).json()
        assert page["total"] == 4
        assert [(r["file"], r["verdict"], r["unknown_components"]) for r in page["items"]] == [
            ("b.png", "pass", []),
            ("c.png", "unknown", ["nfiq2"]),
        ]
        plain = client.get("/scan/fp/profiles").json()["items"][0]
        assert "verdict" not in plain  # unchanged without a profile or verdict
        exported = client.get(
            "/scan/fp/profiles", params={"format": "csv", "verdict": "unknown"}
        ).text
        (record,) = csv.DictReader(io.StringIO(exported))
        assert (record["file"], record["verdict"], record["unknown_components"]) == (
            "c.png",
            "unknown",
            "nfiq2",
        )
        refused = client.get("/scan/fp/profiles", params={"profile": "strict"})
        assert refused.status_code == 422 and "nfiq2-35" in refused.json()["detail"]
        assert client.get("/scan/fp/profiles", params={"verdict": "maybe"}).status_code == 422
        listed = client.get("/quality-profiles", params={"modality": "fingerprint"}).json()
        assert [(p["name"], p["default"]) for p in listed] == [("nfiq2-35", True)]
        nfiq2 = listed[0]["thresholds"][0]
        assert nfiq2["measure"] == "nfiq2" and nfiq2["minimum"] == 35 and nfiq2["source"]
        every = client.get("/quality-profiles").json()
        assert {p["modality"] for p in every} >= set(MODALITIES)
        assert client.get("/quality-profiles", params={"modality": "hand"}).status_code == 422


def test_the_cli_lists_verdicts_and_filters_them(fingerprints, capsys):
    assert main(["verdicts", "fp", "--verdict", "fail", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "file": "a.png",
            "verdict": "fail",
            "failed_components": ["nfiq2"],
            "unknown_components": [],
        }
    ]
    assert main(["verdicts", "fp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "verdict", "failed_components", "unknown_components"]
    assert lines[3].split() == ["c.png", "unknown", "-", "nfiq2"]
    assert main(["verdicts", "fp", "--profile", "strict"]) == 2
    assert "available: nfiq2-35" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("face_counts", "warned"),
    [([0, 0, None, 1], True), ([0, 1, 1, 2], False), ([0, 0, 1, 1], False)],
)
def test_a_dataset_of_mostly_another_modality_is_flagged(face_counts, warned):
    store = Store()
    store.create_dataset("faces", "face")
    store.append(
        "faces",
        rows=[
            {"file": f"{i}.png", "sha256": "a" * 64, "face_count": n}
            for i, n in enumerate(face_counts)
        ],
    )
    warning = modality_warning("faces", store)
    assert (warning is not None) == warned
    if warned:
        assert warning.startswith("75% of the 4 assessed samples") and "face_count" in warning


def test_a_modality_without_profiles_gets_no_warning_and_no_verdicts(tally_modality):
    store = Store()
    store.create_dataset("tallies", tally_modality)
    store.append("tallies", rows=[{"file": "a.tally", "sha256": "a" * 64}])
    assert modality_warning("tallies", store) is None
    with pytest.raises(ConfigError, match="no quality profile is declared for tally"):
        verdict_rows(store, "tallies")
