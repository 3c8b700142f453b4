"""POST /assess: one sample, measured synchronously in a worker thread (never on the loop)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import anyio
from litestar import Request, post
from litestar.exceptions import ClientException

from api.schemas import AssessJson
from bqat.assessment import assess_sample
from bqat.deadline import within
from bqat.exceptions import ConfigError
from bqat.settings import get_settings

MULTIPART = "multipart/form-data"


async def _sample(request: Request) -> tuple[bytes, str, str | None, dict[str, Any]]:
    """(content, modality, filename, options) from a multipart form or a JSON body."""
    if request.content_type[0] == MULTIPART:
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ClientException("multipart body without a `file` part")
        options = json.loads(form.get("options") or "{}")
        return await upload.read(), str(form.get("modality") or ""), upload.filename, options
    try:
        body = AssessJson(**await request.json())
        content = base64.b64decode(body.data, validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        detail = f"expected JSON {{modality, data: base64, filename?, options?}}: {exc}"
        raise ClientException(detail) from None
    return content, body.modality, body.filename, dict(body.options)


@post("/assess", summary="Measure one sample (multipart `file` or JSON base64)", status_code=200)
async def assess(request: Request) -> dict[str, Any]:
    content, modality, filename, options = await _sample(request)
    if not modality:
        raise ConfigError("modality is required")
    limit = get_settings().file_timeout_s

    def measure() -> dict[str, Any]:
        return within(
            limit,
            lambda: assess_sample(content, modality, file=filename, options=options),
            f"assessing {filename or 'the sample'}",
        )

    return await anyio.to_thread.run_sync(measure)


ROUTES = [assess]
