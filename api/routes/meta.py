"""/health, /info, /specification: what this server is and what it measures."""

from __future__ import annotations

from litestar import get
from litestar.params import FromQuery

from api.schemas import InfoOut, MeasureSpec, ModelOut, SessionOut, measure_specs
from bqat._version import __version__
from bqat.assessment import specification
from bqat.measures import available_modalities, check_modality


@get("/health", summary="Liveness", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/info", summary="Versions, models and ONNX Runtime providers", sync_to_thread=True)
def info() -> InfoOut:
    """The models of the built modalities and the execution providers of this process's sessions.

    Sessions load on first use, so before any assessment ran here `providers` says what a session
    would request; after, what the loaded sessions really run on (a CUDA request can fall back).
    """
    from bqat.assessment import models_used, sessions_used
    from bqat.models import get_spec
    from bqat.models.runtime import (
        active_providers,
        loaded_providers,
        model_of,
        onnxruntime_module,
        providers,
    )

    modalities = available_modalities()
    requested = providers()
    loaded = loaded_providers()
    session_names = sorted({s for m in modalities for s in sessions_used(m)} | set(loaded))
    names = {name for m in modalities for name in models_used(m)} | set(map(model_of, loaded))
    specs = [get_spec(name) for name in sorted(names)]
    first_loaded: dict[str, list[str]] = {}  # model -> the providers of its first loaded session
    for name, used in loaded.items():
        first_loaded.setdefault(model_of(name), used)
    models = [
        ModelOut(
            name=spec.name,
            sha256=spec.sha256,
            loaded=spec.name in first_loaded,
            providers=first_loaded.get(spec.name, requested if spec.is_onnx else []),
        )
        for spec in specs
    ]
    sessions = [
        SessionOut(
            name=name,
            model=model_of(name),
            file=get_spec(model_of(name)).file,
            sha256=get_spec(model_of(name)).sha256,
            loaded=name in loaded,
            providers=loaded.get(name, requested),
        )
        for name in session_names
    ]
    return InfoOut(
        version=__version__,
        models=models,
        providers=(active_providers() if loaded else []) or requested,
        modalities=modalities,
        loaded_sessions=len(loaded),
        requested_providers=requested,
        available_providers=list(onnxruntime_module().get_available_providers()),
        sessions=sessions,
    )


@get("/specification", summary="The declared measures", sync_to_thread=False)
def spec(
    modality: FromQuery[str | None] = None,
) -> dict[str, MeasureSpec] | dict[str, dict[str, MeasureSpec]]:
    """Every column of a modality, by name; without `modality`, every built modality's, by
    modality then name."""
    if modality is not None:
        return measure_specs(specification(check_modality(modality)))
    return {m: measure_specs(specification(m)) for m in available_modalities()}


ROUTES = [health, info, spec]
