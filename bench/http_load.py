"""Keep-alive HTTP/1.1 load against one endpoint, so a benchmark measures the server and not an SDK client.

    .venv/bin/python bench/http_load.py http://127.0.0.1:8000/v1/health -c 2 -d 5 -H 'X-Appwrite-Project: p'
    .venv/bin/python bench/http_load.py --trivial-server 8123     # the canned endpoint (see below)

``wrk`` runs a timed load when it is on PATH (or ``--tool wrk``); otherwise, and for a fixed count, an asyncio
client does (on uvloop where installed): N connections, each sending the next request from the callback that
reads the previous answer, for a fixed duration (after a warm-up whose requests are not counted) or a fixed
count. Only 2xx answers count as requests; others are errors, the first one kept to say why. Latencies go into
a log-bucket histogram (2 % wide), from which p50/p90/p99 come.

A load generator can be the bottleneck itself, so ``--trivial-server`` serves a canned ``{}`` answer per request
with no framework at all: what a generator reaches against it is its own ceiling, and its CPU per request there
is its own cost. A figure against a real server near that ceiling measures the client, not the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

_STEP = math.log(1.02)  # histogram buckets 2 % wide
STALL = 30.0  # seconds past a timed run's end after which a connection still waiting is given up


@dataclass
class Histogram:
    """Latencies in nanoseconds, bucketed logarithmically: bounded memory whatever the request count."""

    buckets: Counter[int] = field(default_factory=Counter)
    count: int = 0
    max_ns: int = 0

    def add(self, ns: int) -> None:
        self.buckets[int(math.log(max(ns, 1)) / _STEP)] += 1
        self.count += 1
        self.max_ns = max(self.max_ns, ns)

    def merge(self, other: Histogram) -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.max_ns = max(self.max_ns, other.max_ns)

    def percentile_ms(self, pct: float) -> float:
        """The latency (ms) below which ``pct`` % of the requests fall (each bucket read at its middle)."""
        if not self.count:
            return math.nan
        rank = max(1, math.ceil(self.count * pct / 100))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(math.exp((index + 0.5) * _STEP), self.max_ns) / 1e6
        return self.max_ns / 1e6


@dataclass(frozen=True)
class Request:
    """One HTTP request, sent the same way on every iteration."""

    method: str
    url: str  # absolute: http://host:port/path?query
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def encode(self) -> bytes:
        parts = urlsplit(self.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        host, port = self.host_port
        lines = [f"{self.method} {target} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class LoadResult:
    """What one load run measured. CPU figures are microseconds per counted request; None where not measured."""

    tool: str
    connections: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_us: float | None = None  # the generator's own CPU (the asyncio client's thread)
    server_cpu_us: float | None = None  # the target process's CPU, when a probe was given
    first_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class LoadError(Exception):
    """The load could not run (no connection, wrk missing or failing, every request refused)."""


CpuProbe = Callable[[], float]  # seconds of CPU a target process has used so far


def _stat_fields(path: Path) -> list[str]:
    """A /proc ``stat`` file's fields after the command name (which may hold spaces): state, ppid, ..."""
    return path.read_text().rsplit(")", 1)[1].split()


