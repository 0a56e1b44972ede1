"""Database writes in a process of their own, so they never hold the GIL that the event loop's reads need (the
default; ``QUIXOTIC_WRITER_PROCESS=off`` keeps them on the server's writer thread).

Why: with the writer lane on a thread, a client bulk-creating rows takes half of the one interpreter's time, and
a keyed GET beside it waits for the GIL at every SQLite call and socket write: its p99 is 4-5x its idle p99 and
the writer gets ~8,000 rows/s. Two server processes on one data folder, the reads on one and the bulk writes on
the other, measured 1.0-1.5x and 35,000-40,000 rows/s on the same 2-core machine. SQLite's WAL already lets
processes share the folder (readers never wait for the writer; the caches follow every process's writes through
their generation stamps), so the writer process is the same store and handlers with no sockets of its own.

What goes there: the row, table, column, index and transaction routes of TablesDB and the legacy Databases API
that the writer lane would run (``app.lane_of``), with a JSON body or none. The event loop still matches the
route, resolves the caller and reads the body; the writer process binds, runs the handler and encodes the answer
in one transaction, as the lane does (``app.encode_call``). Its events come back only when somebody may want
them (a Realtime subscription in the project, or a function that listens), and the loop's process publishes and
dispatches them: the writer process has no Realtime hub and starts no executions. Who may want them is read
with the caller, before the write: a subscription made while the write runs may miss it, as on Appwrite.
Column and index builds run on the writer process's own background worker.

The channel is a socket pair: frames of a 4-byte length and a pickle (both ends are this package; nothing else
can write to it). The writer process answers one request before it reads the next, so answers come back in the
order of the requests, and it acknowledges each as it reads it. If it dies, the request it was running gets a 500
that says the write may or may not have been applied (SQLite applied all of it or none); those it had not read
go to a new writer process, as does the next write.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from quixotic.errors import ApiError
from quixotic.server.auth import Caller
from quixotic.server.formats import Version
from quixotic.server.settings import ServerSettings

log = logging.getLogger("quixotic.server")

Events = list[tuple[str, dict[str, Any]]]
_LENGTH = 4
# Run as the module's own name, not __main__, so what it unpickles is of the classes it checks for.
_CHILD = "from quixotic.server.writer_process import main; main()"
START_TIMEOUT = 60.0  # seconds a new writer process may take to import and open the store
STOP_TIMEOUT = 10.0  # seconds it may take to finish its write and its background jobs when the server stops
SEND_ATTEMPTS = 3  # writer processes a request may go to when each stops before reading it
_READ = (0).to_bytes(_LENGTH, "big")  # the writer process's "I have read the next request"


@dataclass(frozen=True)
class WriteRequest:
    """What the writer process needs of a request the loop has matched, authorised and read."""

    route: tuple[str, str]  # the operation the loop matched (its method and path template: an ID is not unique)
    path_params: dict[str, str]  # what the loop read from the path
    method: str
    path: str  # without /v1, as the loop matched it (for the log)
    query: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    host: str
    fmt: Version
    declared: Version | None
    caller: Caller
    extra: dict[str, str] = field(default_factory=dict)
    events: bool = False  # whether the answer should carry the write's events


@dataclass(frozen=True)
class WriteAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    events: Events = field(default_factory=list)


def frame(value: object) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_LENGTH, "big") + data


class _Unread(Exception):
    """The writer process stopped before it read the request: nothing of it was applied, so it can go to the next
    writer process (``WriterProcess.run``)."""


class _Channel(asyncio.Protocol):
    """The loop's end of the socket pair to one writer process: cuts what comes in into frames and settles the
    requests waiting on it in order; when it closes, tells every one still waiting.

    The writer process acknowledges each request as soon as it has read it (an empty frame), before it starts on
    it. So when it dies, the requests it had read may or may not have been applied (SQLite applied all or none of
    each), and those it had not read were certainly not: they are sent again to a new writer process rather than
    failed. A process that is being killed can still look alive for a moment (its threads are exiting), so a
    request written in that moment is one it never reads.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.read = 0  # how many of the requests at the head of ``waiting`` the writer process has read
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def usable(self) -> bool:
        """Whether the channel is open. A writer process that died but whose end has not been read yet looks
        usable: what is written to it is never read, and goes to the next one (``connection_lost``)."""
        transport = self.transport
        return transport is not None and not transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one without being its subclass

    def send(self, value: object) -> asyncio.Future[Any]:
        """``value`` written; the future of its answer."""
        assert self.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(frame(value))
        return future

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _LENGTH:
            size = int.from_bytes(buffer[:_LENGTH], "big")
            if len(buffer) < _LENGTH + size:
                return
            if size == 0:  # the next request has been read
                del buffer[:_LENGTH]
                self.read += 1
                continue
            value = pickle.loads(buffer[_LENGTH : _LENGTH + size])
            del buffer[: _LENGTH + size]
            # One answer per request, in order; a request whose waiter was cancelled (the client went away) still
            # takes its own answer, which is dropped.
            future = self.waiting.popleft()
            self.read -= 1
            if not future.done():
                future.set_result(value)

    def connection_lost(self, exc: Exception | None) -> None:
        code = self.proc.poll()
        how = f"exit status {code}" if code is not None else "its channel closed"
        error = ApiError(
            "general_server_error",
            f"The server's writer process stopped ({how}) while it ran this request: the write was applied "
            "completely or not at all. Read the resource back before you retry; the next write starts a new "
            "writer process.",
        )
        waiting, read = list(self.waiting), self.read
        self.waiting, self.read = collections.deque(), 0
        lost = 0
        for index, future in enumerate(waiting):
            if future.done():
                continue
            if index < read:
                future.set_exception(error)
                lost += 1
            else:
                future.set_exception(_Unread(how))
        if waiting:
            log.error("the writer process %s stopped (%s): %d request(s) it was running failed, %d it had not read "
                      "go to the next one", self.proc.pid, how, lost, len(waiting) - lost)  # fmt: skip


