"""`bqat models pull`: verified downloads into the cache, clean failures offline."""

from __future__ import annotations

import dataclasses

import pytest

from bqat import ModelError
from bqat.models import MODELS, resolve
from bqat.models.fetch import pull


@pytest.fixture
def empty_model_dir(tmp_path, set_env):
    models = tmp_path / "models"
    models.mkdir()
    set_env(BQAT_MODEL_DIR=str(models), BQAT_MODEL_CACHE_DIR=str(tmp_path / "cache"))
    return tmp_path


def test_pull_downloads_into_the_cache_and_verifies(shared, empty_model_dir):
    source = shared / "models" / MODELS["yunet_640"].file
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url=source.as_uri())
    path = pull(spec)
    assert path == empty_model_dir / "cache" / spec.file
    assert path.read_bytes() == source.read_bytes()
    assert resolve("yunet_640") == path


def test_a_download_with_the_wrong_sha256_is_discarded(shared, empty_model_dir):
    source = shared / "models" / MODELS["yunet_s_dynamic"].file
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url=source.as_uri())
    with pytest.raises(ModelError, match="discarded"):
        pull(spec)
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_pull_fails_offline_with_a_clear_message(empty_model_dir):
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url="http://127.0.0.1:9/yunet.onnx")
    with pytest.raises(ModelError, match="offline"):
        pull(spec)
    assert list((empty_model_dir / "cache").iterdir()) == []


def test_models_without_a_url_name_their_recipe(empty_model_dir):
    with pytest.raises(ModelError, match="tf2onnx"):
        pull(MODELS["face_mesh"])


def test_a_file_already_present_is_not_downloaded_again(shared, set_env):
    set_env(BQAT_MODEL_DIR=str(shared / "models"))
    spec = dataclasses.replace(MODELS["yunet_640"], upstream_url="http://127.0.0.1:9/never")
    assert pull(spec) == shared / "models" / spec.file
