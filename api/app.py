"""The Litestar app: routes, errors, auth, limits, offline docs, and the Prefect connection.

Run it with `bqat serve` (or `uvicorn api.app:create_app --factory --port 8848`); it needs the
Prefect server named by PREFECT_API_URL to start flow runs.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from api import errors
from api.auth import ApiKeyMiddleware
from api.routes import (
    datasets,
    inputs,
    legacy,
    meta,
    preprocess,
    reports,
    results,
    samples,
    scans,
)
from api.runs import Runs
from api.schemas import RowSchemaPlugin, row_models
from bqat._version import __version__
from bqat.settings import get_settings
from bqat.store import Store

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 64 * 1024 * 1024  # base64 samples for POST /assess; uploads stream instead


@asynccontextmanager
async def prefect_runs(app: Litestar) -> AsyncIterator[None]:
    """One Prefect client for the app's life; the deployments it starts runs of are applied."""
    from prefect import get_client

    from flows.deployments import register_deployments

    deployments = await anyio.to_thread.run_sync(register_deployments)
    async with get_client() as client:
        app.state.runs = Runs(client, deployments)
        # What start-up loaded lives as long as the process: keep it out of the collector's
        # full passes, which otherwise pause every request now and then.
        gc.collect()
        gc.freeze()
        yield


def create_app() -> Litestar:
    settings = get_settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    middleware = []
    if settings.api_key is not None:
        middleware.append(ApiKeyMiddleware(settings.api_key.get_secret_value()))
    docs = OpenAPIConfig(
        title="bqat",
        version=__version__,
        description="Biometric quality assessment: scans, tasks, results, reports.",
        path="/docs",
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url="/static/swagger-ui/swagger-ui-bundle.js",
                css_url="/static/swagger-ui/swagger-ui.css",
                standalone_preset_js_url="/static/swagger-ui/swagger-ui-standalone-preset.js",
                favicon="<link rel='icon' href='data:,'>",
            )
        ],
    )
    app = Litestar(
        route_handlers=[
            *(
                Router(path="/", tags=[tag], route_handlers=module.ROUTES)
                for tag, module in (
                    ("scans and tasks", scans),
                    ("results", results),
                    ("reports", reports),
                    ("datasets", datasets),
                    ("inputs", inputs),
                    ("preprocessing", preprocess),
                    ("samples", samples),
                    ("service", meta),
                    ("BQAT-API paths (deprecated)", legacy),
                )
            ),
            create_static_files_router(
                path="/static/swagger-ui",
                directories=[STATIC / "swagger-ui"],
                include_in_schema=False,
            ),
        ],
        exception_handlers={**errors.HANDLERS, **legacy.HANDLERS},  # type: ignore[arg-type]
        middleware=middleware,
        openapi_config=docs,
        lifespan=[prefect_runs],
        request_max_body_size=MAX_JSON_BYTES,
        on_app_init=[_state],
        # Row models of the modalities available now, not when api/ was imported.
        plugins=[RowSchemaPlugin(row_models())],
    )
    return app


def _state(config: AppConfig) -> AppConfig:
    config.state["store"] = Store()
    return config
