"""The origin check and CORS headers around every answer of the API, as Appwrite's security init does.

A browser (the web SDK, Flutter web) sends ``Origin``; Python, node, curl and Flutter on a phone's
WebSocket do not. A request with an Origin and no API key must come from one of the project's platforms
(``origins``), or it is refused with ``403 general_unknown_origin`` before any handler runs; a keyed
request is the server's own business and is not checked. Every answer, errors included, carries the CORS
headers, and a preflight (``OPTIONS``) is answered here with 204.

This is ASGI middleware and not part of ``app``'s dispatch so that the router's own answers (404, 405)
and the errors of a request that never reaches a handler get the headers too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quixotic.errors import ApiError
from quixotic.server.origins import Origins, cors_headers

# The project's origins, or None when the project does not exist (its answer is then the router's).
OriginsOf = Callable[[str], Origins | None]


class Cors:
    """Middleware: refuse unknown origins of key-less requests, answer preflights, add CORS headers."""

    def __init__(self, app: ASGIApp, origins_of: OriginsOf, error: Callable[[ApiError], Response]) -> None:
        self.app = app
        self.origins_of = origins_of
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _origin(scope)
        if scope["method"] == "OPTIONS":
            preflight = Response(b"", 204, dict(cors_headers(origin, None, preflight=True)), "text/plain")
            await preflight(scope, receive, send)
            return
        if not origin:  # no browser: the fixed headers, encoded once
            await self.app(scope, receive, _with_headers(send, _FIXED))
            return
        headers = Headers(scope=scope)
        origins = self.origins_of(_project(scope, headers))
        keyed = headers.get("x-appwrite-key") or headers.get("x-appwrite-dev-key")
        if origins is not None and not keyed and not origins.allows(origin):
            refused = self.error(ApiError("general_unknown_origin", origins.refusal(origin), 403))
            refused.headers.update(dict(cors_headers(origin, origins, preflight=False)))
            await refused(scope, receive, send)
            return
        extra = _encoded(cors_headers(origin, origins, preflight=False))
        await self.app(scope, receive, _with_headers(send, extra))


RawHeaders = tuple[tuple[bytes, bytes], ...]


def _encoded(headers: list[tuple[str, str]]) -> RawHeaders:
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers)


_FIXED: Final = _encoded(cors_headers(None, None, preflight=False))  # what every answer without an Origin gets


def _with_headers(send: Send, extra: RawHeaders) -> Send:
    """``send`` that appends ``extra`` to the answer's headers."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return send_with_headers


def _origin(scope: Scope) -> str | None:
    """The request's first ``Origin`` header, as ``Headers.get`` reads it."""
    for name, value in scope["headers"]:
        if name == b"origin":
            return str(value.decode("latin-1"))
    return None


def _project(scope: Scope, headers: Headers) -> str:
    project = headers.get("x-appwrite-project")
    if project:
        return project
    query = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(query).get("project") if "project" in query else None
    return values[0] if values else ""
