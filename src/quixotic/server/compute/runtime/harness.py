"""The worker process of a deployment: imports the function once, then serves requests from the pool.

It runs as ``python -I -S harness.py <code_dir> <entrypoint> <fd> <venv_dir> <policy>`` with the server's base
interpreter, so it imports nothing but the standard library, and never ``quixotic``: the deployment's venv does
not have it. Before anything of the deployment is read (its venv's ``.pth`` files, its code) it confines itself
with ``sandbox.py`` and ``<policy>`` (``-``: none), then enters ``<venv_dir>`` as ``site`` would have.

Protocol. The pool hands over one end of a Unix socket pair as file descriptor ``<fd>``; stdout and stderr are
left to the function (captured per request), so they cannot corrupt the protocol. Each message is a frame:
an 8-byte header (big-endian lengths of the JSON part and of the body), a UTF-8 JSON object, then the raw body.

- harness -> pool, once after the import: ``{"type": "ready", "pid": int, "load_error": bool}``.
- pool -> harness, per execution: ``{"method", "path", "headers", "timeout"}`` + request body.
- harness -> pool, per execution: ``{"status", "headers", "logs", "errors", "retire"}`` + response body.
  ``retire`` asks the pool to discard this worker (after ``sys.exit`` in the function, or a failed import, so the
  next execution gets a fresh process that retries the import, as Open Runtimes retries it per request).

The pool enforces the timeout by killing the process group; the harness itself never times anything out.
The frame helpers are shared with the pool, which imports this module (nothing runs on import).
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.machinery
import importlib.util
import io
import json as _json
import os
import posixpath
import socket
import struct
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

LOG_LIMIT = 1_000_000  # characters kept (the end) of logs and of errors, like Appwrite
LOG_CALL_LIMIT = 8000  # characters kept of one context.log / context.error call
FRAME_HEADER = struct.Struct(">II")
MAX_META = 64 * 1024 * 1024
MAX_BODY = 1024 * 1024 * 1024
NATIVE_LOGS_WARNING = "Native logs detected. Use context.log() or context.error() for better experience."
RETURN_MISSING = "Return statement missing. return context.res.empty() if no response is expected."
INTERNAL_HEADER_PREFIX = "x-open-runtimes-"
DEFERRED_ENV = "QUIXOTIC_DEFERRED_ENV"  # JSON of variables (LD_PRELOAD...) set only once the walls are up


# --- framing (also used by the pool) -------------------------------------------------------------------------


def send_frame(sock: socket.socket, meta: dict[str, Any], body: bytes = b"", deadline: float | None = None) -> None:
    """Write one frame; raises ``TimeoutError`` once ``deadline`` (a ``time.monotonic`` value) has passed."""
    data = _json.dumps(meta, separators=(",", ":")).encode()
    _sendall(sock, FRAME_HEADER.pack(len(data), len(body)) + data, deadline)
    if body:
        _sendall(sock, body, deadline)


def recv_frame(sock: socket.socket, deadline: float | None = None) -> tuple[dict[str, Any], bytes] | None:
    """Read one frame; ``None`` on a clean end of stream, ``EOFError`` when it stops inside a frame."""
    header = _recv_exact(sock, FRAME_HEADER.size, deadline, allow_eof=True)
    if header is None:
        return None
    meta_len, body_len = FRAME_HEADER.unpack(header)
    if meta_len > MAX_META or body_len > MAX_BODY:
        raise EOFError(f"oversized frame ({meta_len} + {body_len} bytes)")
    meta = _json.loads(_recv_exact(sock, meta_len, deadline) or b"{}")
    if not isinstance(meta, dict):
        raise EOFError("frame metadata is not an object")
    body = (_recv_exact(sock, body_len, deadline) or b"") if body_len else b""
    return meta, body


def _set_timeout(sock: socket.socket, deadline: float | None) -> None:
    if deadline is None:
        sock.settimeout(None)
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    sock.settimeout(left)


def _sendall(sock: socket.socket, data: bytes, deadline: float | None) -> None:
    view = memoryview(data)
    while view:
        _set_timeout(sock, deadline)
        sent = sock.send(view)
        view = view[sent:]


def _recv_exact(sock: socket.socket, size: int, deadline: float | None, allow_eof: bool = False) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        _set_timeout(sock, deadline)
        n = sock.recv_into(view[got:])
        if n == 0:
            if got == 0 and allow_eof:
                return None
            raise EOFError("connection closed inside a frame")
        got += n
    return bytes(buf)


# --- bounded capture -----------------------------------------------------------------------------------------


class BoundedText:
    """Text that keeps only its last ``limit`` characters, so a function printing 100 MB costs ~2 MB."""

    def __init__(self, limit: int = LOG_LIMIT) -> None:
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            if len(text) >= self._limit:
                self._parts = [text[-self._limit :]]
                self._size = self._limit
                return
            self._parts.append(text)
            self._size += len(text)
            if self._size > 2 * self._limit:
                kept = "".join(self._parts)[-self._limit :]
                self._parts = [kept]
                self._size = len(kept)

    def getvalue(self) -> str:
        with self._lock:
            return "".join(self._parts)[-self._limit :]

    def take(self) -> str:
        """Return the text and start afresh (one execution's worth)."""
        with self._lock:
            value = "".join(self._parts)[-self._limit :]
            self._parts = []
            self._size = 0
            return value


class _BinarySink(io.RawIOBase):
    """``sys.stdout.buffer`` for code that writes bytes; decoded leniently into the same capture."""

    def __init__(self, target: BoundedText) -> None:
        super().__init__()
        self._target = target

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self._target.write(raw.decode("utf-8", errors="replace"))
        return len(raw)


class CaptureStream(io.TextIOBase):
    """Stands in for ``sys.stdout`` and ``sys.stderr`` for the whole life of the process.

    One object for the process (not one per request), so logging handlers that kept a reference to
    ``sys.stderr`` at import time keep writing into the current execution's logs.
    """

    def __init__(self, target: BoundedText) -> None:
        super().__init__()
        self._target = target
        self._binary = _BinarySink(target)

    @property  # read-only at runtime, though typeshed declares a plain attribute
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    @property
    def buffer(self) -> io.RawIOBase:
        return self._binary

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: Any) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._target.write(text)
        return len(text)


