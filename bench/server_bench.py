"""Benchmark of the local server itself: keep-alive HTTP load beside baselines started in the same run.

    .venv/bin/python bench/server_bench.py [--rounds 5] [--duration 1] [--connections 4] [--json out.json] [--check]
    .venv/bin/python bench/server_bench.py --quick        # a few seconds, for a smoke test
    .venv/bin/python bench/server_bench.py --no-sdk       # leave out the SDK-driven section

An SDK client costs more CPU per call than the server and opens a connection per call, so timing SDK calls
measures mostly the client. This script instead drives the server with a keep-alive load generator
(bench/http_load.py: wrk when it is on PATH, else an asyncio client) and sets it beside, all in this run:

- the generator against a canned endpoint with no framework (its ceiling and its own CPU per request: a
  server figure near that ceiling measured the client);
- a minimal Starlette app with one JSON route under the same uvicorn settings as ``quixotic server`` (the
  same HTTP and loop implementations: httptools/uvloop where installed, else h11/asyncio; the processes'
  loaded libraries are checked and printed);
- SQLite alone doing the row work (same connection settings and row-table layout as the server's store):
  GET by id, insert in its own transaction, list of 25 with its capped total.

Scenarios against a real ``quixotic server`` with a temporary data dir and an API key with only the scopes
they need: health, row GET, row create, list-25, and a keyed row GET with and without another connection
bulk-creating 1,000-row batches in a loop. Each of ``--rounds`` rounds runs every scenario right after its
baseline (the minimal route before each of row GET, create and list-25; the idle GET before the one under the
writer); a ratio is the median of the rounds' own ratios, so a burst of other load mostly moves both sides.
Each ratio is printed beside its target from issue 16 (row GET and create >= 0.5x the minimal route, list-25
>= 0.3x, GET p99 under the writer <= 2x idle) with pass/fail, and beside the same comparison made with the
server's CPU per request (read from /proc: the server process and its writer process together), which other
load on the machine moves less. The exit status is 0
unless ``--check`` is given, then 1 when a target fails. Figures on a shared machine are noisy.

The SDK-driven figures this script printed before (single client, SDK vs raw SQLite, chunked upload) are
kept by default after the new ones; ``--no-sdk`` leaves them out.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_load as hl  # bench/ is no package: its scripts import each other from their folder

from quixotic.errors import ServerStartError
from quixotic.server import admin
from quixotic.server import store as st

console = Console(width=None if sys.stdout.isatty() else 160)  # piped: wide enough for the tables
HOST = "127.0.0.1"
DB, TABLE = "bench", "clips"
SCOPES = ["rows.read", "rows.write", "health.read"]
BULK = 1000
PAIRED = ("row GET", "row create", "list-25")  # the scenarios compared with the minimal route
SERVER_SCENARIOS = ("health", "row GET", "row create", "list-25", "GET idle", "GET under writer")
FEW = 200  # fewer counted requests than this make a rough p99
NEAR = 0.5  # a scenario at this share of the generator's ceiling may be measuring the client


# --- uvicorn settings shared by the server and the minimal app ---------------------------------------


def uvicorn_impl() -> tuple[str, str]:
    """The HTTP and loop implementations uvicorn's auto choice (what ``quixotic server`` runs) takes here."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return http, loop


def loaded_impl(pid: int) -> str:
    """Which of httptools and uvloop a running process has loaded (from its memory maps), for the record."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    http = "httptools" if "httptools" in maps else "h11"
    loop = "uvloop" if "uvloop" in maps else "asyncio"
    return f"{http}+{loop}"


def serve_minimal(port: int) -> None:
    """A Starlette app with one JSON route, run by uvicorn as ``quixotic server`` runs the real app."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"name": "http", "ping": 0, "status": "pass"})

    http, loop = uvicorn_impl()
    app = Starlette(routes=[Route("/json", hello)])
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False, http=http, loop=loop)


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, wait: float = 30.0) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server_bench: {what} exited at start ({proc.returncode})") from None
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server_bench: {what} did not answer within {wait:.0f} s")


def spawn_minimal(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-minimal", str(port)],
                            stdin=subprocess.DEVNULL)  # fmt: skip
    wait_http(f"http://{HOST}:{port}/json", proc, "the minimal Starlette app")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- raw SQLite -----------------------------------------------------------------------------------


