"""POST /assess: one sample, measured synchronously in a worker thread (never on the loop).

Two bodies are understood: multipart/form-data with one `file` part (and `modality`, `options`
fields), or application/json `{modality, data: base64, filename?, options?}`. Any other content
type is 415; a malformed body is 400 and a body of the wrong shape 422, each saying why.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import anyio
import msgspec
from litestar import Request, post
from litestar.exceptions import ClientException, HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from api.routes.scans import parse_options
from api.schemas import AssessJson
from api.uploads import read_sample
from bqat.assessment import assess_sample
from bqat.deadline import within
from bqat.exceptions import ConfigError
from bqat.settings import get_settings

MULTIPART = "multipart/form-data"
MAX_SAMPLE_BYTES = 64 * 1024 * 1024  # the app's JSON body limit (api.app.MAX_JSON_BYTES)
_SHAPE = "{modality, data: base64, filename?, options?}"


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def _sample(request: Request) -> tuple[bytes, str, str | None, dict[str, Any]]:
    """(content, modality, filename, options) from a multipart form or a JSON body."""
    kind = request.content_type[0]
    if kind == MULTIPART:
        form = await read_sample(
            request.headers.get("content-type", ""), request.stream(), MAX_SAMPLE_BYTES
        )
        options = parse_options(form.fields.get("options"))
        return form.content, form.fields.get("modality", ""), form.filename, options
    if not _is_json(kind):
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"POST /assess takes multipart/form-data (a `file` part and a `modality` "
            f"field) or application/json {_SHAPE}; got {kind or 'no content type'}",
        )
    body = await request.body()
    try:
        parsed = msgspec.json.decode(body, type=AssessJson)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"expected JSON {_SHAPE}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ClientException(f"the body is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ClientException(f"the JSON body is not valid UTF-8: {exc.reason}") from None
    except RecursionError:
        raise ClientException("the JSON body is nested too deeply") from None
    try:
        content = base64.b64decode(parsed.data, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ClientException(f"`data` is not valid base64: {exc}") from None
    return content, parsed.modality, parsed.filename, dict(parsed.options)


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
