"""The `quixotic bench` generator's own overhead: how late it sends, against an endpoint that costs nothing.

    .venv/bin/python bench/bench_generator.py [--rate 50] [--duration 30] [--workers 16]

Runs the generator of ``quixotic.commands.bench`` (the same schedule, worker pool and clock) against a tiny
``http.server`` on 127.0.0.1 in a process of its own (in a thread it would share the generator's GIL, and the
figure would be the server's), one HTTP GET per slot. Reports the send lag (actual send time minus
due time: the generator's error, target p99 under 1 ms), the latency measured from the due time and the
achieved rate against the asked one. Nothing of Appwrite is involved: this is the floor under every bench.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rich.console import Console
from rich.table import Table

from quixotic.commands.bench import generate
from quixotic.commands.execute import Executed
from quixotic.config.checks_file import Request
from quixotic.evidence.bench import lag_of, percentiles, schedule

console = Console()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def serve(port: int) -> None:
    """The trivial endpoint, run as ``bench_generator.py --serve PORT`` in its own process."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the trivial endpoint did not listen on {port}")


def bare_sleep_lags(rate: float, count: int) -> list[float]:
    """The floor, measured in the same run: one bare thread sleeping to the same due times, sending nothing."""
    lags = []
    start = time.perf_counter() + 0.05
    for index in range(count):
        due = start + index / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        lags.append((time.perf_counter() - due) * 1000)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    port = _free_port()
    endpoint = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    _wait_listening(port)
    local = threading.local()

    def send(_side: int, request: Request) -> Executed:
        conn = getattr(local, "conn", None)
        if conn is None:  # one kept-alive connection per worker, as a client library would keep
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(request.method, request.path)
        response = conn.getresponse()
        response.read()
        return Executed(response.status, None, 0.0, ok=response.status == 200)

    slots = schedule(args.rate, args.duration)
    floor = lag_of(bare_sleep_lags(args.rate, min(len(slots), 500)), late_ms=1.0)
    console.print(f"generator: {len(slots)} requests at {args.rate:g}/s for {args.duration:g} s, "
                  f"{args.workers} workers, against http://127.0.0.1:{port}/")  # fmt: skip
    try:
        outcomes, lags = generate(slots, send, Request(), workers=args.workers)
    finally:
        endpoint.terminate()
        endpoint.wait(10)
    measured = outcomes[0]
    lag = lag_of(lags, late_ms=1.0)
    latency = percentiles([o.latency_ms for o in measured if o.ok])
    span = max(o.at + o.latency_ms / 1000 for o in measured)
    errors = sum(1 for o in measured if not o.ok)

    table = Table(title="bench generator overhead (trivial local endpoint)")
    for column in ("figure", "value"):
        table.add_column(column)
    table.add_row("requests sent / scheduled", f"{len(lags)} / {len(slots)} ({errors} errors)")
    table.add_row("achieved rate / asked", f"{(len(measured) - errors) / span:.2f}/s / {args.rate:g}/s "
                  f"({(len(measured) - errors) / span / args.rate:.3f}x)")  # fmt: skip
    table.add_row("send lag p50 / p99 / max", f"{lag.p50:.3f} / {lag.p99:.3f} / {lag.max:.3f} ms")
    table.add_row("sent later than 1 ms", f"{lag.late} ({lag.late / len(lags):.2%})")
    table.add_row("floor: one bare thread's sleep lag p50 / p99 / max (baseline)",
                  f"{floor.p50:.3f} / {floor.p99:.3f} / {floor.max:.3f} ms")  # fmt: skip
    if lag.p99 is not None and floor.p99:
        table.add_row("generator p99 / floor p99", f"{lag.p99 / floor.p99:.2f}x")
    table.add_row("latency from due time p50 / p99 / max",
                  f"{latency['p50']:.3f} / {latency['p99']:.3f} / {latency['max']:.3f} ms")  # fmt: skip
    console.print(table)
    verdict = "met" if lag.p99 is not None and lag.p99 < 1.0 else "NOT met"
    console.print(f"target: send lag p99 under 1 ms: [bold]{verdict}[/] ({lag.p99:.3f} ms; this machine's own "
                  f"sleep floor is {floor.p99:.3f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
