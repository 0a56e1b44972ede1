"""bench/server_bench.py and bench/http_load.py run end to end: the keep-alive client counts what it was asked
to send, and a quick run of the server benchmark measures every scenario against a real server process, with
its baselines under the same uvicorn implementation, and writes its figures (no target is asserted: speed
targets belong to the benchmark's own ``--check``, not to a unit test)."""

from __future__ import annotations

import contextlib
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
    done = subprocess.run([sys.executable, str(BENCH / "server_bench.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert set(figures["server"]) == {"health", "row GET", "row create", "list-25", "GET idle", "GET under writer"}
    for name, res in [*figures["server"].items(), ("minimal", figures["minimal"]), ("gen", figures["generator"])]:
        assert res["requests"] > 0 and res["errors"] == 0, (name, res)
        assert 0 < res["p50_ms"] <= res["p99_ms"], (name, res)
    assert figures["server"]["row GET"]["server_cpu_us"] > 0 and figures["minimal"]["server_cpu_us"] > 0
    assert figures["writer"]["batches"] > 0 and figures["writer"]["errors"] == 0  # the writer really wrote
    settings = figures["settings"]
    assert settings["server_loaded"] == settings["minimal_loaded"] == settings["uvicorn"]  # same uvicorn for both
    names = ["row GET / minimal route", "create / minimal route", "list-25 / minimal route",
             "GET p99 under writer / idle p99"]  # fmt: skip
    assert [r["name"] for r in figures["ratios"]] == names
    assert all(r["value"] > 0 and isinstance(r["passed"], bool) and r["samples"] > 0 for r in figures["ratios"])
    assert all(r["by_cpu"] > 0 for r in figures["ratios"][:3])  # the same comparison by the server's CPU
    assert figures["sdk"]["ops"]["get"] > 0 and figures["sdk"]["raw"]["get"] > 0  # the SDK figures kept beside
    for heading in ("generator vs canned endpoint", "minimal Starlette route", "ratios in this run", "via SDK"):
        assert heading in done.stdout
