from pathlib import Path

import pytest

from bqat import ConfigError
from bqat.settings import get_settings


def test_defaults_match_the_documented_ports_and_runner():
    settings = get_settings()
    assert settings.port == 8848
    assert settings.prefect_port == 4200
    assert settings.task_runner == "threads"
    assert settings.execution_provider == "auto"


def test_data_root_splits_on_colons(set_env):
    set_env(BQAT_DATA_ROOT="/srv/a:/srv/b")
    assert get_settings().data_root == [Path("/srv/a"), Path("/srv/b")]


def test_numbers_are_parsed_from_the_environment(set_env):
    set_env(BQAT_PORT="9000", BQAT_MAX_IMAGE_PIXELS="1000", BQAT_FILE_TIMEOUT_S="2.5")
    settings = get_settings()
    assert (settings.port, settings.max_image_pixels, settings.file_timeout_s) == (9000, 1000, 2.5)


def test_the_api_key_never_shows_in_its_repr(set_env):
    set_env(BQAT_API_KEY="s3cret")
    settings = get_settings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BQAT_PORT", "70000"),
        ("BQAT_THREADS", "0"),
        ("BQAT_TASK_RUNNER", "processes"),
        ("BQAT_EXECUTION_PROVIDER", "tpu"),
        ("BQAT_MAX_IMAGE_PIXELS", "many"),
    ],
)
def test_an_invalid_setting_is_a_config_error_naming_the_variable(set_env, name, value):
    set_env(**{name: value})
    with pytest.raises(ConfigError, match=name):
        get_settings()


def test_a_dask_address_is_a_valid_task_runner(set_env):
    set_env(BQAT_TASK_RUNNER="dask://scheduler:8786")
    assert get_settings().task_runner == "dask://scheduler:8786"


def test_an_empty_api_key_means_no_key(set_env):
    set_env(BQAT_API_KEY="", BQAT_PUBLIC_URL="")
    settings = get_settings()
    assert settings.api_key is None and settings.public_url is None
    assert settings.api_url == "http://127.0.0.1:8848"
