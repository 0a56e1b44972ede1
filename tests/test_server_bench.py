"""bench/server_bench.py and bench/http_load.py run end to end: the keep-alive client counts what it was asked
to send, wrk's printout (two captured from wrk 4.1.0) is read as the asyncio client counts, and a quick run of
the server benchmark measures every scenario against a real server process, with its baselines under the same
uvicorn implementation, writes its figures and exits by ``--check`` as its own verdicts say (no target is
asserted here: speed targets belong to the benchmark, not to a unit test)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quixotic.server import admin

BENCH = Path(__file__).resolve().parents[1] / "bench"
pytestmark = pytest.mark.local_only("starts its own servers on this machine")

WRK_OK = """Running 2s test @ http://127.0.0.1:18125/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   155.59us  221.89us   4.46ms   96.84%
    Req/Sec    29.21k     5.73k   35.97k    57.14%
  Latency Distribution
     50%  118.00us
     75%  160.00us
     90%  213.00us
     99%    1.22ms
  60857 requests in 2.10s, 4.18MB read
Requests/sec:  28988.46
Transfer/sec:      1.99MB
"""
WRK_REFUSED = """Running 1s test @ http://127.0.0.1:35275/v1/health
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.55ms    1.41ms   7.95ms   83.04%
    Req/Sec     1.61k   392.86     2.22k    60.00%
  Latency Distribution
     50%  751.00us
     75%    2.21ms
     90%    3.86ms
     99%    5.79ms
  1616 requests in 1.00s, 1.96MB read
  Non-2xx or 3xx responses: 1616
Requests/sec:   1608.07
Transfer/sec:      1.95MB
"""


def test_wrk_output_is_read_as_the_asyncio_client_counts() -> None:
    spec = importlib.util.spec_from_file_location("bench_http_load", BENCH / "http_load.py")
    assert spec is not None and spec.loader is not None
    http_load = sys.modules.setdefault("bench_http_load", importlib.util.module_from_spec(spec))  # dataclasses
    spec.loader.exec_module(http_load)
    ok = http_load.parse_wrk(WRK_OK, 4)
    assert (ok.requests, ok.errors, ok.seconds, ok.first_error) == (60857, 0, 2.1, None)
    assert (ok.p50_ms, ok.p90_ms, ok.p99_ms, ok.max_ms) == pytest.approx((0.118, 0.213, 1.22, 4.46))
    assert ok.rps == pytest.approx(60857 / 2.1)
    refused = http_load.parse_wrk(WRK_REFUSED, 2)
    assert (refused.requests, refused.errors) == (0, 1616)  # non-2xx answers are errors, not throughput
    assert "Non-2xx or 3xx responses: 1616" in refused.first_error and "--tool asyncio" in refused.first_error
    with pytest.raises(http_load.LoadError, match="cannot read wrk's output"):
        http_load.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused", 1)


def test_the_keep_alive_client_sends_exactly_the_count_asked_for() -> None:
    port = admin.free_port()
    canned = subprocess.Popen([sys.executable, str(BENCH / "http_load.py"), "--trivial-server", str(port)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until it accepts
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        done = subprocess.run([sys.executable, str(BENCH / "http_load.py"), f"http://127.0.0.1:{port}/",
                               "-n", "300", "-c", "3", "--tool", "asyncio"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        canned.terminate()
        canned.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["tool"], result["requests"], result["errors"], result["connections"]) == ("asyncio", 300, 0, 3)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"] * 1.02  # buckets are 2 % wide
    nothing = subprocess.run([sys.executable, str(BENCH / "http_load.py"), f"http://127.0.0.1:{port}/", "-n", "5",
                              "--tool", "asyncio"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert nothing.returncode != 0 and "no request to GET" in nothing.stderr  # the endpoint is gone: said, not 0 req/s


def test_a_quick_run_measures_every_scenario_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(BENCH / "server_bench.py"), "--quick", "--json", str(out), "--check"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    figures = json.loads(out.read_text())
    missed = [r["name"] for r in figures["ratios"] if not r["passed"]]
    assert done.returncode == (1 if missed else 0), done.stdout[-3000:] + done.stderr[-3000:]  # --check: 1 on a miss
    assert set(figures["server"]) == {"health", "row GET", "row create", "list-25", "GET idle", "GET under writer"}
    for name, res in [*figures["server"].items(), ("minimal", figures["minimal"]), ("gen", figures["generator"])]:
        assert res["requests"] > 0 and res["errors"] == 0, (name, res)
        assert 0 < res["p50_ms"] <= res["p99_ms"], (name, res)
    assert figures["server"]["row GET"]["server_cpu_us"] > 0 and figures["minimal"]["server_cpu_us"] > 0
    assert all(figures["sqlite"][work]["ops"] > 0 and figures["sqlite"][work]["cpu_us"] > 0 for work in
               ("get", "create", "list25", "bulk1000"))  # fmt: skip
    assert figures["writer"]["batches"] > 0 and figures["writer"]["errors"] == 0  # the writer really wrote
    settings = figures["settings"]
    assert settings["server_loaded"] == settings["minimal_loaded"] == settings["uvicorn"]  # same uvicorn for both
    names = ["row GET / minimal route", "create / minimal route", "list-25 / minimal route",
             "GET p99 under writer / idle p99"]  # fmt: skip
    assert [r["name"] for r in figures["ratios"]] == names
    assert all(r["value"] > 0 and isinstance(r["passed"], bool) and r["samples"] > 0 for r in figures["ratios"])
    assert all(r["by_cpu"] > 0 for r in figures["ratios"][:3])  # the same comparison by the server's CPU
    assert all(len(r["per_round"]) == 2 == len(figures["rounds"]) for r in figures["ratios"])  # --quick: 2 rounds
    get = [round_["row GET"]["rps"] / round_["minimal for row GET"]["rps"] for round_ in figures["rounds"]]
    assert figures["ratios"][0]["value"] == pytest.approx(sum(get) / 2)  # the median of the rounds' own ratios
    assert figures["sdk"]["ops"]["get"] > 0 and figures["sdk"]["raw"]["get"]["ops"] > 0  # the SDK figures kept beside
    for heading in ("generator vs canned endpoint", "minimal Starlette route", "ratios in this run", "via SDK"):
        assert heading in done.stdout
