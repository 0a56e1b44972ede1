"""The ASGI app of the local Appwrite-compatible server.

Every request goes the same way: match the route in the spec's table, resolve the project and key,
check the route's scope, decode and type the parameters from the spec, run the handler where its lane
says (``lane_of``), and render its result. Errors are mapped to Appwrite's JSON here and nowhere else, the
router's own 404s and 405s included. Around it, ``cors`` answers preflights, refuses browser origins a
project has no platform for and puts the CORS headers on every answer.

Input is held to ``validation``'s limits before a handler runs: the body is capped while it is read
(12 MB, Appwrite's request size), JSON is decoded without NaN, Infinity or unparsed long numbers, and
``spec.bind`` checks every parameter. A write and the encoding of its answer share one transaction
(``_atomic``): an answer that cannot be encoded rolls the write back, so no 5xx leaves a write behind.

The pipeline: at most one thread hop per request. The key lookup and the handlers that only read SQLite
run on the event loop, on a reader connection of their own (``Store.read``: WAL, never behind a write);
the writer lock is refused there, so a misfiled write fails loudly instead of stalling the loop. The
database's writes (TablesDB and the legacy Databases API) go to the writer process (``writer_process``; the
loop matches, authorises and reads the body, the process runs ``encode_call``), so they never hold this
process's GIL; with ``QUIXOTIC_WRITER_PROCESS=off``, and for the other writes that only touch SQLite, they run
on one writer thread (``worker.Lane``): they are serialised on the one writer connection anyway, and its hop is
a queue and a ``call_soon_threadsafe``. What blocks or waits (uploads,
downloads, executions, which call the API back, builds, password hashing) runs in the threadpool. The
events of a write (Realtime frames, executions they trigger) go out in the same thread call once it has
committed, not in a second hop. A JSON body is decoded and bound where its handler runs, so a 1,000-row
bulk body (5-9 ms of decoding and checking) does not hold the loop.

Why, measured when this pipeline came in (2-core machine, keep-alive load, server CPU per request): a
threadpool hop cost 100-150 us of CPU, the lane's 40-60 us; two hops and one shared connection before it
made a row GET 860 us and a keyed GET beside a bulk writer 26x its idle p99. Today's figures are what
``bench/server_bench.py`` prints (issue 16's notes keep them), not copied here to go stale. With the writer on a
thread, a keyed GET beside a bulk writer waited on the GIL (the writer's C calls, e.g. encoding a 1,000-row
answer in one ~1.5 ms call, and its Python hold it; a 1 ms switch interval made no difference, 0.5 ms made the
p99 worse): that is why database writes have a process of their own.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quixotic.errors import ApiError
from quixotic.server import auth, cache, formats, platforms, validation
from quixotic.server.compute.engine import Compute
from quixotic.server.compute.keys import verify_dynamic_key
from quixotic.server.console.routes import with_console
from quixotic.server.context import Ctx, Upload
from quixotic.server.cors import Cors
from quixotic.server.origins import Origins
from quixotic.server.realtime import socket as realtime_socket
from quixotic.server.realtime.hub import Hub
from quixotic.server.registry import Encoded, Handler, Reply, load_all
from quixotic.server.settings import ServerSettings
from quixotic.server.spec import Operation, bind, unflatten
from quixotic.server.store import Store, WriterLock
from quixotic.server.version import APPWRITE_VERSION
from quixotic.server.worker import Lane, Worker
from quixotic.server.writer_process import WriteRequest, WriterProcess

log = logging.getLogger("quixotic.server")

_BASE_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "X-Powered-By": "quixotic"}
_PASSED_CODES = {400, 401, 402, 403, 404, 405, 408, 409, 410, 412, 416, 422, 429, 451, 501, 503}


# Routes whose handlers keep their own transactions: they wait on other threads that need the store (a
# synchronous execution runs function code that calls the API back; retiring a function's workers), run
# a row transaction's trials (which must start outside any SQLite transaction), or move files on disk
# that a rollback would not move back. Every other write runs in ONE transaction with its rendering.
_OWN_TRANSACTIONS = frozenset(
    {
        "functionsCreateExecution",
        "functionsCreateDeployment",
        "functionsUpdateFunctionDeployment",
        "functionsDelete",
        "functionsDeleteDeployment",
        "storageCreateFile",
        "storageDeleteFile",
        "storageDeleteBucket",
    }
)


# Where a request's handler runs: its one hop at most (see the module docstring for the measurements).
LOOP, WRITER, POOL = "loop", "writer", "pool"
# Services whose handlers only touch SQLite (and hand slow work to ``Worker``): reads on the loop, writes on
# the writer lane.
_SQLITE_TAGS = frozenset({"tablesDB", "databases"})
# Single operations of other services that only touch SQLite.
_SQLITE_READS = frozenset(
    {
        "healthGet", "healthGetVersion", "healthGetTime",
        "functionsList", "functionsGet", "functionsListExecutions", "functionsGetExecution",
        "functionsListDeployments", "functionsGetDeployment", "functionsListVariables", "functionsGetVariable",
        "storageListBuckets", "storageGetBucket", "storageListFiles", "storageGetFile",
    }
)  # fmt: skip
_SQLITE_WRITES = frozenset(
    {
        "functionsCreate", "functionsUpdate", "functionsCreateVariable", "functionsUpdateVariable",
        "functionsDeleteVariable", "storageCreateBucket", "storageUpdateBucket",
    }
)  # fmt: skip


@dataclass
class Call:
    """What a request hands to where its handler runs (the body still undecoded when it came as JSON)."""

    handler: Handler
    ctx: Ctx
    path_params: dict[str, str]
    query: dict[str, Any]
    body: dict[str, Any] | bytes
    body_is_text: bool
    extra: dict[str, str]


def lane_of(op: Operation, query: Mapping[str, Any]) -> str:
    """Where ``op``'s handler runs: ``LOOP`` (reads that only touch SQLite), ``WRITER`` (writes that only
    touch SQLite, and reads inside a row transaction, which replay it under the writer lock) or ``POOL``
    (everything that blocks or waits: uploads, downloads, executions, builds, password hashing)."""
    if op.tag in _SQLITE_TAGS or op.id in _SQLITE_READS or op.id in _SQLITE_WRITES:
        if op.method == "GET" and not query.get("transactionId"):
            return LOOP
        return WRITER
    return POOL


def _atomic(op: Operation, params: Mapping[str, Any]) -> bool:
    """Whether the handler and the encoding of its answer share one transaction (a write whose answer
    cannot be encoded is rolled back, so no 5xx leaves a write behind)."""
    if op.method == "GET" or op.id in _OWN_TRANSACTIONS or params.get("transactionId"):
        return False
    return "Transaction" not in op.id and "Operations" not in op.id


_BASE_RAW = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _BASE_HEADERS.items())


class _JsonAnswer(Response):
    """A JSON answer with only the base headers, its raw headers built from ones encoded once (what Starlette's
    constructor would build, in the same order, without re-encoding a dict of them per answer)."""

    def __init__(self, body: bytes, status: int) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = [*_BASE_RAW, (b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]


class _RawAnswer(Response):
    """An answer the writer process encoded: its status, raw headers and body as they came."""

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


def _json(value: Any, status: int, extra: dict[str, str] | None = None) -> Response:
    body = validation.encode(value)
    if not extra:
        return _JsonAnswer(body, status)
    headers = {**_BASE_HEADERS, **extra}
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(exc: ApiError, version: str = APPWRITE_VERSION) -> Response:
    code = exc.code if exc.code in _PASSED_CODES else 500
    # A message may quote what the client sent: anything that is not text is escaped, never a 500.
    message = exc.message.encode("utf-8", "backslashreplace").decode("utf-8")
    body = {"message": message, "code": code, "type": exc.type, "version": version}
    return _json(body, code)


def failure_response(exc: Exception, method: str, path: str, version: str = APPWRITE_VERSION) -> Response:
    """The answer to a request whose handling raised ``exc``: its Appwrite error JSON, or for anything that is not
    an ``ApiError`` (a bug) a logged 500 that tells the client nothing of the server's insides."""
    if isinstance(exc, ApiError):
        return error_response(exc, version)
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return error_response(ApiError("general_unknown", "Server Error", 500), version)