# --- the Open Runtimes context -------------------------------------------------------------------------------


class Request:
    """``context.req`` with the snake_case fields of the Open Runtimes v5 Python runtime."""

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        path, _, query_string = target.partition("?")
        self.method = method.upper()
        self.path = path or "/"
        self.query_string = query_string
        self.query = _parse_query(query_string)
        self.headers = {k.lower(): v for k, v in headers.items() if not k.lower().startswith(INTERNAL_HEADER_PREFIX)}
        self.body_binary = body
        self.scheme = self.headers.get("x-forwarded-proto", "http") or "http"
        default_port = 443 if self.scheme == "https" else 80
        host_header = self.headers.get("host", "") or "localhost"
        host, port = _split_host(host_header, default_port)
        self.host = host
        self.port = port
        shown_port = "" if port == default_port else f":{port}"
        self.url = f"{self.scheme}://{host}{shown_port}{self.path}" + (f"?{query_string}" if query_string else "")

    @property
    def body_text(self) -> str:
        return self.body_binary.decode("utf-8")

    @property
    def body_raw(self) -> str:
        return self.body_text

    @property
    def body_json(self) -> Any:
        return _json.loads(self.body_text)

    @property
    def body(self) -> Any:
        if self.headers.get("content-type", "").startswith("application/json"):
            return self.body_json if self.body_binary else {}
        return self.body_text


def _parse_query(query_string: str) -> dict[str, str]:
    """Naive split on '&' and '=', not URL-decoded, as the runtime does."""
    query: dict[str, str] = {}
    for part in query_string.split("&"):
        key, _, value = part.partition("=")
        if key:
            query[key] = value
    return query


def _split_host(value: str, default_port: int) -> tuple[str, int]:
    if value.startswith("["):  # [::1]:8080
        end = value.find("]")
        if end != -1:
            rest = value[end + 1 :]
            if rest.startswith(":") and rest[1:].isdigit():
                return value[: end + 1], int(rest[1:])
            return value[: end + 1], default_port
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return value, default_port


