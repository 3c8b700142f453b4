"""Imports of other tools' results: NIST NFIQ 2's and OFIQ's CSV built here, our own export."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy.stats import ks_2samp

from bqat import ConfigError, InputError, import_results, specification
from bqat.imports import FORMULA_START, NFIQ2_COLUMNS, OFIQ_MEASURES, mapping
from bqat.store import Store

FINGERPRINTS = ["00007_01.bmp", "00007_02.bmp", "00007_03.bmp", "stateless_finger.png"]


@pytest.fixture(scope="module")
def nist(shared: Path) -> dict[str, dict[str, str]]:
    found = json.loads((shared / "reference" / "nfiq2-nist-outputs.json").read_text())
    return {name: found[name] for name in FINGERPRINTS}


def nfiq2_csv(nist: dict[str, dict[str, str]], path: Path) -> Path:
    """The CSV as `nfiq2 -a -v` prints it: Filename and OptionalError quoted, NA when absent."""
    columns = list(next(iter(nist.values())))
    lines = [",".join(['"Filename"', *(f'"{c}"' if c == "OptionalError" else c for c in columns)])]
    for name, values in nist.items():
        cells = [f'"{values[c]}"' if c == "OptionalError" else values[c] for c in columns]
        lines.append(",".join([f'"{name}"', *cells]))
    path.write_text("\n".join(lines) + "\n")
    return path


OFIQ_NAMES = [
    "UnifiedQualityScore",
    "Sharpness",
    "InterEyeDistance",
    "HeadSize",
    "EyesOpen",
    "LuminanceMean",
    "HeadPoseYaw",
]


def ofiq_csv(path: Path, rows: list[tuple[str, list[str], list[str]]]) -> Path:
    """As OFIQSampleApp writes it: `;`, raw values then `.scalar` ones, a `;` ending the header
    only."""
    header = "Filename;" + "".join(f"{n};" for n in OFIQ_NAMES)
    header += "".join(f"{n}.scalar;" for n in OFIQ_NAMES)
    lines = [header] + [";".join([file, *raw, *scalar]) for file, raw, scalar in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def stored(dataset_id: str) -> list[dict]:
    table, _ = Store().rows(dataset_id)
    return table.to_pylist()


def test_an_nfiq2_csv_maps_score_feedback_and_features_and_keeps_the_rest(nist, tmp_path):
    summary = import_results(nfiq2_csv(nist, tmp_path / "nist.csv"), "fingerprint")
    assert summary.source == "nfiq2" and summary.rows == 4
    assert summary.extra == [
        "nfiq2_finger_code",
        "nfiq2_optional_error",
        "nfiq2_quantized",
        "nfiq2_resampled",
    ]
    declared = specification("fingerprint")
    assert set(summary.mapped) | {"FingerCode", "OptionalError", "Quantized", "Resampled"} == set(
        next(iter(nist.values()))
    )
    assert all(ours in declared for ours in summary.mapped.values())
    by_file = {row["file"]: row for row in stored(summary.dataset_id)}
    for name, values in nist.items():
        row = by_file[name]
        assert row["nfiq2"] == int(values["QualityScore"])
        assert row["fda_bin10_3"] == int(values["FDA_Bin10_3"])
        assert row["orientation_map_roi_filter_coherence_sum"] == float(
            values["OrientationMap_ROIFilter_CoherenceSum"]
        )
        assert row["uniform_image"] == float(values["UniformImage"])
        assert row["nfiq2_optional_error"] == values["OptionalError"]
        assert json.loads(row["measure_errors"]) == {}


def test_the_nfiq2_mapping_covers_every_declared_nist_feature():
    table = mapping("nfiq2", "fingerprint")
    assert len(table) == len(NFIQ2_COLUMNS) + 69  # NFIQ 2 v2.3's native features
    assert table["FJFXPos_OCL_MinutiaeQuality_80"] == "fjfx_pos_ocl_minutiae_quality_80"


def test_an_imported_nfiq2_dataset_reports_finds_outliers_and_drifts_against_a_scan(
    nist, tmp_path, samples
):
    from bqat.drift import compare
    from bqat.outliers import detect
    from bqat.report import write_report
    from bqat.scanning import WorkItem, assess_batch

    imported = import_results(nfiq2_csv(nist, tmp_path / "nist.csv"), "fingerprint", "nist")
    store = Store()
    store.create_dataset("scan", "fingerprint")
    items = [
        WorkItem(path=str(samples / "fingerprint" / n), name=n, sha256="0" * 64)
        for n in FINGERPRINTS
    ]
    assert assess_batch(store, "scan", "fingerprint", items, {}).assessed == 4

    assert "nist" in write_report(imported.dataset_id).read_text()
    found = detect("nist", columns=["nfiq2", "mu", "uniform_image"], store=store)
    assert found.rows == 4 and not found.excluded
    columns = ["nfiq2", "uniform_image", "mu", "fda_bin10_mean"]
    summary, _ = compare("nist", "scan", columns, store=store)
    assert set(summary.columns) == set(columns) and not summary.excluded
    for name in ("uniform_image", "mu", "fda_bin10_mean"):  # NIST's values against ours
        assert summary.columns[name].method == "K-S p_value"
        theirs = [float(nist[n][NIST_NAMES[name]]) for n in FINGERPRINTS]
        ours = store.table("scan", [name]).column(0).to_pylist()
        assert summary.columns[name].score == pytest.approx(ks_2samp(ours, theirs).pvalue)


NIST_NAMES = {"uniform_image": "UniformImage", "mu": "Mu", "fda_bin10_mean": "FDA_Bin10_Mean"}


def test_an_ofiq_csv_maps_its_columns_as_declared(tmp_path):
    rows = [
        (
            "faces/a.jpg",
            ["0.5", "12.25", "88.125", "0.44", "0.11", "0.52", "-3.5"],
            ["40", "70", "96", "100", "100", "100", "98"],
        ),
        (  # EyesOpen failed: OFIQ writes -1 as its component
            '=HYPERLINK("http://x")',
            ["0.25", "3", "61", "0.5", "0", "0.4", "12"],
            ["20", "30", "60", "99", "-1", "90", "40"],
        ),
    ]
    summary = import_results(ofiq_csv(tmp_path / "ofiq.csv", rows), "face", "ofiq")
    assert summary.source == "ofiq"
    assert summary.mapped == {
        "InterEyeDistance": "iso_inter_eye_distance",
        "HeadSize": "iso_head_size",
        "EyesOpen": "iso_eyes_open",
        "LuminanceMean": "iso_luminance_mean",
        "InterEyeDistance.scalar": "iso_inter_eye_distance_scalar",
        "HeadSize.scalar": "iso_head_size_scalar",
        "EyesOpen.scalar": "iso_eyes_open_scalar",
    }
    assert summary.extra == [
        "ofiq_unified_quality_score",
        "ofiq_sharpness",
        "ofiq_head_pose_yaw",
        "ofiq_unified_quality_score_scalar",
        "ofiq_sharpness_scalar",
        "ofiq_luminance_mean_scalar",
        "ofiq_head_pose_yaw_scalar",
    ]
    first, second = sorted(stored("ofiq"), key=lambda r: r["file"] != "faces/a.jpg")
    assert (first["iso_inter_eye_distance"], first["iso_inter_eye_distance_scalar"]) == (88.125, 96)
    assert first["iso_sharpness"] is None and first["ofiq_sharpness"] == "12.25"
    assert first["yaw_degree"] is None and first["ofiq_head_pose_yaw"] == "-3.5"
    assert second["file"] == '=HYPERLINK("http://x")'  # text, never evaluated
    assert second["iso_eyes_open"] is None and second["iso_eyes_open_scalar"] is None
    reasons = json.loads(second["measure_errors"])
    assert set(reasons) == {"iso_eyes_open", "iso_eyes_open_scalar"}
    assert "EyesOpen failed" in reasons["iso_eyes_open"]


def test_ofiq_components_are_mapped_only_where_ours_are_ofiqs():
    declared = specification("face")
    for measure in OFIQ_MEASURES.values():
        ours = measure.ours
        assert ours in declared and declared[ours]["clause"].startswith("ISO/IEC 29794-5")
        description = str(declared[ours]["description"])
        assert "Raw value and component ours" not in description
        assert ("Component ours" not in description) == measure.component, ours


def test_ofiq_illumination_uniformity_is_kept_and_only_single_face_presents_component_mapped(
    tmp_path,
):
    from bqat.measures.declaration import Linear

    # OFIQ (OFIQlib/modules/measures/src/SingleFacePresent.cpp): raw f = second-largest over
    # largest face area, scalar round(100 (1 - f)); IlluminationUniformity: raw x, round(100 x^0.3).
    names = ["IlluminationUniformity", "SingleFacePresent"]
    header = "Filename;" + "".join(f"{n};" for n in names)
    header += "".join(f"{n}.scalar;" for n in names)
    lines = [header, "one.jpg;0.7;0;90;100", "two.jpg;0.2;0.25;62;75", "none.jpg;0;0;-1;-1"]
    (tmp_path / "ofiq.csv").write_text("\n".join(lines) + "\n")
    summary = import_results(tmp_path / "ofiq.csv", "face", "faces", "ofiq")
    assert summary.mapped == {"SingleFacePresent.scalar": "iso_single_face_present_scalar"}
    assert summary.extra == [
        "ofiq_illumination_uniformity",
        "ofiq_single_face_present",
        "ofiq_illumination_uniformity_scalar",
    ]
    rows = {row["file"]: row for row in stored("faces")}
    ours = specification("face")["iso_single_face_present"]["component"]
    assert ours == Linear(scale=100).describe()  # of our raw value 1 - f: OFIQ's scalar
    assert [rows[f]["iso_single_face_present_scalar"] for f in ("one.jpg", "two.jpg")] == [
        Linear(scale=100)(1 - 0.0),
        Linear(scale=100)(1 - 0.25),
    ]
    assert rows["two.jpg"]["iso_single_face_present"] is None
    assert rows["two.jpg"]["ofiq_single_face_present"] == "0.25"
    assert rows["one.jpg"]["iso_illumination_uniformity"] is None
    assert rows["one.jpg"]["ofiq_illumination_uniformity_scalar"] == "90"
    assert rows["none.jpg"]["iso_single_face_present_scalar"] is None
    assert "SingleFacePresent failed" in rows["none.jpg"]["measure_errors"]


def test_unparseable_mapped_cells_are_row_errors_not_file_failures(nist, tmp_path):
    first = dict(nist[FINGERPRINTS[0]], QualityScore="=1+2", UniformImage="")
    broken = {**nist, FINGERPRINTS[0]: first}
    summary = import_results(nfiq2_csv(broken, tmp_path / "nist.csv"), "fingerprint")
    assert summary.rows == 4
    row = next(r for r in stored(summary.dataset_id) if r["file"] == FINGERPRINTS[0])
    assert row["nfiq2"] is None and row["uniform_image"] is None
    reasons = json.loads(row["measure_errors"])
    assert "'=1+2' is not a number" in reasons["nfiq2"] and "line 2" in reasons["nfiq2"]
    assert "empty in the imported file" in reasons["uniform_image"]


def export(table: pa.Table, kind: str) -> bytes:
    """Our export, as GET /scan/{id}/profiles?format= writes it."""
    from api.routes.results import csv_safe
    from bqat.verdicts import joined_components

    buffer = io.BytesIO()
    if kind == "csv":
        pacsv.write_csv(csv_safe(joined_components(table)), buffer)
    else:
        pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_our_export_round_trips_exactly(kind, tmp_path):
    store = Store()
    store.create_dataset("original", "face")
    rows = [
        {
            "file": "=cmd|' /C calc'!A0",
            "sha256": "ab" * 32,
            "engine_version": "1.2.3",
            "models": {"yunet": "cd" * 32},
            "options": {"confidence": 0.7},
            "measure_errors": {"iso_sharpness": "no face"},
            "face_count": 0,
            "brightness": 0.1,
            "contrast": 1e-300,
            "smile": None,
        },
        {
            "file": 'sub/b, "quoted".jpg',
            "sha256": "ef" * 32,
            "engine_version": "1.2.3",
            "models": {},
            "options": {},
            "measure_errors": {},
            "face_count": 1,
            "brightness": 123.456789012345,
            "yaw_pose": "Left",
            "smile": True,
        },
    ]
    store.append("original", rows=rows)
    before, _ = store.rows("original")
    path = tmp_path / f"original.{kind}"
    path.write_bytes(export(before, kind))

    summary = import_results(path, "face", "again")
    assert summary.source == "bqat" and summary.rows == 2 and summary.extra == []
    after, _ = store.rows("again")
    unstamped = [c for c in before.column_names if c not in ("dataset_id", "scanned_at")]
    assert after.select(unstamped).equals(before.select(unstamped))
    assert export(after.select(unstamped), kind) == export(before.select(unstamped), kind)


def test_extra_columns_survive_an_export_and_import_as_ours(tmp_path):
    rows = [("a.jpg", ["1"] * 7, ["2"] * 7)]
    import_results(ofiq_csv(tmp_path / "ofiq.csv", rows), "face", "ofiq")
    table, _ = Store().rows("ofiq")
    path = tmp_path / "export.csv"
    path.write_bytes(export(table, "csv"))
    summary = import_results(path, "face", "back")
    assert summary.source == "bqat" and "ofiq_sharpness" in summary.extra
    assert stored("back")[0]["ofiq_sharpness"] == "1"


def lines(*text: str) -> str:
    return "\n".join(text) + "\n"


NIST_HEADER = '"Filename",FingerCode,QualityScore,"OptionalError"'


@pytest.mark.parametrize(
    ("content", "source", "message"),
    [
        (
            lines(NIST_HEADER.replace(",", ";"), '"a.bmp";0;34;NA'),
            "nfiq2",
            "line 1: the header is not nfiq2's: it is separated by ';'",
        ),
        (
            lines(NIST_HEADER, '"a.bmp",0,34,NA', '"b\nc.bmp",0,30,NA'),
            None,
            "line 3, column Filename: a line break inside a quoted cell",
        ),
        (
            lines(NIST_HEADER, '"a.bmp",0,34,NA', '"b.bmp",0,30,NA', '"a.bmp",0,31,NA'),
            None,
            "line 4, column Filename: file 'a.bmp' is also on line 2",
        ),
        (
            lines(NIST_HEADER, "a.bmp;0;34;NA"),
            None,
            "line 2: 1 cells where the header names 4",
        ),
        (lines("name,score", "a,1"), None, "line 1: the header is none of"),
        (
            lines(NIST_HEADER, '"a.bmp",0,34,"NA', '"b.bmp",0,30,NA'),
            None,
            "line 2: not CSV as nfiq2 writes it",
        ),
    ],
    ids=[
        "wrong delimiter",
        "quoted newline",
        "duplicate file",
        "row with another separator",
        "unknown header",
        "unclosed quote",
    ],
)
def test_bad_files_name_the_line_and_column(content, source, message, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        import_results(path, "fingerprint", "bad", source=source)
    assert Store().datasets() == []


def test_a_file_over_the_upload_limit_is_refused_before_reading(tmp_path, set_env):
    set_env(BQAT_MAX_UPLOAD_BYTES="100")
    path = tmp_path / "big.csv"
    path.write_text(lines(NIST_HEADER, *[f'"{i}.bmp",0,34,NA' for i in range(10)]))
    with pytest.raises(InputError, match="BQAT_MAX_UPLOAD_BYTES"):
        import_results(path, "fingerprint")


def test_wrong_modality_source_and_existing_datasets_are_config_errors(nist, tmp_path):
    path = nfiq2_csv(nist, tmp_path / "nist.csv")
    with pytest.raises(ConfigError, match="fingerprint results, not face"):
        import_results(path, "face")
    with pytest.raises(ConfigError, match="unknown source 'biqt'"):
        import_results(path, "fingerprint", source="biqt")
    import_results(path, "fingerprint", "taken")
    with pytest.raises(ConfigError, match="dataset taken exists"):
        import_results(path, "fingerprint", "taken")


def test_the_formula_prefixes_are_those_the_csv_export_quotes():
    from api.routes import results

    assert FORMULA_START == results.FORMULA_START


def test_the_cli_imports_and_says_what_it_mapped(nist, tmp_path, capsys):
    from bqat.cli import main

    path = nfiq2_csv(nist, tmp_path / "nist.csv")
    assert main(["import", str(path), "--modality", "fingerprint", "--dataset", "cli"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported 4 rows of nfiq2 results into cli: 74 columns mapped")
    assert main(["import", str(path), "--modality", "fingerprint", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 4
    assert main(["import", str(path), "--modality", "fingerprint", "--dataset", "cli"]) == 2
    assert "dataset cli exists" in capsys.readouterr().err


def test_a_parquet_export_with_verdicts_keeps_them_as_extra_text(tmp_path):
    from bqat.verdicts import verdict_rows

    store = Store()
    store.create_dataset("judged", "face")
    store.append("judged", rows=[{"file": "a.jpg", "sha256": "0" * 64, "face_count": 1}])
    table, _ = verdict_rows(store, "judged", profile=None, verdict=None, order_by=[], filters=[])
    path = tmp_path / "judged.parquet"
    pq.write_table(table, path)  # failed_components is a list column
    summary = import_results(path, "face", "again")
    assert summary.extra == ["verdict", "failed_components", "unknown_components"]
    row = stored("again")[0]
    assert row["verdict"] == table.column("verdict")[0].as_py()
    assert json.loads(row["unknown_components"]) == table.column("unknown_components")[0].as_py()


def test_of_two_imports_racing_for_one_new_id_one_is_stored_whole_the_other_refused(
    tmp_path, monkeypatch
):
    import threading

    from bqat.imports import columns

    def ofiq_file(name: str, extra: str, files: list[str]) -> Path:
        header = f"Filename;InterEyeDistance;{extra};InterEyeDistance.scalar;"
        lines = [header, *(f"{file};88;1;90" for file in files)]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        return tmp_path / name

    files = {"a": ["a1.jpg", "both.jpg"], "b": ["b1.jpg", "b2.jpg", "both.jpg"]}
    paths = {
        "a": ofiq_file("a.csv", "Sharpness", files["a"]),
        "b": ofiq_file("b.csv", "HeadPoseYaw", files["b"]),
    }
    both_checked = threading.Barrier(2, timeout=30)
    check = columns.check

    def check_then_wait(*args):  # both have found the id free before either creates it
        check(*args)
        both_checked.wait()

    monkeypatch.setattr(columns, "check", check_then_wait)
    outcome: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            outcome[name] = import_results(paths[name], "face", "raced", "ofiq")
        except Exception as exc:  # the outcome is the test's to judge
            outcome[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    refused = [name for name, got in outcome.items() if isinstance(got, ConfigError)]
    assert len(refused) == 1, outcome
    assert "dataset raced exists" in str(outcome[refused[0]])
    (winner,) = set(paths) - set(refused)
    assert outcome[winner].rows == len(files[winner])
    rows = stored("raced")
    assert sorted(row["file"] for row in rows) == sorted(files[winner])
    assert Store().dataset("raced").rows == len(files[winner])