def _render(result: Any, default_status: int, extra: dict[str, str]) -> Response:
    if isinstance(result, Encoded):
        if not extra:
            return _JsonAnswer(result.body, default_status)
        return Response(result.body, default_status, {**_BASE_HEADERS, **extra}, "application/json")
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
        self.writer = Lane("quixotic-writer")
        # Database writes in a process of their own (``writer_process``; off: QUIXOTIC_WRITER_PROCESS=off), started
        # at the first one.
        self.writes = WriterProcess(self.store.data_dir, self.settings) if self.settings.writer_process else None
        self.routes = with_console(self.settings.record_ops)
        self.handlers = load_all()
        self.compute = Compute(self.store, endpoint, self.settings)
        self.realtime = Hub(self.store)
        self.compute.publish = self.realtime.publish  # executions' create and update events
        self.version = self.settings.appwrite_version
        parsed = formats.parse(self.version)
        assert parsed is not None
        self.native_format: formats.Version = parsed

    def close(self) -> None:
        if self.writes is not None:
            self.writes.close()
        self.compute.close()
        self.writer.stop()
        self.worker.stop()
        self.store.close()

    def origins_of(self, project: str) -> Origins | None:
        """What a browser or app may call ``project`` from (``cors``); None for a project that does not exist."""
        with self.store.read() as conn:
            if project and project != "console" and not auth.project_exists(conn, project):
                return None
            return platforms.origins_of(conn, project or "console")

    def _verify_dynamic(self, key: str) -> dict[str, Any] | None:
        return verify_dynamic_key(self.compute.secret, key)

    async def dispatch(self, request: Request) -> Response:
        extra: dict[str, str] = {}
        fmt_text = request.headers.get("x-appwrite-response-format")
        declared = formats.parse(fmt_text)
        fmt = declared or self.native_format  # none, or malformed: the server's own
        if fmt > self.native_format:
            extra["X-Appwrite-Warning"] = formats.warning(str(fmt_text).strip(), self.version)
            fmt = self.native_format
        try:
            return await self._handle(request, extra, fmt, declared)
        except Exception as exc:
            return failure_response(exc, request.method, request.url.path, self.version)

    async def _handle(
        self, request: Request, extra: dict[str, str], fmt: formats.Version, declared: formats.Version | None
    ) -> Response:
        scope = request.scope
        # The decoded path itself, not the router's match of it: ``/users/u1%0a`` is the ID "u1\n".
        full: str = scope["path"]
        path = "/" + (full[3:] if full.startswith("/v1") else full).strip("/")
        method = request.method.upper()
        found = self.routes.match(method, path)
        if found is None:
            raise ApiError(
                "general_route_not_found",
                f"Route not found: {method} {full.encode('unicode_escape').decode()}. Check the endpoint.",
            )
        op, path_params = found
        handler = self.handlers.get(op.id)
        if handler is None:
            raise ApiError(
                "general_not_implemented",
                f"{op.id} ({method} /v1{op.path}) is not implemented by the quixotic local server yet.",
            )
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        pairs = _query_pairs(scope.get("query_string") or b"")
        plain = dict(pairs)  # one value a name, the last one given (as Starlette's ``query_params.get``)
        project = headers.get("x-appwrite-project") or plain.get("project")
        host = _hostname(headers.get("host"), scope.get("server"))
        if not self.compute.endpoint:
            self.compute.endpoint = f"{request.url.scheme}://{request.url.netloc}/v1"
        lane = lane_of(op, plain)
        if lane == LOOP:  # the key lookup and the handler in one read snapshot, its stamps in one statement
            with self.store.lock.refused(), self.store.read() as conn, cache.prefetched(conn, _scopes(project)):
                caller = self._caller(conn, op, project, headers, request, extra, host)
                query = unflatten(pairs) if pairs else {}
                ctx = Ctx(self.store, self.worker, caller, op, headers, host, fmt, declared, compute=self.compute,
                          settings=self.settings)  # fmt: skip
                response = self._encode(Call(handler, ctx, path_params, query, {}, False, extra))
            if ctx.events:  # no read emits one today; publishing and dispatching read and may write: not here
                await run_in_threadpool(self._after, ctx)
            return response
        forward = self.writes is not None and lane == WRITER and op.tag in _SQLITE_TAGS
        wants_events = False
        if op.scopes == ("public",) and not project:
            caller = self._caller(None, op, project, headers, request, extra, host)
        else:  # on the loop, on a reader connection: never behind a write
            scopes = _forward_scopes(project) if forward else _scopes(project)
            with self.store.lock.refused(), self.store.read() as conn, cache.prefetched(conn, scopes):
                caller = self._caller(conn, op, project, headers, request, extra, host)
                if forward:  # whether the writer process should send the write's events back
                    wants_events = self.realtime.listens(caller.project) or bool(
                        self.compute.listening(conn, caller.project)
                    )
        query = unflatten(pairs) if pairs else {}
        body: dict[str, Any] | bytes = {}
        uploads: dict[str, Upload] = {}
        body_is_text = False
        if method != "GET":
            limit = op.body_cap
            _check_length(headers.get("content-length"), limit)
            capped = Request(scope, _capped(request.receive, limit))
            content_type = headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                body_is_text = True
                body, uploads = await _read_form(capped)
            else:
                body = await capped.body()  # decoded where the handler runs: a bulk body takes milliseconds
        if forward and (isinstance(body, bytes) or not (body or uploads)):  # a JSON body or none, not multipart
            raw = body if isinstance(body, bytes) else b""
            route = (op.method, op.path)
            write = WriteRequest(route, path_params, method, path, query, raw, headers, host, fmt, declared, caller,
                                 extra, wants_events)  # fmt: skip
            return await self._forward(op, write)
        ctx = Ctx(
            self.store, self.worker, caller, op, headers, host, fmt, declared, uploads, compute=self.compute,
            settings=self.settings,
        )  # fmt: skip
        call = Call(handler, ctx, path_params, query, body, body_is_text, extra)
        if lane == WRITER:
            return await self.writer.run(self._write, call)
        return await run_in_threadpool(self._run, call)

    async def _forward(self, op: Operation, write: WriteRequest) -> Response:
        """``write`` run by the writer process; its events, when it sends them, published and dispatched
        on the writer lane here, as ``_write`` does after its own writes."""
        assert self.writes is not None
        answer = await self.writes.run(write)
        if answer.events:
            await self.writer.run(self._announce, write.caller.project, answer.events, op.id, self.store.lock)
        return _RawAnswer(answer.status, answer.headers, answer.body)

    def _caller(
        self,
        conn: sqlite3.Connection | None,
        op: Operation,
        project: str | None,
        headers: dict[str, str],
        request: Request,
        extra: dict[str, str],
        host: str,
    ) -> auth.Caller:
        """Who calls (the key, session or JWT on ``conn``; a guest on a public route without a project), held to
        the route's scope."""
        if conn is None or (op.scopes == ("public",) and not project):
            caller = auth.Caller("", auth.GUEST_SCOPES, "guests")
        else:
            credentials = auth.Credentials.of(headers, request.cookies if "cookie" in headers else {})
            caller = auth.resolve(conn, project, headers.get("x-appwrite-key"), self._verify_dynamic, credentials)
        if caller.fallback is not None:
            extra["X-Debug-Fallback"] = "true" if caller.fallback else "false"
        auth.check_scope(caller, op.scopes, host)
        return caller

    def _run(self, call: Call) -> Response:
        """On a thread: the handler, its answer, then its events, in the same call (no second hop)."""
        response = self._encode(call)
        self._after(call.ctx)
        return response

    def _write(self, call: Call) -> Response:
        """On the writer lane: ``_run``, its functions dispatched under the writer lock, so what the dispatch reads
        (which functions listen) is one statement on the writer connection, not a reader's snapshot of its own
        (three statements and a pool round trip on every write). Realtime delivery stays outside it."""
        response = self._encode(call)
        self._after(call.ctx, self.store.lock)
        return response

    def _after(self, ctx: Ctx, dispatch_under: WriterLock | None = None) -> None:
        """What ``ctx``'s events start once its write is committed and its answer encoded: Realtime frames,
        then the executions they trigger (under ``dispatch_under`` when given). The write happened: a failure
        here is logged, never the answer."""
        if ctx.events:
            self._announce(ctx.caller.project, ctx.events, ctx.op.id, dispatch_under)

    def _announce(
        self, project: str, events: list[tuple[str, dict[str, Any]]], op_id: str, dispatch_under: WriterLock | None
    ) -> None:
        self.realtime.publish(project, events)  # never raises; nothing to do when none listens
        try:
            with dispatch_under or nullcontext():
                self.compute.dispatch(project, events)
        except Exception:
            log.exception("dispatching the events of %s failed", op_id)

    def _encode(self, call: Call) -> Response:
        return encode_call(self.store, call)


