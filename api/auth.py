"""X-API-Key on every route but /health, /docs (and its schema and assets), when a key is set."""

from __future__ import annotations

import hmac

from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

PUBLIC_PATHS = ("/health", "/docs", "/static/swagger-ui")
HEADER = b"x-api-key"


class ApiKeyMiddleware(ASGIMiddleware):
    """Compares the header with the key in constant time; 401 when missing or wrong."""

    exclude_path_pattern = tuple(f"^{p}(/|$)" for p in PUBLIC_PATHS)

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        given = dict(scope.get("headers", ())).get(HEADER)
        if given is None or not hmac.compare_digest(given, self._key):
            raise NotAuthorizedException(
                "missing or wrong X-API-Key header (BQAT_API_KEY is set on this server)"
            )
        await next_app(scope, receive, send)