def timed(n: int, fn: Callable[[int], object]) -> float:
    """Operations per second of ``fn(i)`` for ``i`` in ``range(n)``."""
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def costed(n: int, fn: Callable[[int], object]) -> dict[str, float]:
    """Ops/s (wall clock) and CPU microseconds per op (this thread's) of ``fn(i)`` for ``i`` in ``range(n)``: the
    CPU figure is what compares with the server's CPU per request, and other load on the machine moves it less."""
    cpu, start = time.thread_time(), time.perf_counter()
    for i in range(n):
        fn(i)
    return {"ops": n / (time.perf_counter() - start), "cpu_us": (time.thread_time() - cpu) / n * 1e6}


def row(i: int) -> dict[str, object]:
    return {"title": f"clip number {i}", "seconds": i % 600, "done": i % 2 == 0}


def raw_sqlite(path: Path, n: int, bulk: int) -> dict[str, dict[str, float]]:
    """SQLite alone (see ``costed``): the server's connection settings, row-table layout and statements."""
    conn = st.connect(path)
    conn.execute(st.ROW_TABLE_DDL.format(name="r_1"))
    now = "2026-01-01T00:00:00.000+00:00"

    def insert(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO r_1 (_uid, _createdAt, _updatedAt, _permissions, data) VALUES (?,?,?,?,?)",
            (f"s{i}", now, now, "[]", json.dumps(row(i))),
        )
        conn.execute("COMMIT")

    def get(i: int) -> None:
        conn.execute("SELECT _seq, _uid, _createdAt, _updatedAt, _permissions, data FROM r_1 WHERE _uid=?",
                     (f"s{i}",)).fetchone()  # fmt: skip

    def list25(i: int) -> None:
        conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM r_1 WHERE 1 LIMIT {st.MAX_COUNT})").fetchone()
        conn.execute("SELECT _seq, _uid, _createdAt, _updatedAt, _permissions, data FROM r_1 ORDER BY _seq"
                     " LIMIT 25 OFFSET ?", ((i * 25) % n,)).fetchall()  # fmt: skip

    def bulk_insert(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO r_1 (_uid, _createdAt, _updatedAt, _permissions, data) VALUES (?,?,?,?,?)",
            [(f"b{i}_{j}", now, now, "[]", json.dumps(row(j))) for j in range(bulk)],
        )
        conn.execute("COMMIT")

    out = {
        "create": costed(n, insert),
        "get": costed(n, get),
        "list25": costed(n, list25),
        "bulk1000": costed(3, bulk_insert),
    }
    conn.close()
    return out


# --- the real server ------------------------------------------------------------------------------


@dataclass
class Target:
    url: str  # .../v1
    project: str
    key: str
    pid: int

    def headers(self, json_body: bool = False) -> dict[str, str]:
        out = {"X-Appwrite-Project": self.project, "X-Appwrite-Key": self.key}
        return {**out, "Content-Type": "application/json"} if json_body else out

    def rows_url(self) -> str:
        return f"{self.url}/tablesdb/{DB}/tables/{TABLE}/rows"


def bench_table(url: str, data: Path, project: str) -> tuple[admin.ProjectCredentials, Client]:
    """A new project with the bench table (its columns available) and an SDK client with every scope."""
    creds = admin.create_project(data, project)
    client = Client().set_endpoint(url).set_project(creds.project_id).set_key(creds.api_key)
    db = TablesDB(client)
    db.create(DB, "Bench")
    db.create_table(DB, TABLE, "Clips")
    db.create_varchar_column(DB, TABLE, "title", 200, True)
    db.create_integer_column(DB, TABLE, "seconds", False)
    db.create_boolean_column(DB, TABLE, "done", False)
    while any(c["status"] != "available" for c in db.list_columns(DB, TABLE)["columns"]):
        time.sleep(0.05)
    return creds, client


def prepare(url: str, data: Path, pid: int, seed: int) -> Target:
    """A project, a table of ``seed`` rows (ids s0, s1, ...) and a key with only ``SCOPES``."""
    creds, client = bench_table(url, data, "bench")
    db = TablesDB(client)
    for start in range(0, seed, BULK):
        db.create_rows(DB, TABLE, [{"$id": f"s{i}", **row(i)} for i in range(start, min(seed, start + BULK))])
    key = admin.create_key(data, creds.project_id, SCOPES, name="bench")
    return Target(url, creds.project_id, key, pid)


