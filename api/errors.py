"""Every error as JSON `{status_code, detail}` with a precise message, never a stack trace."""

from __future__ import annotations

import hmac
import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_504_GATEWAY_TIMEOUT,
)

from bqat.exceptions import (
    AccessError,
    BqatError,
    ConfigError,
    DatasetInUse,
    InputError,
    ModelError,
    NativeError,
    NotFoundError,
    PathNameError,
    SampleTimeout,
    ServiceUnavailable,
)

log = logging.getLogger("bqat.api")

# The first matching branch of the exception tree decides the status.
STATUS_OF: tuple[tuple[type[BqatError], int], ...] = (
    (NotFoundError, HTTP_404_NOT_FOUND),
    (AccessError, HTTP_403_FORBIDDEN),
    (PathNameError, HTTP_400_BAD_REQUEST),
    (ConfigError, HTTP_422_UNPROCESSABLE_ENTITY),
    (InputError, HTTP_422_UNPROCESSABLE_ENTITY),
    (NativeError, HTTP_422_UNPROCESSABLE_ENTITY),
    (SampleTimeout, HTTP_504_GATEWAY_TIMEOUT),
    (ModelError, HTTP_503_SERVICE_UNAVAILABLE),
    (ServiceUnavailable, HTTP_503_SERVICE_UNAVAILABLE),
    (DatasetInUse, HTTP_409_CONFLICT),
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


def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotFoundException | MethodNotAllowedException) and _unauthorised(request):
        # The router answers unknown paths and methods before the key is checked; without a
        # valid key a client learns nothing about which routes exist.
        return _body(
            HTTP_401_UNAUTHORIZED,
            "missing or wrong X-API-Key header (BQAT_API_KEY is set on this server)",
        )
    return _body(exc.status_code, exc.detail, exc.extra)


def _unauthorised(request: Request) -> bool:
    """Whether BQAT_API_KEY is set and this request to a protected path lacks it."""
    from api.auth import HEADER, PUBLIC_PATHS
    from bqat.settings import get_settings

    key = get_settings().api_key
    if key is None:
        return False
    path = request.scope.get("path", "")
    if any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS):
        return False
    given = dict(request.scope.get("headers", ())).get(HEADER)
    return given is None or not hmac.compare_digest(given, key.get_secret_value().encode())


def bad_json(request: Request, exc: Exception) -> Response:
    """A body that is not JSON (not UTF-8, malformed, nested too deep) is the client's: 400.

    Litestar raises SerializationException from msgspec's DecodeError while reading a body, and
    msgspec raises RecursionError on very deep nesting; anything else of these kinds (encoding
    a response) is ours.
    """
    cause = exc if isinstance(exc, msgspec.DecodeError) else exc.__cause__
    if isinstance(cause, msgspec.DecodeError):
        return _body(HTTP_400_BAD_REQUEST, f"the body is not valid JSON: {cause}")
    if isinstance(exc, RecursionError) and "deserializ" in str(exc):
        return _body(HTTP_400_BAD_REQUEST, "the JSON body is nested too deeply")
    if isinstance(exc, UnicodeDecodeError) and _raised_by_json_decoding(exc):
        return _body(HTTP_400_BAD_REQUEST, f"the JSON body is not valid UTF-8: {exc.reason}")
    return internal_error(request, exc)


def _raised_by_json_decoding(exc: BaseException) -> bool:
    """Whether `exc` left Litestar's JSON decoder (msgspec raises UnicodeDecodeError for a body
    that is not UTF-8, and Litestar lets it through)."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    code = frame.tb_frame.f_code if frame is not None else None
    return code is not None and code.co_name == "decode_json" and "litestar" in code.co_filename


def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _body(HTTP_500_INTERNAL_SERVER_ERROR, "internal error; see the API log")


HANDLERS = {
    BqatError: bqat_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    SerializationException: bad_json,
    msgspec.DecodeError: bad_json,
    RecursionError: bad_json,
    UnicodeDecodeError: bad_json,
    Exception: internal_error,
}
