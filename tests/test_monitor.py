"""`quixotic monitor` end to end on the local server: a deploy whose function starts failing 30 % of the time is
rolled back automatically within the test's short windows; a healthy deploy is never rolled back; no traffic
at all is INCONCLUSIVE (exit 3), never a pass."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from deploy_project import deploy_site
from support.server import LocalServer
from support.site import Site, write

from quixotic.commands import deploy
from quixotic.commands.monitor import monitor
from quixotic.evidence.decide import Rules

CODE = """
def main(context):
    n = int(context.req.body or 0)
    if FAIL_EVERY and n % 10 < FAIL_EVERY:
        raise RuntimeError(f"request {n} failed")
    return context.res.json({"version": VERSION, "n": n})

VERSION = {version}
FAIL_EVERY = {fail_every}
"""
RULES = Rules(min_samples=5)
# Latency on a loaded 2-core test machine swings past 1.25x between windows; the latency rule has literal
# tests (tests/evidence/test_decide.py), so here a healthy release is judged on errors, with latency's bar high.
STEADY = Rules(min_samples=5, latency_factor=4.0)


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    return deploy_site(tmp_path / "site", server)


def release(site: Site, version: int, fail_every: int = 0) -> str:
    """Deploy hello at ``version`` (failing ``fail_every`` of every 10 requests); the release id."""
    code = CODE.replace("{version}", str(version)).replace("{fail_every}", str(fail_every))
    write(site.root / "functions/hello/src/main.py", code)
    result = deploy.deploy(site.target(), yes=True)
    assert result.release_id is not None
    return result.release_id


@contextmanager
def traffic(site: Site) -> Iterator[list[int]]:
    """Executions of hello one after another, until the block ends; yields the count so far."""
    functions = Functions(site.client())
    stop, sent = threading.Event(), [0]

    def run() -> None:
        while not stop.is_set():
            functions.create_execution("hello", str(sent[0]), False, "/", "POST")
            sent[0] += 1

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        yield sent
    finally:
        stop.set()
        worker.join(30)


def active_deployment(site: Site) -> str:
    return str(Functions(site.client()).get("hello")["deploymentId"])


def test_a_function_that_starts_failing_is_rolled_back_once(site: Site) -> None:
    release(site, 1)
    healthy = active_deployment(site)
    with traffic(site) as sent:  # the baseline: the healthy release's own executions
        while sent[0] < 60:
            threading.Event().wait(0.05)
    release(site, 2, fail_every=3)
    assert active_deployment(site) != healthy
    with traffic(site):
        report = monitor(site.target(), duration=16, window=2, baseline_seconds=120, auto_rollback=True, rules=RULES)
    assert report.baseline >= 60
    assert report.rollback is not None and report.rollback_reason == "3 windows failed (at most 2)"
    assert [w.outcome for w in report.windows[:3]] == ["FAIL", "FAIL", "FAIL"]
    assert all(any(r.startswith("error rate") for r in w.reasons) for w in report.windows[:3])
    assert len(report.windows) == 4  # one window more to see the recovery, then it stops
    assert report.verdict is not None and report.verdict.outcome == "FAIL" and report.exit_code == 1
    assert active_deployment(site) == healthy
    latest = deploy.releases(site.target())[0]
    assert latest.kind == "rollback" and latest.record["automatic"] is True and latest.record["by"] == "monitor"
    assert latest.record["reason"] == "3 windows failed (at most 2)" and latest.record["evidence"]


def test_a_healthy_deploy_is_never_rolled_back(site: Site) -> None:
    release(site, 1)
    with traffic(site) as sent:
        while sent[0] < 60:
            threading.Event().wait(0.05)
    release(site, 2)
    deployed = active_deployment(site)
    with traffic(site):
        report = monitor(site.target(), duration=6, window=2, baseline_seconds=120, auto_rollback=True, rules=STEADY)
    # A loaded 2-core machine may make one window slow; a healthy release never errs and is never rolled back.
    assert len(report.windows) == 3 and not any(r.startswith("error rate") for w in report.windows for r in w.reasons)
    assert report.rollback is None and report.exit_code == 0 and active_deployment(site) == deployed
    assert len(report.activity) == 3 and all(a == {"users": 0, "rows": 0} for a in report.activity)


def test_no_traffic_is_inconclusive_and_rolls_nothing_back(site: Site) -> None:
    release(site, 1)
    done = site.cli("monitor", "test", "--for", "2s", "--window", "1s", "--auto-rollback", "--json")
    assert done.returncode == 3, done.stdout + done.stderr
    assert '"verdict": "INCONCLUSIVE"' in done.stdout and '"rolledBackTo": null' in done.stdout
    bad = site.cli("monitor", "test", "--for", "soon")
    assert bad.returncode == 1 and "is not a duration" in bad.stderr


def test_new_users_and_rows_are_counted_as_activity(site: Site) -> None:
    release(site, 1)
    client = site.client()

    def act() -> None:
        threading.Event().wait(0.3)
        Users(client).create("monitored-user")
        TablesDB(client).create_row("app", "notes", "n1", {"title": "written while monitored"})

    worker = threading.Thread(target=act)
    worker.start()
    report = monitor(site.target(), duration=2, window=1, rules=RULES)
    worker.join(10)
    assert sum(a["users"] for a in report.activity) == 1 and sum(a["rows"] for a in report.activity) == 1
    assert report.to_json()["activity"] == report.activity


def test_a_function_with_logging_off_is_named_not_watched(site: Site) -> None:
    release(site, 1)
    functions = Functions(site.client())
    hello = functions.get("hello")
    functions.update("hello", hello["name"], logging=False)
    report = monitor(site.target(), duration=1, window=1, rules=RULES)
    assert report.blind == ["hello"] and report.verdict is not None and report.verdict.outcome == "INCONCLUSIVE"
    assert any("logging is off" in r for r in report.verdict.reasons)


def test_the_recorded_run_keeps_the_latency_factor_it_judged_with(site: Site) -> None:
    """The report draws the latency band from the record: the factor must be the rules', not a constant."""
    release(site, 1)
    monitor(site.target(), duration=1, window=1, rules=STEADY)
    kept = site.target().system.evidence("monitor")
    assert kept[0].data["latencyFactor"] == STEADY.latency_factor == 4.0
