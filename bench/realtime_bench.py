"""Benchmark of Realtime fan-out: how long after a write its event reaches 100 subscribers of the local server.

    .venv/bin/python bench/realtime_bench.py [--subscribers 100] [--writes 60] [--json out.json] [--check]
    .venv/bin/python bench/realtime_bench.py --quick        # a few seconds, for a smoke test

A real server process (``quixotic server``) on a fresh data dir; SUBSCRIBERS WebSockets, half of them signed-in
users and half guests, each subscribed to the table's row channel; then WRITES row updates through the REST API
with a key, one at a time. For each write and each subscriber, the latency is from the moment the update
request is sent to the moment that subscriber's client has read the event frame and found the write's number in
it (a regular expression, not a full JSON decode: all subscribers share one client process); p50, p95 and max
over all of them. The baseline, measured in the same run, is the same update with nobody subscribed (the
write's own round trip), so the ratio says what delivery adds on top of the write.

The target is issue 13's: p95 within 50 ms of the write at 100 subscribers. Every subscriber runs in this one
client process, so the figures include the client's own work of reading 100 sockets; on a shared machine they
are noisy, and ``cpu_loop_ms`` (a fixed Python loop, about 10 ms on an idle core) says how loaded it was.
Exit status 0 unless ``--check``, then 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect

from quixotic.server import admin

TARGET_P95_MS = 50.0
_WRITE_NUMBER = re.compile(r'"type":"event".*"payload":\{.*?"n":(\d+)')
console = Console(width=160)


def _api(endpoint: str, project: str, key: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"X-Appwrite-Project": project, "X-Appwrite-Key": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        out = json.loads(answer.read() or b"{}")
        assert isinstance(out, dict)
        return out


def _session(endpoint: str, project: str, key: str, user_id: str) -> str:
    _api(endpoint, project, key, "POST", "/users", {"userId": user_id, "email": f"{user_id}@example.com",
                                                   "password": "correct horse battery"})  # fmt: skip
    made = _api(endpoint, project, key, "POST", "/account/sessions/email",
                {"email": f"{user_id}@example.com", "password": "correct horse battery"})  # fmt: skip
    return str(made["secret"])


def _setup(endpoint: str, project: str, key: str) -> None:
    _api(endpoint, project, key, "POST", "/tablesdb", {"databaseId": "bench", "name": "Bench"})
    _api(endpoint, project, key, "POST", "/tablesdb/bench/tables", {
        "tableId": "notes", "name": "Notes", "permissions": ['read("any")'],
        "columns": [{"key": "n", "type": "integer", "required": False}],
    })  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _api(endpoint, project, key, "POST", "/tablesdb/bench/tables/notes/rows", {"rowId": "r1", "data": {"n": 0}})
            return
        except urllib.error.HTTPError:  # the column is still being made
            time.sleep(0.1)
    raise RuntimeError("the bench table never became writable")


async def _subscriber(url: str, cookie: str | None, ready: asyncio.Event, arrivals: list[tuple[int, float]],
                      opened: list[ClientConnection]) -> None:  # fmt: skip
    headers = {"Cookie": cookie} if cookie else {}
    ws = await connect(url, additional_headers=headers, max_size=None)
    opened.append(ws)
    assert json.loads(await ws.recv())["type"] == "connected"
    await ws.send(json.dumps({"type": "subscribe", "data": [{"subscriptionId": "s", "channels": [
        "tablesdb.bench.tables.notes.rows.r1"]}]}))  # fmt: skip
    assert json.loads(await ws.recv())["type"] == "response"
    ready.set()
    async for raw in ws:
        found = _WRITE_NUMBER.search(str(raw))  # not a full decode: 100 clients share this one process
        if found:
            arrivals.append((int(found[1]), time.perf_counter()))


async def _measure(endpoint: str, project: str, key: str, sessions: list[str | None], writes: int) -> dict[str, Any]:
    url = endpoint.replace("http://", "ws://", 1) + f"/realtime?project={project}"
    arrivals: list[tuple[int, float]] = []
    opened: list[ClientConnection] = []
    readies = [asyncio.Event() for _ in sessions]
    tasks = [
        asyncio.create_task(_subscriber(url, f"a_session_{project}={quote(s)}" if s else None, r, arrivals, opened))
        for s, r in zip(sessions, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    path = "/tablesdb/bench/tables/notes/rows/r1"

    def write(n: int) -> float:
        started = time.perf_counter()
        _api(endpoint, project, key, "PATCH", path, {"data": {"n": n}})
        return started

    baseline: list[float] = []
    sent: dict[int, float] = {}
    for n in range(1, writes + 1):
        sent[n] = await asyncio.to_thread(write, n)
        deadline = time.monotonic() + 10
        while sum(1 for m, _ in arrivals if m == n) < len(sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
    latencies = [(at - sent[n]) * 1000 for n, at in arrivals if n in sent]
    missing = writes * len(sessions) - len(latencies)
    for ws in opened:
        await ws.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for n in range(writes + 1, 2 * writes + 1):  # nobody listens now: the write alone
        started = time.perf_counter()
        await asyncio.to_thread(_api, endpoint, project, key, "PATCH", path, {"data": {"n": n}})
        baseline.append((time.perf_counter() - started) * 1000)
    return {"latencies": latencies, "baseline": baseline, "missing": missing}


def _calibration_ms() -> float:
    """A fixed pure-Python loop, timed: how loaded this machine was (about 10 ms on an idle core)."""
    started = time.perf_counter()
    total = 0
    for i in range(300_000):
        total += i
    return round((time.perf_counter() - started) * 1000, 1)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--writes", type=int, default=60)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.subscribers, args.writes = 20, 10
    calibration = _calibration_ms()
    with tempfile.TemporaryDirectory(prefix="realtime-bench-") as tmp:
        data = Path(tmp)
        proc, endpoint = admin.spawn_server(data, log_file=data / "server.log")
        try:
            project = admin.create_project(data, "bench")
            _setup(endpoint, project.project_id, project.api_key)
            users = args.subscribers // 2
            secrets = [_session(endpoint, project.project_id, project.api_key, f"u{i}") for i in range(users)]
            sessions: list[str | None] = [*secrets, *([None] * (args.subscribers - users))]
            result = asyncio.run(_measure(endpoint, project.project_id, project.api_key, sessions, args.writes))
        finally:
            proc.terminate()
            proc.wait(30)
    lat, base = result["latencies"], result["baseline"]
    figures = {
        "subscribers": args.subscribers, "writes": args.writes, "delivered": len(lat), "missing": result["missing"],
        "p50_ms": round(_pct(lat, 0.5), 2), "p95_ms": round(_pct(lat, 0.95), 2), "max_ms": round(max(lat), 2),
        "write_alone_p50_ms": round(statistics.median(base), 2), "write_alone_p95_ms": round(_pct(base, 0.95), 2),
        "target_p95_ms": TARGET_P95_MS, "cpu_loop_ms": max(calibration, _calibration_ms()),
    }  # fmt: skip
    figures["p95_vs_write_alone"] = round(figures["p95_ms"] / figures["write_alone_p95_ms"], 2)
    table = Table(title=f"Realtime: one row update to {args.subscribers} subscribers, {args.writes} times")
    for name in figures:
        table.add_column(name)
    table.add_row(*(str(v) for v in figures.values()))
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    met = result["missing"] == 0 and figures["p95_ms"] <= TARGET_P95_MS
    console.print(f"target p95 <= {TARGET_P95_MS} ms, none missing: {'met' if met else 'MISSED'}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
