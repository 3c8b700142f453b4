"""docker-compose.yml, read as Compose reads it, without Docker: the services, their ports,
volumes, healthchecks and profiles, and every command naming a CLI entry and options that
exist in the image. `make compose-test` (tests/compose/journey.py) runs the project for real."""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DEFAULT = {"prefect-server", "models", "api", "worker", "postgres"}
PROFILES = {"dask": {"dask-scheduler", "dask-worker"}}
ONE_SHOT = {"models"}
# Compose file keys that docker-compose 1.28/1.29 knows (it has no `include`, `develop`,
# `configs` on build, ...); Compose v2 reads all of them.
SERVICE_KEYS = {
    "build", "image", "restart", "volumes", "environment", "command", "ports",
    "healthcheck", "stop_signal", "stop_grace_period", "depends_on", "profiles",
}  # fmt: skip


def environment(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in SERVICES[service].get("environment", {}).items()}


def options_of(command: list[str]) -> set[str]:
    return {word.split("=")[0] for word in command if word.startswith("--")}


def test_services_and_profiles():
    assert set(SERVICES) == DEFAULT | set().union(*PROFILES.values())
    for profile, services in PROFILES.items():
        for name in services:
            assert SERVICES[name]["profiles"] == [profile]
    for name in DEFAULT:
        assert "profiles" not in SERVICES[name]
    # Compose v2 refuses a default service that depends on a service of a profile.
    for name, service in SERVICES.items():
        for needed in service.get("depends_on", {}):
            assert needed in SERVICES
            assert not SERVICES[needed].get("profiles") or SERVICES[name].get("profiles")


def test_only_keys_and_interpolations_docker_compose_1_29_knows():
    assert set(COMPOSE) == {"x-bqat", "x-prefect-client", "services", "volumes"}
    for service in SERVICES.values():
        assert set(service) <= SERVICE_KEYS
    text = (ROOT / "docker-compose.yml").read_text()
    for expression in re.findall(r"\$\{([^}]*)\}", text):
        assert re.fullmatch(r"[A-Z_]+(:-[^}]*|:\?[^}]*)?", expression), expression


def test_ports_prefect_on_loopback_only():
    assert SERVICES["prefect-server"]["ports"] == ["127.0.0.1:${PREFECT_PORT:-4200}:4200"]
    assert SERVICES["api"]["ports"] == ["${API_PORT:-8848}:8848"]
    for name in set(SERVICES) - {"prefect-server", "api"}:
        assert "ports" not in SERVICES[name]


def test_every_long_running_service_has_a_healthcheck_on_its_own_port():
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no" and "healthcheck" not in service
            continue
        assert service["restart"] == "unless-stopped"
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        probe = " ".join(test)
        port = re.search(r"127\.0\.0\.1:(\d+)/", probe)
        if name == "postgres":
            assert test[1] == "pg_isready"
        elif name == "worker":
            assert "--with-healthcheck" in service["command"]
            assert port and port[1] == environment("worker")["PREFECT_WORKER_WEBSERVER_PORT"]
        elif name.startswith("dask-"):
            assert port and f":{port[1]}" in service["command"]
        elif name == "prefect-server":
            assert port and port[1] == "4200" and "/api/health" in probe
        else:
            assert port and port[1] in service["command"]


def test_python_entry_points_stop_on_sigint():
    """Python as PID 1 ends on SIGINT (KeyboardInterrupt); Prefect's server orphans its
    workers on SIGTERM, so `docker compose down` would wait its 10 s and kill."""
    for name in ("prefect-server", "worker"):
        assert SERVICES[name]["stop_signal"] == "SIGINT"


def test_down_stops_everything_within_10_s():
    """Compose stops a service once every service that depends on it has stopped: the grace
    periods (Docker's default 10 s) along the longest chain bound the whole `down`."""

    def grace(name: str) -> int:
        return int(SERVICES[name].get("stop_grace_period", "10s").removesuffix("s"))

    def stopped_after(name: str) -> int:
        dependents = [d for d, s in SERVICES.items() if name in s.get("depends_on", {})]
        return grace(name) + max((stopped_after(d) for d in dependents), default=0)

    running = set(SERVICES) - ONE_SHOT
    assert max(stopped_after(name) for name in running) <= 9


def test_volumes_models_from_models_dir_or_the_volume():
    assert set(COMPOSE["volumes"]) == {"bqat-home", "models", "postgres"}
    for name, service in SERVICES.items():
        volumes = service.get("volumes", [])
        if name in {"api", "worker", "dask-worker"}:
            assert volumes == [
                "bqat-home:/var/lib/bqat",
                "${MODELS_DIR:-models}:/models:ro",
                "${DATA_DIR:-./data}:/data:ro",
            ]
    assert SERVICES["models"]["volumes"] == ["${MODELS_DIR:-models}:/models"]
    assert environment("models")["BQAT_MODEL_CACHE_DIR"] == "/models"
    assert "../shared" not in (ROOT / "docker-compose.yml").read_text()