class WriterProcess:
    """The loop's handle on the writer process: started at the first write, started again after it died."""

    def __init__(self, data_dir: Path, settings: ServerSettings) -> None:
        self.data_dir, self.settings = data_dir, settings
        self._channel: _Channel | None = None
        # The loop's end of the socket pair, kept to shut it at once when stopping: a transport closes only on a
        # later turn of the loop, which stopping (a blocking wait for the process) does not give it.
        self._end: socket.socket | None = None
        self._starting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, request: WriteRequest) -> WriteAnswer:
        """``request`` written and answered by the writer process (started first when none runs; a new one when it
        stopped before reading the request)."""
        stopped = ""
        for _ in range(SEND_ATTEMPTS):
            channel = self._channel if self._loop is asyncio.get_running_loop() else None
            if channel is None or not channel.usable():
                channel = await self._start()
            try:
                answer = await channel.send(request)
            except _Unread as exc:
                stopped = str(exc)
                continue
            assert isinstance(answer, WriteAnswer)
            return answer
        raise ApiError(
            "general_server_error",
            f"The server's writer process stopped {SEND_ATTEMPTS} times before it read this request (the last: "
            f"{stopped}); nothing of it was applied. See the server's log, or run the server with "
            "QUIXOTIC_WRITER_PROCESS=off.",
        )

    async def _start(self) -> _Channel:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (an in-process test client): nothing of the old one is usable
            self._stop_process()
            self._loop, self._starting = loop, asyncio.Lock()
        assert self._starting is not None
        async with self._starting:
            if self._channel is not None and self._channel.usable():
                return self._channel  # another request started it meanwhile
            self._stop_process()
            ours, theirs = socket.socketpair()
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                )  # fmt: skip
            except OSError as exc:
                ours.close()
                raise ApiError("general_server_error", f"The writer process could not be started: {exc}.") from exc
            finally:
                theirs.close()
            channel = _Channel(proc)
            self._end = ours.dup()
            await loop.create_connection(lambda: channel, sock=ours)
            self._channel = channel
            ready = channel.send((str(self.data_dir), self.settings))  # answered once it has opened the store
            try:
                await asyncio.wait_for(ready, START_TIMEOUT)
            except (_Unread, ApiError):  # its channel closed before it was ready
                self._stop_process()
                raise ApiError(
                    "general_server_error",
                    f"The writer process stopped as it started (exit status {proc.poll()}); see the server's log, "
                    "or run the server with QUIXOTIC_WRITER_PROCESS=off.",
                ) from None
            except TimeoutError:
                self._stop_process()
                raise ApiError(
                    "general_server_error",
                    f"The writer process did not start within {START_TIMEOUT:.0f} s; see the server's log, or "
                    "run the server with QUIXOTIC_WRITER_PROCESS=off.",
                ) from None
            log.info("writer process %s serves database writes", proc.pid)
            return channel

    def _stop_process(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and channel.transport is not None:
            channel.transport.close()
        end, self._end = self._end, None
        if end is not None:
            with contextlib.suppress(OSError):  # the writer process reads the end of its requests
                end.shutdown(socket.SHUT_RDWR)
            end.close()
        if channel is None:
            return
        try:
            channel.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("the writer process %s did not stop within %.0f s: killed", channel.proc.pid, STOP_TIMEOUT)
            channel.proc.kill()
            channel.proc.wait()

    def close(self) -> None:
        """Stop the writer process once its write and background jobs are done (the channel's end tells it)."""
        self._stop_process()


# --- the writer process itself ---------------------------------------------------------------------------------


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_frame(sock: socket.socket) -> object | None:
    head = _read_exactly(sock, _LENGTH)
    if head is None:
        return None
    data = _read_exactly(sock, int.from_bytes(head, "big"))
    return None if data is None else pickle.loads(data)


class _Writes:
    """What the writer process runs requests with: a store on the data folder, a background worker, the routes
    and the handlers (no Realtime hub, no function engine)."""

    def __init__(self, data_dir: Path, settings: ServerSettings) -> None:
        from quixotic.server import app  # here, not at the top: app imports this module
        from quixotic.server.console.routes import with_console
        from quixotic.server.registry import load_all
        from quixotic.server.store import Store
        from quixotic.server.worker import Worker

        self.app = app
        self.settings = settings
        self.store = Store(data_dir)
        self.worker = Worker()
        self.operations = {(op.method, op.path): op for op in with_console().operations}
        self.handlers = load_all()

    def answer(self, request: WriteRequest) -> WriteAnswer:
        from quixotic.server.context import Ctx

        app, ctx = self.app, None
        try:
            op = self.operations.get(request.route)
            handler = self.handlers.get(op.id) if op is not None else None
            if op is None or handler is None:
                raise ApiError("general_route_not_found", f"{request.method} {request.path} is not a database write.")
            ctx = Ctx(self.store, self.worker, request.caller, op, request.headers, request.host, request.fmt,
                      request.declared, settings=self.settings)  # fmt: skip
            call = app.Call(handler, ctx, request.path_params, request.query, request.body, False, request.extra)
            response = app.encode_call(self.store, call)
        except Exception as exc:
            response = app.failure_response(exc, request.method, request.path, self.settings.appwrite_version)
        events = ctx.events if ctx is not None and request.events and response.status_code < 400 else []
        return WriteAnswer(response.status_code, list(response.raw_headers), bytes(response.body), events)

    def close(self) -> None:
        self.worker.stop()
        self.store.close()


def serve(sock: socket.socket) -> None:
    """Answer the requests that come on ``sock`` until its other end closes (the server stopped)."""
    opening = _read_frame(sock)
    if opening is None:
        return
    assert isinstance(opening, tuple)
    data_dir, settings = opening
    assert isinstance(data_dir, str) and isinstance(settings, ServerSettings)
    sock.sendall(_READ)
    writes = _Writes(Path(data_dir), settings)
    try:
        sock.sendall(frame(("ready", os.getpid())))
        while (request := _read_frame(sock)) is not None:
            sock.sendall(_READ)  # before anything of it is applied: see _Channel
            assert isinstance(request, WriteRequest)
            sock.sendall(frame(writes.answer(request)))
    finally:
        writes.close()


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server stops, and this process with it once the
    # server closes the channel, never in the middle of a write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s writer process: %(message)s")
    with socket.socket(fileno=int(sys.argv[1])) as sock:
        serve(sock)
