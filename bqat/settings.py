"""The one settings object: every `BQAT_*` environment variable, typed and validated once."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_cache_path
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bqat.exceptions import ConfigError
from bqat.validation import validated

ENV_PREFIX = "BQAT_"


class Settings(BaseSettings):
    """Runtime settings read from the environment (prefix `BQAT_`); see the README's table."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    home: Path = Field(Path("./bqat-home"), description="Store, reports and uploads live here.")
    data_root: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [Path("./data")],
        description="Folders POST /scan/ may read, separated by ':'.",
    )
    model_dir: Path | None = Field(None, description="Folder searched first for model files.")
    model_cache_dir: Path = Field(
        default_factory=lambda: user_cache_path("bqat") / "models",
        description="Where `bqat models pull` stores files; searched after model_dir.",
    )
    api_key: SecretStr | None = Field(None, description="When set, the API requires X-API-Key.")
    host: str = Field("127.0.0.1", description="Interface the API listens on.")
    port: int = Field(8848, ge=1, le=65535)
    public_url: str | None = Field(
        None, description="How users reach the API (links in Prefect artifacts); default host:port."
    )
    prefect_host: str = Field(
        "127.0.0.1", description="Interface the Prefect server of `bqat serve` listens on."
    )
    prefect_port: int = Field(4200, ge=1, le=65535)
    execution_provider: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="ONNX Runtime provider: CUDA when available (auto), or forced."
    )
    task_runner: str = Field("threads", pattern=r"^(threads|dask://[^\s]+)$")
    threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_upload_bytes: int = Field(2 * 1024**3, ge=1)
    max_files_per_request: int = Field(10_000, ge=1)
    max_image_pixels: int = Field(100_000_000, ge=1)
    file_timeout_s: float = Field(60.0, gt=0)
    max_concurrent_scans: int = Field(2, ge=1)
    keep_screenshots: Path | None = Field(
        None, description="Development: the browser tests keep their screenshots here."
    )
    store_catalog: str | None = Field(
        None, description="DuckLake catalog: postgres:<connection string>; default a SQLite file."
    )
    store_data: str | None = Field(
        None, description="Where the store's data files live (a shared folder or s3://)."
    )
    store_keep_days: float = Field(90.0, gt=0, description="Snapshots older than this expire.")

    @property
    def api_url(self) -> str:
        """The API's base URL as users see it, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def prefect_url(self) -> str:
        """Where clients on this machine reach the Prefect server of `bqat serve` (no /api)."""
        wildcard = self.prefect_host in ("0.0.0.0", "::", "")
        host = "127.0.0.1" if wildcard else self.prefect_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.prefect_port}"

    @field_validator("data_root", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part) for part in value.split(":") if part]
        return value

    @field_validator(
        "model_dir",
        "api_key",
        "public_url",
        "keep_screenshots",
        "store_catalog",
        "store_data",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


def known_variables() -> list[str]:
    """Every environment variable that is a setting, e.g. BQAT_PORT."""
    return sorted(ENV_PREFIX + name.upper() for name in Settings.model_fields)


def refuse_unknown(environ: Mapping[str, str]) -> None:
    """`ConfigError` naming each `BQAT_*` variable that is no setting (a typo would otherwise
    be ignored silently), with the closest known setting."""
    known = known_variables()
    suffixes = [name.removeprefix(ENV_PREFIX) for name in known]  # compared without the prefix
    problems = []
    for variable in sorted(environ):
        upper = variable.upper()  # settings are read case-insensitively
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), suffixes, n=1)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else f"known: {', '.join(known)}."
        problems.append(f"unknown setting {variable}; {hint}")
    if problems:
        raise ConfigError(" ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use.

    Raises `ConfigError` for an invalid value, or for a `BQAT_*` variable that is no setting.
    """
    refuse_unknown(os.environ)
    return validated(Settings, "settings", {}, env_prefix=ENV_PREFIX)
