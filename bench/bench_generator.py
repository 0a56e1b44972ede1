"""The `quixotic bench` generator's own overhead: how late it sends, against an endpoint that costs nothing.

    .venv/bin/python bench/bench_generator.py [--rate 50] [--duration 30] [--workers 16]

Runs the generator of ``quixotic.commands.bench`` (the same schedule, worker pool and clock) against a tiny
``http.server`` on 127.0.0.1 in a process of its own (in a thread it would share the generator's GIL, and the
figure would be the server's), one HTTP GET per slot. Reports the send lag (actual send time minus
due time: the generator's error, target p99 under 1 ms), the latency measured from the due time, the
achieved rate against the asked one and the process's CPU, for a sleep-only worker and for the shipped
one (sleep, then yield the last ``SPIN_SECONDS``) in the same run. Nothing of Appwrite is involved: this
is the floor under every bench.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from figures import figures
from rich.console import Console

from quixotic.commands.bench import SPIN_SECONDS, Send, generate
from quixotic.commands.execute import Executed
from quixotic.config.checks_file import Request
from quixotic.evidence.bench import Lag, Outcome, Slot, lag_of, percentiles, schedule

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
    console.print(f"generator: {len(slots)} requests at {args.rate:g}/s for {args.duration:g} s per mode, "
                  f"{args.workers} workers, against http://127.0.0.1:{port}/")  # fmt: skip
    modes = {"sleep only (spin 0)": 0.0, f"sleep + yield the last {SPIN_SECONDS * 1000:g} ms": SPIN_SECONDS}
    runs = {}
    try:
        for name, spin in modes.items():  # the same run, one after the other: before and after side by side
            runs[name] = _measure(slots, send, args.workers, spin)
    finally:
        endpoint.terminate()
        endpoint.wait(10)

    table = figures("bench generator overhead (trivial local endpoint)", "figure", *runs)
    rows: dict[str, list[str]] = {}
    for run in runs.values():
        for figure, value in run.rows(args.rate).items():
            rows.setdefault(figure, []).append(value)
    for figure, values in rows.items():
        table.add_row(figure, *values)
    console.print(table)
    console.print(f"floor: one bare thread's sleep lag p50 / p99 / max {floor.p50:.3f} / {floor.p99:.3f} / "
                  f"{floor.max:.3f} ms")  # fmt: skip
    chosen = runs[list(runs)[-1]].lag
    verdict = "met" if chosen.p99 is not None and chosen.p99 < 1.0 else "NOT met"
    console.print(f"target (the generator as shipped, spin {SPIN_SECONDS * 1000:g} ms): send lag p99 under 1 ms: "
                  f"[bold]{verdict}[/] ({chosen.p99:.3f} ms)")  # fmt: skip


@dataclass(frozen=True)
class _Measured:
    """One generator run: its outcomes, send lags, and the CPU seconds the process spent on it."""

    outcomes: list[Outcome]
    lags: list[float]
    scheduled: int
    cpu_seconds: float

    @property
    def lag(self) -> Lag:
        return lag_of(self.lags, late_ms=1.0)

    def rows(self, rate: float) -> dict[str, str]:
        lag = self.lag
        latency = percentiles([o.latency_ms for o in self.outcomes if o.ok])
        span = max(o.at + o.latency_ms / 1000 for o in self.outcomes)
        answered = sum(1 for o in self.outcomes if o.ok)
        return {
            "requests sent / scheduled (errors)": f"{len(self.lags)} / {self.scheduled} ({self.scheduled - answered})",
            "achieved rate / asked": f"{answered / span:.2f}/s ({answered / span / rate:.3f}x)",
            "send lag p50 / p99 / max (ms)": f"{lag.p50:.3f} / {lag.p99:.3f} / {lag.max:.3f}",
            "sent later than 1 ms": f"{lag.late} ({lag.late / len(self.lags):.2%})",
            "latency from due time p50 / p99 / max (ms)":
                f"{latency['p50']:.3f} / {latency['p99']:.3f} / {latency['max']:.3f}",
            "process CPU (s) / share of one core": f"{self.cpu_seconds:.2f} / {self.cpu_seconds / span:.1%}",
        }  # fmt: skip


def _measure(slots: list[Slot], send: Send, workers: int, spin: float) -> _Measured:
    cpu = time.process_time()
    outcomes, lags = generate(slots, send, Request(), workers=workers, spin=spin)
    return _Measured(outcomes[0], lags, len(slots), time.process_time() - cpu)


if __name__ == "__main__":
    main()