def scenarios(t: Target) -> dict[str, hl.Request]:
    limit = urllib.parse.urlencode({"queries[0]": Query.limit(25)})
    create = json.dumps({"rowId": "unique()", "data": row(7)}).encode()
    return {
        "health": hl.Request("GET", f"{t.url}/health", t.headers()),
        "row GET": hl.Request("GET", f"{t.rows_url()}/s1", t.headers()),
        "row create": hl.Request("POST", t.rows_url(), t.headers(json_body=True), create),
        "list-25": hl.Request("GET", f"{t.rows_url()}?{limit}", t.headers()),
    }


class BulkWriter(threading.Thread):
    """Another client: one keep-alive connection bulk-creating ``BULK`` rows per request until stopped."""

    def __init__(self, t: Target) -> None:
        super().__init__(daemon=True)
        self.target, self.halt = t, threading.Event()
        self.batches, self.errors, self.seconds = 0, 0, 0.0
        self.first_error: str | None = None

    def run(self) -> None:
        parts = urllib.parse.urlsplit(self.target.rows_url())
        conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=120)
        body = json.dumps({"rows": [row(j) for j in range(BULK)]}).encode()
        started = time.perf_counter()
        try:
            while not self.halt.is_set():
                conn.request("POST", parts.path, body, self.target.headers(json_body=True))
                answer = conn.getresponse()
                text = answer.read()
                if answer.status == 201:
                    self.batches += 1
                else:
                    self.errors += 1
                    self.first_error = self.first_error or f"HTTP {answer.status}: {text[:300]!r}"
        finally:
            self.seconds = time.perf_counter() - started
            conn.close()

    def rows_per_s(self) -> float:
        return self.batches * BULK / self.seconds if self.seconds else math.nan


# --- the SDK-driven figures (kept from the first version of this script) ----------------------------


def through_sdk(url: str, data: Path, n: int, bulk: int, upload_mb: int) -> tuple[dict[str, float], float]:
    _, client = bench_table(url, data, "benchsdk")
    db, storage = TablesDB(client), Storage(client)
    out = {
        "create": timed(n, lambda i: db.create_row(DB, TABLE, f"s{i}", row(i))),
        "get": timed(n, lambda i: db.get_row(DB, TABLE, f"s{i}")),
        "list25": timed(n, lambda i: db.list_rows(DB, TABLE, [Query.limit(25), Query.offset((i * 25) % n)])),
        "bulk1000": timed(
            3,
            lambda i: db.create_rows(DB, TABLE, [{"$id": f"b{i}_{j}", **row(j)} for j in range(bulk)]),
        ),
    }
    storage.create_bucket("bench", "Bench")
    payload = os.urandom(upload_mb * 1024 * 1024)
    start = time.perf_counter()
    created = storage.create_file("bench", ID.unique(), InputFile.from_bytes(payload, "big.bin"))
    upload_mbs = upload_mb / (time.perf_counter() - start)
    assert created["sizeOriginal"] == len(payload)
    got = storage.get_file_download("bench", created["$id"])
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    return out, upload_mbs