def encode_call(store: Store, call: Call) -> Response:
    """The parameters, the handler and its answer, encoded; a write and its encoding in one transaction
    (``_atomic``). The writer process runs it too (``writer_process``)."""
    ctx, extra, handler = call.ctx, call.extra, call.handler
    fmt = ctx.fmt
    body = call.body
    if isinstance(body, bytes):
        decoded = validation.loads(body) if body.strip() else {}
        if not isinstance(decoded, dict):
            raise ApiError("general_argument_invalid", "The request body must be a JSON object.")
        body = decoded
    formats.lift(fmt, ctx.op.id, body)
    params = bind(ctx.op, call.path_params, call.query, body, call.body_is_text)
    with store.tx() if _atomic(ctx.op, params) else nullcontext():
        result = handler(ctx, params)
        # Lowered before the events go out: as on Appwrite, a create or update event carries the payload
        # the caller gets (delete handlers emit a model of their own, which stays native).
        if isinstance(result, Reply):
            formats.lower(fmt, ctx.op.id, result.body)
        else:
            formats.lower(fmt, ctx.op.id, result)
        response = _render(result, ctx.op.status, extra)
        for cookie in result.cookies if isinstance(result, Reply) else ():  # one header each (a session's two)
            response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
        return response


def _scopes(project: str | None) -> tuple[str, ...]:
    """The generation stamps a request on the loop reads: the keys' and projects', its project's schema and who
    its sessions are."""
    if not project:
        return (cache.AUTH,)
    return (cache.AUTH, cache.schema_scope(project), cache.principals_scope(project))


