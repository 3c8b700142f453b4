"""The registry agrees with ../shared/models/README.md and finds, checks and refuses files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bqat import ModelError
from bqat.models import MODELS, resolve, verify


def readme_table(shared: Path) -> dict[str, tuple[int, str]]:
    """file -> (bytes, sha256) from the table in shared/models/README.md."""
    rows = {}
    for line in (shared / "models" / "README.md").read_text().splitlines():
        match = re.match(r"\|\s*(\S+\.onnx)\s*\|\s*([\d,]+)\s*\|\s*([0-9a-f]{64})\s*\|", line)
        if match:
            rows[match[1]] = (int(match[2].replace(",", "")), match[3])
    return rows


def test_every_model_in_shared_is_registered_with_its_published_size_and_sha256(shared):
    published = readme_table(shared)
    assert published, "the README table could not be read"
    registered = {spec.file: (spec.size, spec.sha256) for spec in MODELS.values()}
    assert registered == published
    on_disk = {p.name for p in (shared / "models").glob("*.onnx")}
    assert on_disk == set(registered)


def test_yunet_files_have_an_upstream_url_and_mediapipe_files_a_recipe():
    for spec in MODELS.values():
        if spec.name.startswith("yunet"):
            assert spec.upstream_url and spec.upstream_url.endswith(".onnx")
        else:
            assert spec.upstream_url is None
            assert "tf2onnx" in spec.source and "models.md" in spec.source


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