class Response:
    """``context.res``: each method returns the dict the runtime turns into the HTTP response.

    Unlike Open Runtimes, ``json()`` and ``redirect()`` do not mutate a shared default ``headers`` dict,
    so a content-type set by one call never leaks into a later ``text()``.
    """

    def send(self, body: Any, statusCode: int = 200, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"body": body, "statusCode": statusCode, "headers": dict(headers or {})}

    def text(self, body: Any, statusCode: int = 200, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.send(body, statusCode, headers)

    def binary(self, bytes: Any, statusCode: int = 200, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.send(bytes, statusCode, headers)

    def json(self, obj: Any, statusCode: int = 200, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        merged = dict(headers or {})
        merged["content-type"] = "application/json"
        return self.send(_json.dumps(obj, separators=(",", ":")), statusCode, merged)

    def empty(self) -> dict[str, Any]:
        return self.send("", 204, {})

    def redirect(self, url: str, statusCode: int = 301, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        merged = dict(headers or {})
        merged["location"] = url
        return self.send("", statusCode, merged)


def _format_message(messages: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for message in messages:
        if isinstance(message, dict | list):
            try:
                parts.append(_json.dumps(message, default=str))
            except (TypeError, ValueError):
                parts.append(str(message))
        else:
            parts.append(str(message))
    return " ".join(parts)[:LOG_CALL_LIMIT]


class Context:
    """The ``context`` argument of ``main``."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.res = Response()
        self._logs = BoundedText()
        self._errors = BoundedText()

    def log(self, *messages: Any) -> None:
        self._logs.write(_format_message(messages) + "\n")

    def error(self, *messages: Any) -> None:
        self._errors.write(_format_message(messages) + "\n")


# --- loading and running -------------------------------------------------------------------------------------


def load_main(code_dir: str, entrypoint: str) -> Callable[..., Any]:
    """Import the entrypoint as ``function.<path with dots>`` (relative imports work, as in Open Runtimes)."""
    rel = posixpath.normpath(entrypoint.replace("\\", "/"))
    if rel.startswith(("/", "../")) or rel in ("..", "."):
        raise ImportError(f"Entrypoint {entrypoint} is not a relative path inside the deployment.")
    path = os.path.join(code_dir, rel)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Entrypoint {entrypoint} not found in the deployment.")
    for folder in (code_dir, os.path.dirname(path)):  # the entrypoint's folder first, as for a script
        if folder not in sys.path:
            sys.path.insert(0, folder)
    root = types.ModuleType("function")
    root.__path__ = [code_dir]
    sys.modules["function"] = root
    parent = "function"
    for part in rel.split("/")[:-1]:
        parent = f"{parent}.{part}"
        importlib.import_module(parent)
    stem = posixpath.basename(rel)
    stem = stem[:-3] if stem.endswith(".py") else stem
    name = f"{parent}.{stem}"
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise ImportError(f"Cannot load {entrypoint}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    main = getattr(module, "main", None)
    if not callable(main):
        raise AttributeError(f"Entrypoint {entrypoint} does not define a main(context) function.")
    return main  # type: ignore[no-any-return]


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    return str(body).encode("utf-8")


def _response_headers(raw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            name = str(key).lower()
            if not name.startswith(INTERNAL_HEADER_PREFIX):
                headers[name] = str(value)
    content_type = headers.get("content-type", "text/plain")
    if not content_type.startswith("multipart/") and "charset=" not in content_type.lower():
        content_type += "; charset=utf-8"
    headers["content-type"] = content_type
    return headers


def _join_logs(logs: str, native: str) -> str:
    """Append the native output after the warning line, keeping the total within LOG_LIMIT."""
    if not native:
        return logs
    block = ("" if not logs or logs.endswith("\n") else "\n") + NATIVE_LOGS_WARNING + "\n"
    budget = LOG_LIMIT - len(block)
    native = native[-budget:]
    room = budget - len(native)
    logs = logs[-room:] if room > 0 else ""
    return logs + block + native


class Harness:
    """Serves executions one at a time on the protocol socket."""

    def __init__(self, sock: socket.socket, code_dir: str, entrypoint: str) -> None:
        self.sock = sock
        self.code_dir = code_dir
        self.entrypoint = entrypoint
        self.native = BoundedText()
        self.main: Callable[..., Any] | None = None
        self.load_error = ""
        self.loop: Any = None  # an asyncio loop, created on the first coroutine (keeps cold starts lean)

    def load(self) -> None:
        try:
            self.main = load_main(self.code_dir, self.entrypoint)
        except BaseException:
            self.load_error = traceback.format_exc()

    def run_main(self, context: Context) -> Any:
        assert self.main is not None
        result = self.main(context)
        if hasattr(result, "__await__"):  # async def main, or a sync main returning a coroutine
            import asyncio

            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                asyncio.set_event_loop(self.loop)

            async def wait(awaitable: Any) -> Any:
                return await awaitable

            result = self.loop.run_until_complete(wait(result))
        return result

    def handle(self, meta: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        if self.main is None:
            logs = _join_logs("", self.native.take())
            reply = {"status": 503, "headers": {}, "logs": logs, "errors": self.load_error, "retire": True}
            return reply, b""
        headers = {str(k).lower(): str(v) for k, v in dict(meta.get("headers") or {}).items()}
        context = Context(Request(str(meta.get("method") or "GET"), str(meta.get("path") or "/"), headers, body))
        retire = False
        status = 500
        out_headers: dict[str, str] = {}
        out_body = b""
        try:
            result = self.run_main(context)
            if result is None:
                context._errors.write(RETURN_MISSING + "\n")
            elif not isinstance(result, dict):
                context._errors.write(
                    f"Invalid return value of type {type(result).__name__}: return one of the context.res.* methods.\n"
                )
            else:
                out_body = _body_bytes(result.get("body"))
                out_headers = _response_headers(result.get("headers"))
                status = int(result.get("statusCode", 200))
        except SystemExit as exc:
            context._errors.write(f"The function called sys.exit({exc.code!r}); the worker will be restarted.\n")
            context._errors.write(traceback.format_exc())
            retire = True
        except BaseException:
            context._errors.write(traceback.format_exc())
        logs = _join_logs(context._logs.getvalue(), self.native.take())
        reply = {
            "status": status,
            "headers": out_headers,
            "logs": logs,
            "errors": context._errors.getvalue(),
            "retire": retire,
        }
        return reply, out_body

    def serve(self) -> None:
        send_frame(self.sock, {"type": "ready", "pid": os.getpid(), "load_error": self.main is None})
        while True:
            frame = recv_frame(self.sock)
            if frame is None:
                return
            reply, body = self.handle(*frame)
            send_frame(self.sock, reply, body)
            if reply.get("retire"):
                return


def _watch_parent() -> None:
    """End this worker when the server dies, even in the middle of a function that never returns."""
    parent = os.getppid()
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _confine(policy: str) -> None:
    """Put the walls up (``sandbox.py``, beside this file); raises when they cannot be."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")
    spec = importlib.util.spec_from_file_location("_quixotic_sandbox", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.confine(_json.loads(policy))


def _enter_venv(venv_dir: str) -> None:
    """What starting ``<venv>/bin/python`` would have done: the venv's site-packages (and its ``.pth`` files, run
    now, inside the walls) on ``sys.path``, the venv as ``sys.prefix`` and its python as ``sys.executable``."""
    import site

    sys.prefix = sys.exec_prefix = venv_dir
    sys.executable = os.path.join(venv_dir, "bin", "python")
    site.PREFIXES[:] = [venv_dir]
    site.ENABLE_USER_SITE = False
    site.main()


def run(argv: list[str]) -> None:
    code_dir, entrypoint, fd = argv[1], argv[2], int(argv[3])
    venv_dir = argv[4] if len(argv) > 4 else ""
    policy = argv[5] if len(argv) > 5 else "-"
    sock = socket.socket(fileno=fd)
    os.set_inheritable(fd, False)  # subprocesses of the function must not get the protocol socket
    if policy != "-":  # first, while this is the only thread (Landlock confines the calling thread)
        try:
            _confine(policy)
        except Exception as exc:
            message = f"The function sandbox could not be set up, so the code was not run: {exc}"
            send_frame(sock, {"type": "refused", "message": message})
            os._exit(70)
    deferred = os.environ.pop(DEFERRED_ENV, "")
    if deferred:  # now that nothing of it can run outside the walls: for the function and its children
        os.environ.update(_json.loads(deferred))
    if venv_dir:
        _enter_venv(venv_dir)
    harness_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != harness_dir]
    sys.argv = [os.path.join(code_dir, entrypoint)]
    faulthandler.enable(file=sys.__stderr__ or sys.stderr)  # a segfault leaves a trace in the worker log
    threading.Thread(target=_watch_parent, name="parent-watch", daemon=True).start()
    harness = Harness(sock, code_dir, entrypoint)
    capture = CaptureStream(harness.native)
    sys.stdout = capture
    sys.stderr = capture
    harness.load()
    try:
        harness.serve()
    except (EOFError, OSError):
        pass
    os._exit(0)  # skip interpreter teardown: threads the function left running must not keep us alive


if __name__ == "__main__":
    run(sys.argv)