def _forward_scopes(project: str | None) -> tuple[str, ...]:
    """``_scopes`` and its project's functions' stamp: a write the writer process runs is authorised on the loop,
    where whether a function listens to its events is read too."""
    if not project:
        return (cache.AUTH,)
    return (*_scopes(project), cache.functions_scope(project))


_CACHED_QUERY = 4096  # longer query strings are parsed each time, so the cache stays small


def _query_pairs(raw: bytes) -> tuple[tuple[str, str], ...]:
    """A query string's name/value pairs, as Starlette's ``QueryParams`` reads them (latin-1, then percent-decoded
    as UTF-8, blank values kept). Clients repeat their query strings (a list polled, the same page size), and
    percent-decoding a JSON query is most of reading it."""
    if not raw:
        return ()
    if len(raw) > _CACHED_QUERY:
        return _parse_query(raw)
    return _parse_query_cached(raw)


def _parse_query(raw: bytes) -> tuple[tuple[str, str], ...]:
    return tuple(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


_parse_query_cached = lru_cache(maxsize=512)(_parse_query)


@lru_cache(maxsize=256)
def _hostname(host_header: str | None, server: tuple[str, int] | None) -> str:
    """The host a request was sent to, as Starlette's ``request.url.hostname`` reads it (the Host header, else
    the server's address), lowercased, without its port; ``localhost`` when there is none."""
    if host_header:
        netloc = host_header
    elif server:
        netloc = f"{server[0]}:{server[1]}"
    else:
        return "localhost"
    return urlsplit(f"http://{netloc}/").hostname or "localhost"


def _too_large(limit: int) -> ApiError:
    return ApiError(
        "general_argument_invalid",
        f"The request body is larger than {limit:,} bytes. Upload large files in chunks (the SDK does) "
        "and split bulk writes into several requests.",
    )


def _check_length(declared: str | None, limit: int) -> None:
    """Refuse a body whose declared length is over ``limit`` before reading any of it."""
    if declared is None:
        return
    text = declared.strip()
    if not text.isdigit():
        raise ApiError("general_argument_invalid", "The Content-Length header is not a number of bytes.")
    if len(text) > 15 or int(text) > limit:  # 15 digits: far above any limit, never a long parse
        raise _too_large(limit)


def _capped(receive: Callable[[], Any], limit: int) -> Callable[[], Any]:
    """``receive`` that refuses the body once more than ``limit`` bytes have come, while reading."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message: Message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return capped


async def _read_form(request: Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """A multipart body as parameters and file parts, held to the multipart limits of ``validation``."""
    try:
        form = await request.form(
            max_files=validation.MAX_MULTIPART_FILES,
            max_fields=validation.MAX_MULTIPART_FIELDS,
            max_part_size=validation.MAX_MULTIPART_FIELD,
        )
    except ApiError:
        raise
    except Exception as exc:  # no boundary, a broken part, too many parts, a part too large: the parser's words
        raise ApiError(
            "general_argument_invalid", f"The multipart request body could not be read: {_detail(exc)}"
        ) from exc
    uploads: dict[str, Upload] = {}
    pairs: list[tuple[str, Any]] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            uploads[key] = Upload(value.filename or key, value.content_type or "", value.file)
        else:
            pairs.append((key, value))
    body = unflatten(pairs)
    for key in uploads:
        body.setdefault(key, uploads[key])
    return body, uploads


def _detail(exc: Exception) -> str:
    detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(detail)


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

    async def unrouted(request: Request, exc: Exception) -> Response:
        # Starlette's router answers 404/405 itself for what its patterns do not take (a CR or LF in
        # the path, another method): the same dispatch, so the answer is Appwrite's error JSON.
        if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
            return await server.dispatch(request)
        return error_response(ApiError("general_unknown", "Server Error", 500), server.version)

    app = _App(
        routes=[
            WebSocketRoute("/v1/realtime", realtime_socket.endpoint(server)),
            Route("/v1/{path:path}", server.dispatch, methods=methods),
            Route("/v1", server.dispatch, methods=methods),
        ],
        lifespan=lifespan,
        exception_handlers={404: unrouted, 405: unrouted},
        middleware=[Middleware(Cors, origins_of=server.origins_of, error=lambda e: error_response(e, server.version))],
    )
    app.state.server = server
    app.http = Cors(_Entry(server), origins_of=server.origins_of, error=lambda e: error_response(e, server.version))
    return app


class _Entry:
    """The HTTP requests' ASGI app: every one is dispatched (the path and method matched there, not by a router)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.server.dispatch(Request(scope, receive))
        await response(scope, receive, send)


class _App(Starlette):
    """Starlette, with HTTP requests sent straight through ``cors`` to ``Server.dispatch``.

    Every HTTP request ends in ``dispatch`` anyway (the router's own 404s and 405s are sent there), so the
    router's match and the exception middlewares are steps a request would pay for (10-15 us of the loop's
    time) without changing its answer. WebSockets (Realtime) and the lifespan go the Starlette way."""

    http: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["app"] = self
            await self.http(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def uvicorn_impl() -> dict[str, str]:
    """uvicorn's HTTP parser and event loop: httptools and uvloop (``uvicorn[standard]``) where they import,
    else the pure-Python h11 and asyncio's own loop."""
    return {"http": _importable("httptools", "h11"), "loop": _importable("uvloop", "asyncio")}


def _importable(module: str, fallback: str) -> str:
    try:
        importlib.import_module(module)
    except ImportError:
        log.info("%s is not installed (uvicorn[standard]): serving with %s", module, fallback)
        return fallback
    return module


def serve(application: Starlette, host: str, port: int, log_level: str, **options: Any) -> None:
    """Run ``application`` under uvicorn as ``quixotic server`` does (``uvicorn_impl``); ``options`` are more of
    ``uvicorn.run``'s."""
    import uvicorn

    settings: dict[str, Any] = {"access_log": False, **uvicorn_impl(), **options}
    uvicorn.run(application, host=host, port=port, log_level=log_level, **settings)
