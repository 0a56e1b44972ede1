"""`quixotic bench` end to end on the local server: a short open-loop run of the hello function whose thresholds
pass (exit 0) and one that fails (exit 1), a malformed threshold refused before any request, and two
environments measured interleaved with a Mann-Whitney comparison; every run recorded in the tool state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_project import ENV_CONFIG, SECRET, deploy_site
from support.server import LocalServer
from support.site import Site, write

from quixotic.commands import deploy
from quixotic.commands.bench import bench

CHECKS = {"functions": {"hello": {"smoke": {"request": {"method": "GET", "path": "/"}, "keys": ["version"]}}}}


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path / "site", server)
    write(site.root / "templates/checks.json", CHECKS)
    deploy.deploy(site.target("test"), yes=True)
    return site


def test_a_short_run_meets_its_thresholds_and_a_strict_one_fails(site: Site) -> None:
    report = bench(site.target(), "hello", rate=10, duration=3, warmup=0.5,
                   thresholds=["errors<1%", "p99<10s", "rps>5", "server.p95<10s"])  # fmt: skip
    side = report.sides[0]
    assert side.requests == 30 and side.errors == 0, report.to_json()
    assert [t.passed for t in report.thresholds] == [True, True, True, True] and report.exit_code == 0
    assert side.latency["p50"] is not None and side.latency["p50"] <= side.latency["p99"]  # type: ignore[operator]
    assert side.server["p50"] is not None and side.server["p50"] > 0
    assert report.lag is not None and report.lag.p99 is not None and report.lag.p99 < 200  # kept up
    recorded = site.target().system.evidence("bench")
    assert [(r.kind, r.environment, r.verdict) for r in recorded] == [("bench", "test", "PASS")]
    assert recorded[0].data["sides"][0]["requests"] == 30
    done = site.cli("bench", "test", "--function", "hello", "--rate", "10", "--duration", "1s", "--warmup", "0",
                    "--threshold", "p50<0.01ms", "--threshold", "errors<1%", "--json")  # fmt: skip
    assert done.returncode == 1, done.stderr
    printed = json.loads(done.stdout)
    assert printed["verdict"] == "FAIL" and [t["passed"] for t in printed["thresholds"]] == [False, True]
    bad = site.cli("bench", "test", "--function", "hello", "--threshold", "p95 under 800ms")
    assert bad.returncode == 1 and "METRIC OP VALUE" in bad.stderr
    unknown = site.cli("bench", "test", "--function", "nosuch", "--path", "/", "--duration", "1s")
    assert unknown.returncode == 1 and "no function 'nosuch'" in unknown.stderr  # refused with --path too
    assert len(site.target().system.evidence("bench")) == 2  # the malformed run sent nothing, recorded nothing


def test_compare_measures_two_environments_interleaved(site: Site) -> None:
    site.add_env("ref", secrets={"API_TOKEN": SECRET}, **ENV_CONFIG)
    deploy.deploy(site.target("ref"), yes=True)
    done = site.cli("bench", "test", "--function", "hello", "--compare", "ref", "--rate", "8", "--duration", "2s",
                    "--warmup", "0.5s", "--threshold", "errors<1%", "--max-slowdown", "3")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test vs ref" in done.stdout and "Mann-Whitney" in done.stdout and "test: PASS" in done.stdout
    for env in ("test", "ref"):
        (kept,) = site.target(env).system.evidence("bench")
        assert kept.environment == "test" and kept.data["compare"] == "ref"
        assert [s["requests"] for s in kept.data["sides"]] == [16, 16]
        assert kept.data["comparison"]["pValue"] is not None
