"""Every error as JSON `{status_code, detail}` with a precise message, never a stack trace."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_404_NOT_FOUND,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_504_GATEWAY_TIMEOUT,
)

from bqat.exceptions import (
    BqatError,
    ConfigError,
    InputError,
    ModelError,
    NativeError,
    NotFoundError,
    SampleTimeout,
)

log = logging.getLogger("bqat.api")

# The first matching branch of the exception tree decides the status.
STATUS_OF: tuple[tuple[type[BqatError], int], ...] = (
    (NotFoundError, HTTP_404_NOT_FOUND),
    (ConfigError, HTTP_422_UNPROCESSABLE_ENTITY),
    (InputError, HTTP_422_UNPROCESSABLE_ENTITY),
    (NativeError, HTTP_422_UNPROCESSABLE_ENTITY),
    (SampleTimeout, HTTP_504_GATEWAY_TIMEOUT),
    (ModelError, HTTP_503_SERVICE_UNAVAILABLE),
)


def _body(status: int, detail: str, extra: object = None) -> Response:
    content: dict[str, object] = {"status_code": status, "detail": detail}
    if extra:
        content["extra"] = extra
    return Response(content, status_code=status)


def bqat_error(_: Request, exc: BqatError) -> Response:
    status = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 400)
    return _body(status, str(exc))


def validation_error(_: Request, exc: ValidationException) -> Response:
    """A body or parameter that does not match the schema is unprocessable: 422, with why."""
    return _body(HTTP_422_UNPROCESSABLE_ENTITY, exc.detail, exc.extra)


def http_error(_: Request, exc: HTTPException) -> Response:
    return _body(exc.status_code, exc.detail, exc.extra)


def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _body(HTTP_500_INTERNAL_SERVER_ERROR, "internal error; see the API log")


HANDLERS = {
    BqatError: bqat_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
