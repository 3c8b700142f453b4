"""Confinement of paths to the data roots (bqat.confinement), the checks every flow makes first
(flows.checks), the Prefect auth string of `bqat serve` and the work pool's job template; no
server is needed here (tests/test_serve.py attacks a real `bqat serve`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bqat.confinement import confine_folder, relative_name, resolve_files, resolve_folder
from bqat.exceptions import AccessError, ConfigError, NotFoundError, PathNameError
from bqat.serve import auth_file, prefect_auth, services
from bqat.settings import get_settings


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    root = tmp_path / "data"
    (root / "faces" / "deep").mkdir(parents=True)
    (root / "faces" / "a.jpg").write_bytes(b"x")
    (root / "faces" / "deep" / "b.jpg").write_bytes(b"x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "c.jpg").write_bytes(b"x")
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "faces" / "c.jpg").symlink_to(tmp_path / "outside" / "c.jpg")
    return [root]


@pytest.mark.parametrize("name", ["", "/etc", "faces/../..", "..", "a\\b"])
def test_a_name_must_be_relative_without_climbing(name):
    with pytest.raises(PathNameError):
        relative_name(name)


def test_folders_resolve_under_a_root_and_never_outside(roots):
    assert resolve_folder("faces", roots) == (roots[0] / "faces").resolve()
    assert resolve_folder("faces/deep", roots) == (roots[0] / "faces" / "deep").resolve()
    with pytest.raises(AccessError, match="outside the data roots"):
        resolve_folder("escape", roots)
    with pytest.raises(NotFoundError):
        resolve_folder("absent", roots)
    with pytest.raises(NotFoundError, match="not a folder"):
        resolve_folder("faces/a.jpg", roots)
    with pytest.raises(PathNameError):
        resolve_folder("/etc", roots)


def test_files_resolve_under_one_root_and_never_outside(roots):
    assert resolve_files(["faces/a.jpg", "faces/deep/b.jpg"], roots) == (
        roots[0].resolve(),
        ["faces/a.jpg", "faces/deep/b.jpg"],
    )
    with pytest.raises(AccessError):
        resolve_files(["faces/c.jpg"], roots)  # a link to a file outside
    with pytest.raises(NotFoundError):
        resolve_files(["faces/zz.jpg"], roots)
    with pytest.raises(PathNameError):
        resolve_files([], roots)


def test_a_folder_given_as_a_path_must_lie_inside_a_root(roots, tmp_path):
    assert confine_folder(roots[0] / "faces", roots) == (roots[0] / "faces").resolve()
    for outside in (tmp_path / "outside", roots[0] / "escape", Path("/etc"), roots[0] / ".."):
        with pytest.raises(AccessError):
            confine_folder(outside, roots)
    with pytest.raises(NotFoundError):
        confine_folder(roots[0] / "faces" / "a.jpg", roots)


def test_the_errors_map_to_400_403_404():
    from api.errors import STATUS_OF

    status = dict(STATUS_OF)
    assert (status[PathNameError], status[AccessError], status[NotFoundError]) == (400, 403, 404)


def test_flows_confine_folders_only_in_runs_created_through_prefect(
    roots, tmp_path, set_env, monkeypatch, tally_modality
):
    from flows.checks import check_audit, check_datasets, check_scan

    modality = tally_modality  # any available one

    set_env(BQAT_DATA_ROOT=str(roots[0]))
    monkeypatch.delenv("PREFECT__FLOW_RUN_ID", raising=False)
    check_scan(str(tmp_path / "outside"), modality, None, None)  # `bqat scan DIR`: any folder
    check_audit(str(tmp_path / "outside"), modality, "gate")
    with pytest.raises(PathNameError):
        check_scan(str(roots[0]), modality, None, ["../outside/c.jpg"])  # always refused

    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "00000000-0000-0000-0000-000000000000")
    check_scan(str(roots[0] / "faces"), modality, "d1", ["a.jpg"])
    uploads = get_settings().home / "uploads" / "d1" / "x"
    uploads.mkdir(parents=True)
    check_scan(str(uploads), modality, "d1", None)  # uploads are scanned from BQAT_HOME
    for source, files in ((tmp_path / "outside", None), (roots[0] / "faces", ["c.jpg"])):
        with pytest.raises(AccessError):
            check_scan(str(source), modality, None, files)
    with pytest.raises(AccessError):
        check_audit(str(tmp_path / "outside"), modality, "gate")
    check_audit(str(roots[0] / "faces"), modality, "gate")

    with pytest.raises(ConfigError, match="invalid dataset id"):
        check_scan(str(roots[0] / "faces"), modality, "../../x", None)
    with pytest.raises(ConfigError, match="unknown modality"):
        check_scan(str(roots[0] / "faces"), "retina", None, None)
    with pytest.raises(ConfigError, match="invalid audit name"):
        check_audit(str(roots[0] / "faces"), modality, "../up")
    with pytest.raises(ConfigError, match="invalid dataset id"):
        check_datasets("ok", "../../etc")


def test_schedule_audit_refuses_a_folder_outside_the_data_roots(roots, tmp_path, set_env):
    from flows.deployments import schedule_audit

    set_env(BQAT_DATA_ROOT=str(roots[0]))
    with pytest.raises(AccessError, match="outside the data roots"):
        schedule_audit(tmp_path / "outside", "face", "0 2 * * 1")


def test_the_work_pool_lets_no_run_set_the_command_environment_or_folder():
    from flows.deployments import base_job_template

    template = base_job_template()
    for name in ("command", "env", "working_dir"):
        assert name not in template["job_configuration"]
        assert name not in template["variables"]["properties"]
    assert template["variables"]["additionalProperties"] is False


def test_the_auth_string_is_generated_once_private_and_reused():
    settings = get_settings()
    first = prefect_auth(settings, environ={})
    path = auth_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user, password = first.split(":")
    assert user == "bqat" and len(password) >= 40
    assert prefect_auth(settings, environ={}) == first
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    given = {"PREFECT_SERVER_API_AUTH_STRING": "admin:given"}
    assert prefect_auth(settings, environ=given) == "admin:given"


def test_only_the_server_the_worker_and_the_api_get_the_string_and_the_worker_no_api_key(
    set_env, monkeypatch
):
    set_env(BQAT_API_KEY="k", BQAT_PREFECT_PORT="4300")
    monkeypatch.setenv("PREFECT_API_KEY", "cloud-key")
    monkeypatch.setenv("PREFECT_API_URL", "https://elsewhere.example/api")
    server, worker, api = services(get_settings(), "u:p")
    assert server.command[server.command.index("--host") + 1] == "127.0.0.1"
    assert server.env["PREFECT_SERVER_API_AUTH_STRING"] == "u:p"
    assert server.env["PREFECT_SERVER_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:4300"
    assert (worker.env["PREFECT_API_AUTH_STRING"], api.env["PREFECT_API_AUTH_STRING"]) == (
        "u:p",
        "u:p",
    )
    assert "BQAT_API_KEY" not in worker.env and "BQAT_API_KEY" not in server.env
    assert api.env["BQAT_API_KEY"] == "k"
    for service in (server, worker, api):
        assert "PREFECT_API_KEY" not in service.env
        assert service.env["PREFECT_API_URL"] == "http://127.0.0.1:4300/api"
    assert "PREFECT_SERVER_API_AUTH_STRING" not in worker.env | api.env
    assert os.environ.get("BQAT_API_KEY") == "k"  # the caller's own environment is untouched
