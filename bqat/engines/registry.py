"""The engines by modality: the built-in packages under `bqat/engines/`, found on first use.

Each sub-package of `bqat.engines` exposes its `ENGINE`; adding a modality is adding a package
(no list to edit). `register` adds an engine from elsewhere (a plug-in, a test's fake modality).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading

from bqat.engines.engine import MEASURE_ERRORS, Engine
from bqat.exceptions import ConfigError

# The modalities of the design, in the order they are listed; engines outside it follow.
MODALITIES: tuple[str, ...] = ("face", "fingerprint", "iris", "speech")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_lock = threading.RLock()
_engines: dict[str, Engine] = {}
_discovered = False


def register(engine: Engine) -> None:
    """Make `engine` available under its modality; its column names must be unique."""
    if not _NAME.fullmatch(engine.modality):
        raise ConfigError(f"modality name {engine.modality!r}: lower-case letters, digits and _")
    seen: set[str] = {MEASURE_ERRORS}
    for measure in engine.measures:
        if measure.modality != engine.modality:
            raise ConfigError(
                f"measure {measure.name} is declared for {measure.modality}, not {engine.modality}"
            )
        clash = seen & set(measure.columns())
        if clash:
            raise ConfigError(f"measure {engine.modality}.{sorted(clash)[0]} is declared twice")
        seen |= set(measure.columns())
    with _lock:
        existing = _engines.get(engine.modality)
        if existing is not None and existing is not engine:
            raise ConfigError(f"an engine for {engine.modality} is already registered")
        _engines[engine.modality] = engine


def unregister(modality: str) -> None:
    """Remove a registered engine (a plug-in unloaded, a test's fake modality)."""
    with _lock:
        _engines.pop(modality, None)


def engines() -> dict[str, Engine]:
    """Every available engine by modality: the design's modalities first, then the others."""
    _discover()
    with _lock:
        ordered = [m for m in MODALITIES if m in _engines]
        ordered += [m for m in _engines if m not in MODALITIES]
        return {m: _engines[m] for m in ordered}


def get_engine(modality: str) -> Engine:
    """The engine of `modality`; `ConfigError` naming the available modalities otherwise."""
    available = engines()
    if modality not in available:
        known = "modality not built yet" if modality in MODALITIES else "unknown modality"
        raise ConfigError(f"{known} {modality!r}; available: {', '.join(available)}")
    return available[modality]


def _discover() -> None:
    """Import each engine package under bqat/engines once and register its ENGINE."""
    global _discovered
    with _lock:
        if _discovered:
            return
        import bqat.engines as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.ispkg:
                register(importlib.import_module(f"{package.__name__}.{module.name}").ENGINE)
        _discovered = True
