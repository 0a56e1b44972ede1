"""Benchmark of function executions on the local server, beside calling the same `main` in-process.

    .venv/bin/python bench/functions_bench.py [--calls 200]

Measures through the official SDK: cold start (first execution after activation), warm latency
p50/p95 of a trivial function, and executions/s with 1 and 4 concurrent callers. The baseline is
the same `main(context)` called in this process with a minimal context; the ratio is the
platform's overhead (HTTP, the SDK, storing the execution, the worker round trip).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import statistics
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.services.functions import Functions
from figures import figures
from rich.console import Console

from quixotic.server import admin

console = Console()
TRIVIAL = "def main(context):\n    return context.res.json({'ok': True})\n"


class _Res:
    def json(self, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return {"body": value, "statusCode": status, "headers": headers or {}}


class _Ctx:
    res = _Res()


def in_process(calls: int) -> float:
    namespace: dict[str, Any] = {}
    exec(compile(TRIVIAL, "main.py", "exec"), namespace)
    main = namespace["main"]
    ctx = _Ctx()
    start = time.perf_counter()
    for _ in range(calls):
        main(ctx)
    return calls / (time.perf_counter() - start)


def code_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = TRIVIAL.encode()
        info = tarfile.TarInfo("main.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        proc, url = admin.spawn_server(data)
        try:
            creds = admin.create_project(data, "bench")
            fn = Functions(Client().set_endpoint(url).set_project("bench").set_key(creds.api_key))
            fn.create("trivial", "Trivial", "python-3.11", entrypoint="main.py")
            dep = fn.create_deployment("trivial", InputFile.from_bytes(code_archive(), "code.tar.gz"), True)
            while fn.get("trivial")["deploymentId"] != dep["$id"]:
                time.sleep(0.02)
            start = time.perf_counter()
            first = fn.create_execution("trivial")
            cold = time.perf_counter() - start
            assert first["responseStatusCode"] == 200, first
            latencies = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                fn.create_execution("trivial")
                latencies.append(time.perf_counter() - t0)
            rates = {}
            for callers in (1, 4):
                with concurrent.futures.ThreadPoolExecutor(callers) as pool:
                    t0 = time.perf_counter()
                    list(pool.map(lambda _i: fn.create_execution("trivial"), range(args.calls)))
                    rates[callers] = args.calls / (time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    baseline = in_process(args.calls * 100)
    qs = statistics.quantiles(latencies, n=20)
    table = figures(f"function executions via SDK ({args.calls} calls) vs main() in-process", "measure", "value")
    table.add_row("cold start (first execution after activation)", f"{cold * 1000:,.1f} ms")
    table.add_row("warm latency p50", f"{statistics.median(latencies) * 1000:,.2f} ms")
    table.add_row("warm latency p95", f"{qs[18] * 1000:,.2f} ms")
    for callers, rate in rates.items():
        table.add_row(f"executions/s, {callers} caller(s)", f"{rate:,.1f}")
    table.add_row("main() in-process calls/s", f"{baseline:,.0f}")
    table.add_row("overhead ratio (in-process / 1 caller)", f"{baseline / rates[1]:,.0f}x")
    console.print(table)


if __name__ == "__main__":
    main()
