"""/health, /info, /specification: what this server is and what it measures."""

from __future__ import annotations

from typing import Any

from litestar import get

from api.schemas import InfoOut, ModelOut
from bqat._version import __version__
from bqat.assessment import specification
from bqat.measures import available_modalities, check_modality


@get("/health", summary="Liveness", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/info", summary="Versions, models and ONNX Runtime providers", sync_to_thread=True)
def info() -> InfoOut:
    from bqat.assessment import models_used
    from bqat.models.runtime import providers

    modalities = available_modalities()
    models = {name: sha for m in modalities for name, sha in models_used(m).items()}
    return InfoOut(
        version=__version__,
        models=[ModelOut(name=n, sha256=s) for n, s in sorted(models.items())],
        providers=providers(),
        modalities=modalities,
    )


@get("/specification", summary="The declared measures", sync_to_thread=False)
def spec(modality: str | None = None) -> dict[str, Any]:
    """Every column of a modality (or of every built modality, by modality)."""
    if modality is not None:
        return specification(check_modality(modality))
    return {m: specification(m) for m in available_modalities()}


ROUTES = [health, info, spec]
