"""The `quixotic bench` generator's own overhead: how late it sends, against an endpoint that costs nothing.

    .venv/bin/python bench/bench_generator.py [--rate 50] [--duration 30] [--workers 16]

Runs the generator of ``quixotic.commands.bench`` (the same schedule, worker pool and clock) against a tiny
``http.server`` on 127.0.0.1 in a thread, one HTTP GET per slot. Reports the send lag (actual send time minus
due time: the generator's error, target p99 under 1 ms), the latency measured from the due time and the
achieved rate against the asked one. Nothing of Appwrite is involved: this is the floor under every bench.
"""

from __future__ import annotations

import argparse
import http.client
import threading
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
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
    console.print(f"generator: {len(slots)} requests at {args.rate:g}/s for {args.duration:g} s, "
                  f"{args.workers} workers, against http://127.0.0.1:{port}/")  # fmt: skip
    outcomes, lags, _ = generate(slots, send, Request(), workers=args.workers)
    server.shutdown()
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
    table.add_row("latency from due time p50 / p99 / max",
                  f"{latency['p50']:.3f} / {latency['p99']:.3f} / {latency['max']:.3f} ms")  # fmt: skip
    console.print(table)
    verdict = "met" if lag.p99 is not None and lag.p99 < 1.0 else "NOT met"
    console.print(f"target: send lag p99 under 1 ms: [bold]{verdict}[/] ({lag.p99:.3f} ms)")


if __name__ == "__main__":
    main()
