"""`quixotic preflight ENV --from DEV` end to end: NO-GO naming every missing item while the evidence does not
exist, then GO once parity, a bench comparison, a rollback on dev, a verified backup of the target and the
people's confirmations do; each verdict recorded in the target's tool state."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from deploy_project import ENV_CONFIG, SECRET, deploy_site
from support.server import LocalServer
from support.site import Site, write

from quixotic.commands import deploy
from quixotic.commands import preflight as preflight_cmd
from quixotic.commands import validate as validate_cmd
from quixotic.commands.backup import backup
from quixotic.commands.bench import bench
from quixotic.commands.parity import parity
from quixotic.commands.preflight import preflight
from quixotic.target import Target

CHECKS = {"functions": {"hello": {
    "smoke": {"request": {"method": "GET", "path": "/"}, "keys": ["version"], "budgetMs": 10_000},
    "parity": {"replaySafe": True, "requests": [{"method": "GET", "path": "/"}]},
}}}  # fmt: skip


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path / "site", server)  # "test" plays the production environment
    site.add_env("dev", secrets={"API_TOKEN": SECRET}, **ENV_CONFIG)
    write(site.root / "templates/checks.json", CHECKS)
    deploy.deploy(site.target("test"), yes=True)
    deploy.deploy(site.target("dev"), yes=True)
    return site


def exercise_rollback(site: Site) -> None:
    """A second deploy of dev (a code change), rolled back; the configuration put back as dev now runs."""
    main = site.root / "functions/hello/src/main.py"
    original = main.read_text()
    main.write_text(original + "\n# a change\n")
    deploy.deploy(site.target("dev"), yes=True)
    deploy.rollback(site.target("dev"), yes=True)
    main.write_text(original)


def test_no_go_names_what_is_missing_then_go_once_the_evidence_exists(site: Site) -> None:
    done = site.cli("preflight", "test", "--from", "dev", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "NO-GO"
    assert report["missing"] == ["parity", "bench", "rollback on dev", "backup of test", "trained", "communicated"]
    status = {i["item"]: i["status"] for i in report["items"]}
    assert status["validate dev"] == "GO" and status["test against dev"] == "GO" and status["plan test"] == "INFO"
    assert status["migrations of test"] == "INFO"
    bad = site.cli("preflight", "test", "--from", "dev", "--confirm", "trained,bribed")
    assert bad.returncode == 1 and "the human items are trained, communicated" in bad.stderr

    assert parity(site.target("test"), site.target("dev")).same
    assert bench(site.target("test"), "hello", rate=8, duration=1.5, warmup=0.5, against=site.target("dev"),
                 thresholds=["errors<1%"], max_slowdown=3).exit_code == 0  # fmt: skip
    exercise_rollback(site)
    backup(site.target("test"))
    half = preflight(site.target("test"), site.target("dev"), confirm=["trained"])
    assert half.verdict == "NO-GO" and half.missing == ["communicated"]

    done = site.cli("preflight", "test", "--from", "dev", "--within", "2h", "--confirm", "trained,communicated")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test: GO" in done.stdout and "confirmed by" in done.stdout
    kept = site.target("test").system.evidence("preflight")
    assert [r.verdict for r in kept] == ["GO", "NO-GO", "NO-GO"]
    assert set(kept[0].data["confirmed"]) == {"trained", "communicated"} and kept[0].data["withinHours"] == 2


def count_requests(target: Target) -> Counter[str]:
    """Every HTTP request ``target``'s SDK client sends from now on, by method and route (the ids in the
    route kept: one table's rows is one route)."""
    seen: Counter[str] = Counter()
    client = target.backend.client
    real = client.call

    def counted(method: str, path: str = "", headers: Any = None, params: Any = None,
                response_type: str = "json") -> Any:  # fmt: skip
        seen[f"{method.upper()} {path}"] += 1
        return real(method, path, headers, params, response_type=response_type)

    client.call = counted
    return seen


def test_preflight_reads_each_environment_once(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """DEV's live project is read by `validate DEV` and reused as the reference of `ENV against DEV`; ENV's
    migration history and the backups folder are read once, by the validation, and reused by their items."""
    backup(site.target("test"))
    test, dev = site.target("test"), site.target("dev")
    to_test, to_dev = count_requests(test), count_requests(dev)
    listed: list[Path] = []
    real_list = preflight_cmd.list_backups

    def list_backups(folder: Path) -> Any:
        listed.append(folder)
        return real_list(folder)

    for module in (preflight_cmd, validate_cmd):  # counted, then the real listing
        monkeypatch.setattr(module, "list_backups", list_backups)
    started = time.perf_counter()
    report = preflight(test, dev, keep=False)
    print(f"figures: {time.perf_counter() - started:.2f} s; requests: test {sum(to_test.values())}, "
          f"dev {sum(to_dev.values())}; backups listed {len(listed)}")  # fmt: skip
    status = {i.name: i.status for i in report.items}
    assert status["validate dev"] == "GO" and status["test against dev"] == "GO", report.to_json()
    assert status["backup of test"] == "GO" and status["migrations of test"] == "INFO"
    live_read = "GET /project/variables"  # once per read of a live project (the console route of its variables)
    assert to_dev[live_read] == 1, sorted(to_dev.items())
    assert to_test[live_read] == 1, sorted(to_test.items())
    history = [r for r in to_test if "/tables/migrations/rows" in r or "/tables/locks/rows/migrations" in r]
    assert len(history) == 2 and all(to_test[r] == 1 for r in history), sorted(to_test.items())
    assert len(listed) == 1