def raw_file_write(path: Path, upload_mb: int) -> float:
    payload = os.urandom(upload_mb * 1024 * 1024)
    start = time.perf_counter()
    with path.open("wb") as fh:
        for off in range(0, len(payload), 5 * 1024 * 1024):
            fh.write(payload[off : off + 5 * 1024 * 1024])
        fh.flush()
        os.fsync(fh.fileno())
    return upload_mb / (time.perf_counter() - start)


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A figure of the run against its target. ``by_cpu`` is the same comparison made with the server's CPU per
    request (baseline CPU / scenario CPU): less moved by other load on a shared machine, printed beside it."""

    name: str
    value: float
    target: float
    at_least: bool  # value >= target passes (else value <= target)
    samples: int  # requests behind the scarcer side of the ratio, all rounds
    by_cpu: float | None = None
    per_round: list[float] | None = None

    @property
    def passed(self) -> bool:
        return self.value >= self.target if self.at_least else self.value <= self.target

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "target": self.target, "op": ">=" if self.at_least else "<=",
                "passed": self.passed, "samples": self.samples, "by_cpu": self.by_cpu,
                "per_round": self.per_round}  # fmt: skip


def ratios_of(rounds: list[dict[str, dict[str, Any]]]) -> list[Ratio]:
    """Issue 16's targets, each the median over the rounds of one round's ratio (its two sides measured one right
    after the other, so a burst of other load on the machine mostly moves both)."""

    def median_of(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None and not math.isnan(v)]
        return statistics.median(known) if known else None

    def against_minimal(name: str, scenario: str, target: float) -> Ratio:
        pairs = [(r[f"minimal for {scenario}"], r[scenario]) for r in rounds]
        by_rps = [res["rps"] / base["rps"] for base, res in pairs]
        by_cpu = [base["server_cpu_us"] / res["server_cpu_us"] if res["server_cpu_us"] else None
                  for base, res in pairs]  # fmt: skip
        samples = sum(min(res["requests"], base["requests"]) for base, res in pairs)
        return Ratio(name, statistics.median(by_rps), target, True, samples, median_of(by_cpu), by_rps)

    p99 = [r["GET under writer"]["p99_ms"] / r["GET idle"]["p99_ms"] for r in rounds]
    samples = sum(min(r["GET under writer"]["requests"], r["GET idle"]["requests"]) for r in rounds)
    return [
        against_minimal("row GET / minimal route", "row GET", 0.5),
        against_minimal("create / minimal route", "row create", 0.5),
        against_minimal("list-25 / minimal route", "list-25", 0.3),
        Ratio("GET p99 under writer / idle p99", statistics.median(p99), 2.0, False, samples, None, p99),
    ]


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario over the rounds: counts added up, rates, latencies and CPU figures as medians."""

    def med(key: str) -> float | None:
        known = [r[key] for r in results if r[key] is not None and not math.isnan(r[key])]
        return statistics.median(known) if known else None

    first = next((r["first_error"] for r in results if r["first_error"]), None)
    return {
        "tool": results[0]["tool"], "connections": results[0]["connections"], "rounds": len(results),
        "seconds": sum(r["seconds"] for r in results), "requests": sum(r["requests"] for r in results),
        "errors": sum(r["errors"] for r in results), "rps": med("rps"), "p50_ms": med("p50_ms"),
        "p90_ms": med("p90_ms"), "p99_ms": med("p99_ms"), "max_ms": max(r["max_ms"] for r in results),
        "client_cpu_us": med("client_cpu_us"), "server_cpu_us": med("server_cpu_us"), "first_error": first,
    }  # fmt: skip


@dataclass(frozen=True)
class Loader:
    """The load settings of the run; ``run`` measures one request with them and says when answers failed."""

    connections: int
    duration: float
    warmup: float
    tool: str

    def run(self, request: hl.Request, probe: hl.CpuProbe | None = None) -> dict[str, Any]:
        result = hl.load(request, connections=self.connections, duration=self.duration, warmup=self.warmup,
                         tool=self.tool, probe=probe)  # fmt: skip
        if result.errors:
            console.print(f"[yellow]{request.method} {request.url}: {result.errors} errors, first: "
                          f"{result.first_error}[/]")  # fmt: skip
        return result.as_dict()


@dataclass(frozen=True)
class Endpoints:
    """What a round measures: the canned endpoint, the minimal route and the server's keyed scenarios, each
    request with a probe of its process's CPU."""

    canned: tuple[hl.Request, hl.CpuProbe]
    minimal: tuple[hl.Request, hl.CpuProbe]
    keyed: dict[str, hl.Request]
    server: hl.CpuProbe
    target: Target


def one_round(load: Loader, at: Endpoints) -> tuple[dict[str, dict[str, Any]], BulkWriter]:
    """Every scenario, each one compared with the minimal route right after a run of that route, and the GET under
    a writer right after an idle one; returns the figures and the writer that ran."""
    one = {"generator": load.run(*at.canned)}
    for name, request in at.keyed.items():
        if name in PAIRED:  # its baseline right before it: a burst of other load lands on both or neither
            one[f"minimal for {name}"] = load.run(*at.minimal)
        one[name] = load.run(request, at.server)
    one["GET idle"] = load.run(at.keyed["row GET"], at.server)
    writer = BulkWriter(at.target)
    writer.start()
    try:
        one["GET under writer"] = load.run(at.keyed["row GET"])  # no CPU figure: the writer's work is in it
    finally:
        writer.halt.set()
        writer.join(timeout=120)
    return one, writer


def writer_figures(writers: list[BulkWriter]) -> dict[str, Any]:
    seconds, batches = sum(w.seconds for w in writers), sum(w.batches for w in writers)
    return {"batches": batches, "errors": sum(w.errors for w in writers),
            "rows_per_s": batches * BULK / seconds if seconds else math.nan,
            "first_error": next((w.first_error for w in writers if w.first_error), None)}  # fmt: skip


