"""The ASGI app of the local Appwrite-compatible server.

Every request goes the same way: match the route in the spec's table, resolve the project and key,
check the route's scope, decode and type the parameters from the spec, run the handler in a worker
thread, and render its result. Errors are mapped to Appwrite's JSON here and nowhere else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from quixotic.errors import ApiError
from quixotic.server import auth, formats
from quixotic.server.compute.engine import Compute
from quixotic.server.compute.keys import verify_dynamic_key
from quixotic.server.context import Ctx, Upload
from quixotic.server.registry import Reply, load_all
from quixotic.server.settings import ServerSettings
from quixotic.server.spec import bind, route_table, unflatten
from quixotic.server.store import Store
from quixotic.server.version import APPWRITE_VERSION
from quixotic.server.worker import Worker

log = logging.getLogger("quixotic.server")

MAX_MULTIPART_FIELD = 1024 * 1024
_BASE_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "X-Powered-By": "quixotic"}
_PASSED_CODES = {400, 401, 402, 403, 404, 405, 408, 409, 410, 412, 416, 422, 429, 451, 501, 503}


def _json(value: Any, status: int, extra: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {**_BASE_HEADERS, **(extra or {})}
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(exc: ApiError, version: str = APPWRITE_VERSION) -> Response:
    code = exc.code if exc.code in _PASSED_CODES else 500
    body = {"message": exc.message, "code": code, "type": exc.type, "version": version}
    return _json(body, code)


def _render(result: Any, default_status: int, extra: dict[str, str]) -> Response:
    if isinstance(result, Reply):
        status = result.status or default_status
        headers = {**_BASE_HEADERS, **extra, **result.headers}
        if result.path is not None:
            return FileResponse(result.path, status, headers, result.media_type or "application/octet-stream")
        if isinstance(result.body, bytes | bytearray):
            return Response(bytes(result.body), status, headers, result.media_type or "application/octet-stream")
        if result.body is None:
            return Response(b"", status, headers, "text/plain; charset=utf-8")
        return _json(result.body, status, headers)
    if result is None:
        # The SDK reads Content-Type on every response; an empty JSON body would not parse.
        return Response(b"", 204, {**_BASE_HEADERS, **extra}, "text/plain; charset=utf-8")
    return _json(result, default_status, extra)


class Server:
    """State shared by all requests: the settings, the store, the worker, the route table and the handlers."""

    def __init__(self, data_dir: Path, endpoint: str | None = None, settings: ServerSettings | None = None) -> None:
        self.settings = settings or ServerSettings()
        self.store = Store(data_dir)
        self.worker = Worker()
        self.routes = route_table()
        self.handlers = load_all()
        self.compute = Compute(self.store, endpoint, self.settings)
        self.version = self.settings.appwrite_version
        parsed = formats.parse(self.version)
        assert parsed is not None
        self.native_format: formats.Version = parsed

    def close(self) -> None:
        self.compute.close()
        self.worker.stop()
        self.store.close()

    def _verify_dynamic(self, key: str) -> dict[str, Any] | None:
        return verify_dynamic_key(self.compute.secret, key)

    async def dispatch(self, request: Request) -> Response:
        extra: dict[str, str] = {}
        fmt_text = request.headers.get("x-appwrite-response-format")
        fmt = formats.parse(fmt_text) or self.native_format  # none, or malformed: the server's own
        if fmt > self.native_format:
            extra["X-Appwrite-Warning"] = formats.warning(str(fmt_text).strip(), self.version)
            fmt = self.native_format
        try:
            return await self._handle(request, extra, fmt)
        except ApiError as exc:
            return error_response(exc, self.version)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return error_response(ApiError("general_unknown", "Server Error", 500), self.version)

    async def _handle(self, request: Request, extra: dict[str, str], fmt: formats.Version) -> Response:
        path = "/" + request.path_params.get("path", "").strip("/")
        method = request.method.upper()
        found = self.routes.match(method, path)
        if found is None:
            raise ApiError(
                "general_route_not_found",
                f"Route not found: {method} /v1{path}. Check the endpoint.",
            )
        op, path_params = found
        handler = self.handlers.get(op.id)
        if handler is None:
            raise ApiError(
                "general_not_implemented",
                f"{op.id} ({method} /v1{op.path}) is not implemented by the quixotic local server yet.",
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        project = headers.get("x-appwrite-project") or request.query_params.get("project")
        if op.scopes == ("public",) and not project:
            caller = auth.Caller("", auth.GUEST_SCOPES, "guests")
        else:
            with self.store.read() as conn:
                caller = auth.resolve(conn, project, headers.get("x-appwrite-key"), self._verify_dynamic)
        host = request.url.hostname or "localhost"
        auth.check_scope(caller, op.scopes, host)

        query = unflatten(request.query_params.multi_items())
        body: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        body_is_text = False
        if method != "GET":
            content_type = headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                body_is_text = True
                try:
                    form = await request.form(max_part_size=MAX_MULTIPART_FIELD)
                except Exception as exc:  # no boundary, a broken part, a part too large: the parser's words
                    raise ApiError(
                        "general_argument_invalid", f"The multipart request body could not be read: {exc}"
                    ) from exc
                pairs: list[tuple[str, Any]] = []
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        uploads[key] = Upload(value.filename or key, value.content_type or "", value.file)
                    else:
                        pairs.append((key, value))
                body = unflatten(pairs)
                for key in uploads:
                    body.setdefault(key, uploads[key])
            else:
                raw = await request.body()
                if raw.strip():
                    try:
                        decoded = json.loads(raw)
                    except (ValueError, RecursionError) as exc:
                        raise ApiError("general_argument_invalid", f"Invalid JSON in the request body: {exc}") from exc
                    if not isinstance(decoded, dict):
                        raise ApiError("general_argument_invalid", "The request body must be a JSON object.")
                    body = decoded
        formats.lift(fmt, op.id, body)
        params = bind(op, path_params, query, body, body_is_text)
        if not self.compute.endpoint:
            self.compute.endpoint = f"{request.url.scheme}://{request.url.netloc}/v1"
        ctx = Ctx(
            self.store, self.worker, caller, op, headers, host, uploads, compute=self.compute, settings=self.settings
        )
        result = await run_in_threadpool(handler, ctx, params)
        # Lowered before the events go out: as on Appwrite, a create or update event carries the payload
        # the caller gets (delete handlers emit a model of their own, which stays native).
        if isinstance(result, Reply):
            formats.lower(fmt, op.id, result.body)
        else:
            formats.lower(fmt, op.id, result)
        if ctx.events:
            await run_in_threadpool(self.compute.dispatch, caller.project, ctx.events)
        return _render(result, op.status, extra)


def create_app(data_dir: Path | str, endpoint: str | None = None, env: Mapping[str, str] | None = None) -> Starlette:
    """The ASGI app; ``endpoint`` (``http://host:port/v1``) is what functions get as their API endpoint.

    ``env`` holds the settings' variables (``_APP_STORAGE_LIMIT``, ``QUIXOTIC_*``); None reads ``os.environ``,
    here and nowhere deeper.
    """
    server = Server(Path(data_dir), endpoint, ServerSettings.from_env(env))
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            server.close()

    app = Starlette(
        routes=[
            Route("/v1/{path:path}", server.dispatch, methods=methods),
            Route("/v1", server.dispatch, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.server = server
    return app
