import re
from pathlib import Path

import pytest
from prefect import flow
from prefect.context import FlowRunContext

from bqat import ConfigError
from bqat.settings import get_settings, known_variables
from flows.runners import ConfiguredTaskRunner


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


def test_an_unknown_variable_is_refused_naming_the_closest_setting(set_env):
    set_env(BQAT_FILE_TIMEOUT="5")
    with pytest.raises(ConfigError) as refused:
        get_settings()
    assert str(refused.value) == (
        "unknown setting BQAT_FILE_TIMEOUT; did you mean BQAT_FILE_TIMEOUT_S?"
    )


def test_names_are_matched_case_insensitively_like_the_settings_themselves(set_env):
    set_env(bqat_prot="9000")
    with pytest.raises(ConfigError, match="unknown setting bqat_prot; did you mean BQAT_PORT"):
        get_settings()


def test_an_unknown_variable_like_no_setting_lists_the_known_ones(set_env):
    set_env(BQAT_COLOUR="blue")
    with pytest.raises(ConfigError, match=r"unknown setting BQAT_COLOUR; known: BQAT_API_KEY, "):
        get_settings()


def test_known_variables_are_accepted(set_env, tmp_path):
    set_env(BQAT_FILE_TIMEOUT_S="5", BQAT_KEEP_SCREENSHOTS=str(tmp_path))
    settings = get_settings()
    assert (settings.file_timeout_s, settings.keep_screenshots) == (5.0, tmp_path)


def test_the_cli_reports_an_unknown_variable_on_one_line_before_any_verb(set_env, capsys):
    from bqat.cli import main

    set_env(BQAT_FILE_TIMEOUT="5")
    assert main(["models", "list"]) == 2  # a verb that reads no setting itself
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "bqat: error: unknown setting BQAT_FILE_TIMEOUT; did you mean BQAT_FILE_TIMEOUT_S?\n"
    )


def test_the_readme_documents_exactly_the_known_settings():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(BQAT_[A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(documented) == known_variables()


def test_the_scan_flow_reads_its_task_runner_when_it_runs_not_when_imported(set_env):
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.runners import ConfiguredTaskRunner
    from flows.scan import scan_dataset

    assert isinstance(scan_dataset.task_runner, ConfiguredTaskRunner)
    set_env(BQAT_TASK_RUNNER="dask://scheduler:8786")  # after the import
    runner = scan_dataset.task_runner.duplicate()  # what Prefect enters for each run
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://scheduler:8786"
    set_env(BQAT_TASK_RUNNER="threads")
    assert isinstance(scan_dataset.task_runner.duplicate(), ThreadPoolTaskRunner)


@flow(task_runner=ConfiguredTaskRunner())
def _configured_flow() -> tuple[str, str | None]:
    """The task runner this run got: its class and its Dask address."""
    runner = FlowRunContext.get().task_runner
    return type(runner).__name__, getattr(runner, "address", None)


def test_a_flow_run_uses_the_runner_configured_when_it_starts(prefect_server, set_env):
    # The address is never dialled: a Dask runner connects on its first task, and none runs.
    set_env(BQAT_TASK_RUNNER="dask://127.0.0.1:1")
    assert _configured_flow() == ("DaskTaskRunner", "tcp://127.0.0.1:1")
    set_env(BQAT_TASK_RUNNER="threads")
    assert _configured_flow() == ("ThreadPoolTaskRunner", None)