def measure(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    """Every figure of the run, as plain data (what ``--json`` writes)."""
    load = Loader(args.connections, args.duration, args.warmup, args.tool)
    http, loop = uvicorn_impl()
    settings = {"connections": load.connections, "duration": load.duration, "warmup": load.warmup,
                "tool": hl.which_tool(args.tool), "client_loop": hl.client_loop(), "uvicorn": f"{http}+{loop}",
                "seed_rows": args.rows, "rounds": args.rounds}  # fmt: skip
    out: dict[str, Any] = {"settings": settings}
    out["sqlite"] = raw_sqlite(base / "raw.db", args.rows, BULK)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = admin.free_port()
        procs.append(hl.spawn_trivial(port))
        canned = hl.Request("GET", f"http://{HOST}:{port}/"), hl.process_cpu(procs[-1].pid)
        port = admin.free_port()
        procs.append(spawn_minimal(port))
        settings["minimal_loaded"] = loaded_impl(procs[-1].pid)
        minimal = hl.Request("GET", f"http://{HOST}:{port}/json"), hl.process_cpu(procs[-1].pid)
        proc, url = admin.spawn_server(base / "data", storage_limit=200 * 1024 * 1024, log_file=base / "server.log")
        procs.append(proc)
        settings["server_loaded"] = loaded_impl(proc.pid)
        target = prepare(url, base / "data", proc.pid, args.rows)
        at = Endpoints(canned, minimal, scenarios(target), hl.process_tree_cpu(proc.pid), target)
        rounds, writers = zip(*(one_round(load, at) for _ in range(args.rounds)), strict=True)
        out["writer"] = writer_figures(list(writers))
        if not args.no_sdk:
            sdk, sdk_mbs = through_sdk(url, base / "data", args.sdk_rows, BULK, args.upload_mb)
            out["sdk"] = {"ops": sdk, "upload_mbs": sdk_mbs, "rows": args.sdk_rows, "upload_mb": args.upload_mb,
                          "raw": raw_sqlite(base / "raw-sdk.db", args.sdk_rows, BULK),
                          "raw_upload_mbs": raw_file_write(base / "raw.bin", args.upload_mb)}  # fmt: skip
    finally:
        for proc in procs:
            stop(proc)
    out["generator"] = summary([r["generator"] for r in rounds])
    out["minimal"] = summary([r[f"minimal for {name}"] for r in rounds for name in PAIRED])
    out["server"] = {name: summary([r[name] for r in rounds]) for name in SERVER_SCENARIOS}
    out["rounds"] = list(rounds)
    out["ratios"] = [r.as_dict() for r in ratios_of(list(rounds))]
    return out


def _f(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def report(out: dict[str, Any]) -> None:
    s = out["settings"]
    gen = out["generator"]
    client = f"{s['tool']} client" + (f" on {s['client_loop']}" if s["tool"] == "asyncio" else "")
    title = (f"local server under keep-alive load ({client}, {s['connections']} connections, {s['rounds']} rounds "
             f"of {s['duration']:g} s each, medians; uvicorn {s['uvicorn']}: server loaded {s['server_loaded']}, "
             f"minimal loaded {s['minimal_loaded']})")  # fmt: skip
    if s["server_loaded"] != s["minimal_loaded"]:
        console.print(f"[red]the server runs uvicorn on {s['server_loaded']} and the minimal route on "
                      f"{s['minimal_loaded']}: the ratios compare unlike servers[/]")  # fmt: skip
    table = Table(title=title)
    for col in ("scenario", "requests", "req/s", "p50 ms", "p99 ms", "server CPU us/req", "client CPU us/req",
                "of generator ceiling", "errors"):  # fmt: skip
        table.add_column(col, justify="right")

    def add(name: str, res: dict[str, Any]) -> None:
        table.add_row(name, str(res["requests"]), _f(res["rps"]), _f(res["p50_ms"], ".2f"), _f(res["p99_ms"], ".2f"),
                      _f(res["server_cpu_us"]), _f(res["client_cpu_us"]), f"{res['rps'] / gen['rps']:.0%}",
                      str(res["errors"]))  # fmt: skip

    add("generator vs canned endpoint", gen)
    add("minimal Starlette route", out["minimal"])
    for name, res in out["server"].items():
        add(name, res)
    console.print(table)
    w = out["writer"]
    console.print(f"writer during 'GET under writer': {w['batches']} batches of {BULK}, {_f(w['rows_per_s'])} rows/s"
                  + (f", {w['errors']} errors (first: {w['first_error']})" if w["errors"] else ""))  # fmt: skip
    near = [name for name, res in [("minimal Starlette route", out["minimal"]), *out["server"].items()]
            if res["rps"] >= NEAR * gen["rps"]]  # fmt: skip
    if near:
        console.print(
            f"[yellow]{', '.join(near)}: at {NEAR:.0%} or more of the generator's ceiling "
            f"({gen['rps']:,.0f} req/s), so the client may have set these figures, not the server[/]"
        )
    else:
        console.print(
            f"Every scenario ran below {NEAR:.0%} of the generator's ceiling ({gen['rps']:,.0f} req/s): "
            "the servers, not the client, set these figures."
        )

    sq = out["sqlite"]
    raw = Table(title="SQLite alone (server's settings and row layout) vs the server's CPU per request")
    for col in ("work", "SQLite ops/s", "SQLite CPU us/op", "server CPU us/req", "SQLite share"):
        raw.add_column(col, justify="right")
    for name, scenario in (("get", "row GET"), ("create", "row create"), ("list25", "list-25")):
        cpu = out["server"][scenario]["server_cpu_us"]
        share = f"{sq[name]['cpu_us'] / cpu:.0%}" if cpu else "-"
        raw.add_row(scenario, _f(sq[name]["ops"]), _f(sq[name]["cpu_us"], ".1f"), _f(cpu), share)
    console.print(raw)

    ratios = Table(title="ratios in this run vs issue 16's targets (noisy on a shared machine)")
    for col in ("ratio", "value", "target", "result", "by server CPU", "samples", "each round"):
        ratios.add_column(col, justify="right")
    for r in out["ratios"]:
        few = r["samples"] < FEW
        ratios.add_row(r["name"], f"{r['value']:.2f}x", f"{r['op']} {r['target']:g}x",
                       "[green]pass[/]" if r["passed"] else "[red]FAIL[/]", _f(r["by_cpu"], ".2f"),
                       f"[yellow]{r['samples']} (few)[/]" if few else str(r["samples"]),
                       " ".join(f"{v:.2f}" for v in r["per_round"]))  # fmt: skip
    console.print(ratios)
    console.print("value: the median over the rounds of the ratio within each round. 'by server CPU': the baseline's"
                  " CPU per request over the scenario's, the same comparison less moved by other load on the"
                  " machine. A ratio from few samples is rough (run longer).")  # fmt: skip

    if "sdk" in out:
        sdk = out["sdk"]
        t = Table(title=f"local server via SDK vs raw SQLite ({sdk['rows']} rows, single client; mostly the client)")
        for col in ("operation", "SDK ops/s", "raw ops/s", "raw / SDK"):
            t.add_column(col, justify="right")
        for name in ("create", "get", "list25", "bulk1000"):
            a, b = sdk["ops"][name], sdk["raw"][name]["ops"]
            t.add_row(name, f"{a:,.1f}", f"{b:,.1f}", f"{b / a:,.1f}x")
        a, b = sdk["upload_mbs"], sdk["raw_upload_mbs"]
        t.add_row(f"upload {sdk['upload_mb']} MB (MB/s)", f"{a:,.1f}", f"{b:,.1f}", f"{b / a:,.1f}x")
        console.print(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds of counted load per scenario and round")
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds of uncounted load before each")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of baselines and scenarios")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections per scenario")
    parser.add_argument("--tool", default="auto", choices=("auto", "wrk", "asyncio"), help="the load generator")
    parser.add_argument("--rows", type=int, default=500, help="rows in the table before the scenarios")
    parser.add_argument("--sdk-rows", type=int, default=500, help="rows for the SDK-driven section")
    parser.add_argument("--upload-mb", type=int, default=50, help="upload size for the SDK-driven section")
    parser.add_argument("--no-sdk", action="store_true", help="leave out the SDK-driven section")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all (smoke test; figures rough)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio misses its target")
    parser.add_argument("--serve-minimal", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_minimal is not None:
        serve_minimal(args.serve_minimal)
        return
    if args.quick:
        args.duration, args.warmup, args.rounds, args.rows, args.sdk_rows, args.upload_mb = 0.3, 0.1, 2, 50, 20, 1
    with tempfile.TemporaryDirectory() as tmp:
        try:
            out = measure(args, Path(tmp))
        except (hl.LoadError, sqlite3.Error, ServerStartError) as exc:
            sys.exit(f"server_bench: {exc}")
    report(out)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    if args.check and not all(r["passed"] for r in out["ratios"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