def _ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def process_cpu(pid: int) -> CpuProbe:
    """A probe of ``pid``'s user+system CPU seconds (all its threads), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stat = Path(f"/proc/{pid}/stat")
    return lambda: _ticks(_stat_fields(stat)) / tick


def process_tree_cpu(pid: int) -> CpuProbe:
    """A probe of the CPU seconds of ``pid`` and its live children together (the server and its writer process:
    a request's cost is what both spend on it)."""
    tick = os.sysconf("SC_CLK_TCK")

    def probe() -> float:
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = _stat_fields(entry / "stat")
            except OSError:  # gone meanwhile
                continue
            if entry.name == str(pid) or fields[1] == str(pid):  # ppid: field 4 of stat
                total += _ticks(fields)
        return total / tick

    return probe


def _thread_cpu() -> float:
    usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return usage.ru_utime + usage.ru_stime


# --- the asyncio client ---------------------------------------------------------------------------


class _Run:
    """State shared by the connections of one asyncio run."""

    def __init__(self, measure_from: float, until: float, count: int | None) -> None:
        self.measure_from, self.until, self.count = measure_from, until, count
        self.sent = 0  # requests started, warm-up included (for --count)
        self.done = 0  # requests completed, warm-up included (for the client's CPU per request)
        self.errors = 0
        self.first_error: str | None = None
        self.hist = Histogram()

    def more(self, now: float) -> bool:
        if self.count is not None:
            return self.sent < self.count
        return now < self.until

    def error(self, what: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = what


def _parse_head(head: bytes) -> tuple[int, int | None, bool]:
    """Status, body length (None: chunked) and whether the server keeps the connection open."""
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length: int | None = 0
    keep = True
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            length = None
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    return status, length, keep


class _Client(asyncio.Protocol):
    """One keep-alive connection: sends the next request from the callback that completes the last answer,
    so a request costs the loop one read and one write and no task switch (the client stays cheap)."""

    def __init__(self, raw: bytes, run: _Run, loop: asyncio.AbstractEventLoop) -> None:
        self.raw, self.run, self.loop = raw, run, loop
        self.closed: asyncio.Future[None] = loop.create_future()
        self.buf = b""
        self.head: tuple[int, int | None, bool] | None = None
        self.in_flight = False
        self.began, self.started = 0.0, 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.send()

    def send(self) -> None:
        if not self.run.more(self.loop.time()):
            self.transport.close()
            return
        self.run.sent += 1
        self.in_flight = True
        self.began, self.started = self.loop.time(), time.perf_counter_ns()
        self.transport.write(self.raw)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.in_flight:
            if self.head is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                try:
                    self.head = _parse_head(self.buf[:end])
                except (ValueError, IndexError):
                    self.fail(f"unreadable response head: {self.buf[:200]!r}")
                    return
                self.buf = self.buf[end + 4 :]
            status, length, keep = self.head
            if length is None:  # chunked: JSON bodies hold no bare CRLF, so the last chunk is found by its bytes
                end = self.buf.find(b"0\r\n\r\n")
                if end < 0 or (end and self.buf[end - 2 : end] != b"\r\n"):
                    return
                body, self.buf = self.buf[:end], self.buf[end + 5 :]
            else:
                if len(self.buf) < length:
                    return
                body, self.buf = self.buf[:length], self.buf[length:]
            self.head = None
            self.complete(status, body, keep)

    def complete(self, status: int, body: bytes, keep: bool) -> None:
        elapsed = time.perf_counter_ns() - self.started
        run, now = self.run, self.loop.time()
        self.in_flight = False
        run.done += 1
        if self.began >= run.measure_from and (run.count is not None or now <= run.until):
            if 200 <= status < 300:
                run.hist.add(elapsed)
            else:
                run.error(f"HTTP {status}: {body[:300].decode(errors='replace')}")
        if keep:
            self.send()
        else:
            self.transport.close()

    def fail(self, what: str) -> None:
        self.run.error(what)
        self.in_flight = False
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            self.run.error(f"connection lost mid-request: {exc or 'closed by the server'}")
        if not self.closed.done():
            self.closed.set_result(None)


async def _connection(request: Request, raw: bytes, run: _Run) -> None:
    """One connection's share of the run, reconnecting when the server closes it."""
    host, port = request.host_port
    loop = asyncio.get_running_loop()
    while run.more(loop.time()):
        try:
            _, client = await loop.create_connection(lambda: _Client(raw, run, loop), host, port)
        except OSError as exc:
            run.sent += 1  # an attempt: a fixed count ends even when nothing listens
            run.error(f"connect: {exc}")
            await asyncio.sleep(0.05)
            continue
        left = run.until - loop.time() + STALL if run.count is None else None
        try:
            await asyncio.wait_for(asyncio.shield(client.closed), left)
        except TimeoutError:
            run.error(f"no answer within {STALL:.0f} s of the end of the run")
            client.transport.abort()
            return


async def _asyncio_load(
    request: Request, connections: int, duration: float, warmup: float, count: int | None, probe: CpuProbe | None
) -> LoadResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + (0 if count is not None else warmup)
    run = _Run(measure_from, measure_from + duration, count)
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = loop.time()
        if probe is not None:
            marks[f"{name}.server"] = probe()

    if count is not None or warmup <= 0:
        mark("from")
    else:
        loop.call_at(measure_from, mark, "from")
    cpu_before = _thread_cpu()
    await asyncio.gather(*(_connection(request, request.encode(), run) for _ in range(connections)))
    cpu_used = _thread_cpu() - cpu_before
    mark("until")
    seconds = marks["until"] - marks.get("from", measure_from)
    counted = run.hist.count
    server_cpu = None
    if probe is not None and "from.server" in marks and counted:
        server_cpu = (marks["until.server"] - marks["from.server"]) / counted * 1e6
    return LoadResult(
        tool="asyncio",
        connections=connections,
        seconds=seconds,
        requests=counted,
        errors=run.errors,
        rps=counted / seconds if seconds > 0 else math.nan,
        p50_ms=run.hist.percentile_ms(50),
        p90_ms=run.hist.percentile_ms(90),
        p99_ms=run.hist.percentile_ms(99),
        max_ms=run.hist.max_ns / 1e6,
        client_cpu_us=cpu_used / run.done * 1e6 if run.done else None,
        server_cpu_us=server_cpu,
        first_error=run.first_error,
    )


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (a cheaper client), else asyncio's."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def client_loop() -> str:
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


# --- wrk ------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk(output: str, connections: int) -> LoadResult:
    """A LoadResult from the text ``wrk --latency`` prints."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if done is None or rate is None:
        raise LoadError(f"cannot read wrk's output:\n{output[-2000:]}")
    pct = {int(p): _ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)}
    latency = re.search(r"^\s+Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)", output, re.M)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    refused = int(non2xx.group(1)) if non2xx else 0
    seconds = _ms(done.group(2), done.group(3)) / 1e3
    answered = int(done.group(1)) - refused  # counted as the asyncio client counts: 2xx answers only
    first_error = None
    if non2xx:
        first_error = f"{non2xx.group(0).strip()} (wrk shows no answer: --tool asyncio prints the first)"
    elif sockets and socket_errors:
        first_error = sockets.group(0)
    return LoadResult(
        tool="wrk",
        connections=connections,
        seconds=seconds,
        requests=answered,
        errors=socket_errors + refused,
        rps=answered / seconds if seconds > 0 else float(rate.group(1)),
        p50_ms=pct.get(50, math.nan),
        p90_ms=pct.get(90, math.nan),
        p99_ms=pct.get(99, math.nan),
        max_ms=_ms(*latency.groups()) if latency else math.nan,
        first_error=first_error,
    )


def _lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal (no escapes to translate), at a level the text does not close."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _wrk_script(request: Request) -> str:
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in request.headers.items()]
    if request.body:
        lines.append(f"wrk.body = {_lua_string(request.body.decode())}")
    return "\n".join(lines) + "\n"


def _wrk_load(
    wrk: str, request: Request, connections: int, duration: float, warmup: float, probe: CpuProbe | None
) -> LoadResult:
    threads = max(1, min(connections, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "request.lua"
        script.write_text(_wrk_script(request))

        def wrk_run(seconds: float) -> str:
            command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                       "--latency", "-s", str(script), request.url]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
            if done.returncode != 0:
                raise LoadError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
            return done.stdout

        if warmup > 0:
            wrk_run(warmup)
        before = probe() if probe is not None else None
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = parse_wrk(wrk_run(duration), connections)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.requests:  # wrk's own CPU: what this process's finished children used during the run
            used = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            result.client_cpu_us = used / result.requests * 1e6
        if probe is not None and before is not None and result.requests:
            result.server_cpu_us = (probe() - before) / result.requests * 1e6
    return result


# --- the entry point ------------------------------------------------------------------------------


def which_tool(tool: str = "auto") -> str:
    """``wrk`` or ``asyncio``: what ``load`` uses for ``tool`` (auto: wrk when it is on PATH)."""
    if tool == "auto":
        return "wrk" if shutil.which("wrk") else "asyncio"
    if tool not in ("wrk", "asyncio"):
        raise LoadError(f"unknown load tool {tool!r}: use auto, wrk or asyncio")
    return tool


def load(
    request: Request,
    *,
    connections: int = 1,
    duration: float = 5.0,
    warmup: float = 1.0,
    count: int | None = None,
    tool: str = "auto",
    probe: CpuProbe | None = None,
) -> LoadResult:
    """Send ``request`` over ``connections`` keep-alive connections for ``duration`` s after ``warmup`` s (or
    ``count`` requests in all, asyncio only) and measure. ``probe`` reads the target's CPU around the counted part.
    Raises LoadError when nothing succeeded (the first error says why)."""
    chosen = which_tool(tool)
    if chosen == "wrk" and count is None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise LoadError("wrk is not on PATH: install it (apt-get install wrk) or use the asyncio client")
        result = _wrk_load(wrk, request, connections, duration, warmup, probe)
    else:
        loop = _new_loop()
        try:
            result = loop.run_until_complete(_asyncio_load(request, connections, duration, warmup, count, probe))
        finally:
            loop.close()
    if result.requests == 0:
        raise LoadError(f"no request to {request.method} {request.url} succeeded: {result.first_error}")
    return result


# --- the trivial endpoint -------------------------------------------------------------------------

_CANNED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class _Canned(asyncio.Protocol):
    """Answers every request head with the canned response (requests without a body only)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport, self.pending = cast(asyncio.Transport, transport), b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        heads = self.pending.count(b"\r\n\r\n")
        if heads:
            self.pending = self.pending.rsplit(b"\r\n\r\n", 1)[1]
            self.transport.write(_CANNED * heads)


def serve_trivial(port: int, host: str = "127.0.0.1") -> None:
    """Serve the canned endpoint until killed."""
    loop = _new_loop()
    server = loop.run_until_complete(loop.create_server(_Canned, host, port, reuse_address=True))
    try:
        loop.run_forever()
    finally:
        server.close()


def spawn_trivial(port: int, host: str = "127.0.0.1", wait: float = 10.0) -> subprocess.Popen[bytes]:
    """The canned endpoint in its own process (so it does not share the generator's CPU), once it accepts."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--trivial-server", str(port)],
                            stdin=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return proc
        if proc.poll() is not None:
            raise LoadError(f"the trivial endpoint exited at start ({proc.returncode})")
        time.sleep(0.05)
    proc.kill()
    raise LoadError(f"the trivial endpoint did not accept on {host}:{port} within {wait:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?")
    parser.add_argument("-c", "--connections", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=5.0)
    parser.add_argument("-w", "--warmup", type=float, default=1.0)
    parser.add_argument("-n", "--count", type=int, default=None, help="a fixed number of requests (asyncio)")
    parser.add_argument("-X", "--method", default="GET")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--body", default="", help="request body (sent as given)")
    parser.add_argument("--tool", default="auto", choices=("auto", "wrk", "asyncio"))
    parser.add_argument("--trivial-server", type=int, metavar="PORT", help="serve the canned endpoint on PORT")
    args = parser.parse_args()
    if args.trivial_server is not None:
        serve_trivial(args.trivial_server)
        return
    if not args.url:
        parser.error("give a URL (or --trivial-server PORT)")
    headers = dict(h.split(":", 1) for h in args.header)
    request = Request(args.method, args.url, {k.strip(): v.strip() for k, v in headers.items()}, args.body.encode())
    try:
        result = load(request, connections=args.connections, duration=args.duration, warmup=args.warmup,
                      count=args.count, tool=args.tool)  # fmt: skip
    except LoadError as exc:
        sys.exit(f"http_load: {exc}")
    sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")


if __name__ == "__main__":
    main()