def test_secrets_only_where_needed():
    auth = "${PREFECT_AUTH:?set PREFECT_AUTH=user:password}"
    assert environment("prefect-server")["PREFECT_SERVER_API_AUTH_STRING"] == auth
    for name in ("api", "worker", "dask-worker"):
        assert environment(name)["PREFECT_API_AUTH_STRING"] == auth
    for name in ("models", "dask-scheduler", "postgres"):
        assert not any("AUTH" in key for key in environment(name))
    for name in ("models", "dask-scheduler"):
        assert "POSTGRES_PASSWORD" not in str(environment(name))
    assert "BQAT_API_KEY" in environment("api")
    for name in set(SERVICES) - {"api"}:
        assert "BQAT_API_KEY" not in environment(name)


def test_bqat_settings_in_compose_are_settings():
    from bqat.settings import known_variables

    known = set(known_variables())
    for name in SERVICES:
        for key in environment(name):
            assert not key.startswith("BQAT_") or key in known, key


def env_file(name: str) -> dict[str, str]:
    lines = (ROOT / "docker" / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_postgres_holds_prefects_database_and_the_store_catalog():
    postgres = environment("postgres")
    user, (prefect, ducklake) = postgres["POSTGRES_USER"], postgres["POSTGRES_DATABASES"].split()
    password = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    assert postgres["POSTGRES_PASSWORD"] == password
    assert environment("prefect-server")["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == (
        f"postgresql+asyncpg://{user}:{password}@postgres:5432/{prefect}"
    )
    for name in ("api", "worker", "dask-worker"):
        assert environment(name)["BQAT_STORE_CATALOG"] == (
            f"postgres:host=postgres user={user} password={password} dbname={ducklake}"
        )
    # Whatever starts first that opens a database waits for PostgreSQL (api and worker start
    # after the Prefect server).
    for name in ("prefect-server", "dask-worker"):
        assert SERVICES[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "ports" not in SERVICES["postgres"]


def test_the_dask_env_file_starts_the_profile_and_points_the_workers_at_it():
    from bqat.settings import Settings

    values = env_file("dask.env")
    assert values["COMPOSE_PROFILES"] == "dask"
    runner = values["BQAT_TASK_RUNNER"]
    assert Settings(task_runner=runner).task_runner == runner == "dask://dask-scheduler:8786"
    assert "--port" in SERVICES["dask-scheduler"]["command"]
    assert "8786" in SERVICES["dask-scheduler"]["command"]
    assert "tcp://dask-scheduler:8786" in SERVICES["dask-worker"]["command"]
    assert environment("worker")["BQAT_TASK_RUNNER"] == "${BQAT_TASK_RUNNER:-threads}"


def _cyclopts_options(function: Any) -> set[str]:
    names = set()
    for parameter in inspect.signature(function).parameters.values():
        for meta in getattr(parameter.annotation, "__metadata__", ()):
            names |= set(getattr(meta, "name", ()) or ()) | set(getattr(meta, "alias", ()) or ())
    return names


def _click_options(command: Any) -> set[str]:
    return {
        option
        for parameter in command.params
        for option in [*parameter.opts, *getattr(parameter, "secondary_opts", [])]
    }


def _prefect_server_command() -> list[str]:
    script = (ROOT / "docker" / "prefect-server").read_text()
    return shlex.split(re.search(r"^exec (prefect .*)$", script, re.MULTILINE)[1])


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_command_names_a_cli_entry_that_exists(name):
    if name == "postgres":
        entrypoint = (ROOT / "docker" / "postgres" / "entrypoint.sh").read_text()
        assert "exec postgres " in entrypoint
        return
    command = SERVICES[name]["command"]
    if command == ["bqat-prefect-server"]:
        assert (
            "docker/prefect-server /usr/local/bin/bqat-prefect-server"
            in (ROOT / "Dockerfile").read_text()
        )
        command = _prefect_server_command()
    if command[:2] == ["sh", "-c"]:  # commands joined by ; and ||, then a message
        for part in re.split(r";|\|\|", command[2]):
            if not part.strip().startswith("echo "):
                _check_command(shlex.split(part))
    else:
        _check_command(command)


def _check_command(command: list[str]) -> None:
    program = command[0]
    if program == "bqat":
        from bqat.cli import build_parser

        assert isinstance(build_parser().parse_args(command[1:]), argparse.Namespace)
    elif program == "uvicorn":
        module, attribute = command[1].split(":")
        assert callable(getattr(importlib.import_module(module), attribute))
        assert options_of(command) <= _click_options(importlib.import_module("uvicorn.main").main)
    elif program == "prefect":
        from prefect.cli.server import server_app
        from prefect.cli.worker import worker_app

        group = {"server": server_app, "worker": worker_app}[command[1]]
        options = _cyclopts_options(group[command[2]].default_command)
        assert options_of(command) <= options
    elif program == "dask":
        module = importlib.import_module(f"distributed.cli.dask_{command[1]}")
        assert options_of(command) <= _click_options(module.main)
    else:
        pytest.fail(f"unknown program {program}")


def test_dockerfile_runtime_has_no_compiler_and_no_root():
    stages = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)[1:]
    assert len(stages) == 2 and "AS builder" in stages[0].splitlines()[0]
    runtime = stages[1]
    assert not re.search(r"\b(g\+\+|gcc|cmake|make|apt-get install)\b", runtime)
    assert re.search(r"^USER bqat$", runtime, re.MULTILINE)
    assert "COPY --from=builder /wheels" in runtime and "COPY bqat" not in runtime
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[[line.startswith("#") for line in ignored].index(False)] == "*"
