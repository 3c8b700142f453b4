"""Pydantic validation failures turned into one readable `ConfigError`."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bqat.exceptions import ConfigError

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], what: str, values: dict[str, object], env_prefix: str = "") -> M:
    """`model(**values)`, or `ConfigError` listing every bad or unknown key.

    With `env_prefix`, keys are named as environment variables (BQAT_PORT rather than port).
    """
    try:
        return model(**values)
    except ValidationError as exc:

        def name(loc: tuple[object, ...]) -> str:
            key = "_".join(str(p) for p in loc)
            return f"{env_prefix}{key.upper()}" if env_prefix else key

        problems = "; ".join(f"{name(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid {what}: {problems}") from exc
