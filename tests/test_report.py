"""The HTML report end to end on the local server: `validate --report` writes the page of that run, a report
path in a missing folder is refused before any work, and `quixotic report ENV --out` draws the environment's
recorded evidence (validate and monitor runs are recorded too) with its releases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_project import ENV_CONFIG, SECRET, deploy_site
from support.server import LocalServer
from support.site import Site

from quixotic.commands import deploy
from quixotic.commands.bench import bench
from quixotic.commands.monitor import monitor
from quixotic.commands.validate import validate
from quixotic.evidence.decide import Rules


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path / "site", server)
    deploy.deploy(site.target("test"), yes=True)
    return site


def embedded(page: Path) -> Any:
    html = page.read_text(encoding="utf-8")
    assert 'src="http' not in html and "Plotly" in html
    found = re.search(r'<script type="application/json" id="quixotic-data">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_validate_report_and_the_environment_report(site: Site, tmp_path: Path) -> None:
    missing = site.cli("validate", "test", "--report", str(tmp_path / "no-such-folder" / "r.html"))
    assert missing.returncode == 1 and "no-such-folder does not exist" in missing.stderr, missing.stderr
    assert site.target().system.evidence("validate") == []  # refused before any work: nothing ran

    page = tmp_path / "validate.html"
    done = site.cli("validate", "test", "--report", str(page), "--json")
    assert done.returncode == 0, done.stderr
    assert "Validation of test" in page.read_text(encoding="utf-8")
    assert embedded(page)["reports"]["validate"] == json.loads(done.stdout)
    assert not list(tmp_path.glob(".validate.html.*"))  # the temporary file was renamed

    watched = monitor(site.target(), duration=1, window=1, rules=Rules(min_samples=5))
    assert watched.verdict is not None and watched.verdict.outcome == "INCONCLUSIVE"  # no traffic: no verdict

    out = tmp_path / "env.html"
    done = site.cli("report", "test", "--out", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "Validation of test" in html and "Monitor of test" in html and "Releases" in html
    data = embedded(out)
    assert set(data["reports"]) == {"validate", "monitor"}
    assert data["reports"]["monitor"]["verdict"] == "INCONCLUSIVE"
    assert [r["kind"] for r in data["releases"]][:1] == ["deploy"]
    assert {h["kind"] for h in data["history"]} == {"validate", "monitor"}


def test_the_environment_report_shows_only_the_evidence_about_that_environment(site: Site, tmp_path: Path) -> None:
    """`bench test --compare dev` is kept in both tool states (preflight finds it in either) but is about test:
    dev's page must not show test's numbers as dev's."""
    site.add_env("dev", secrets={"API_TOKEN": SECRET}, **ENV_CONFIG)
    deploy.deploy(site.target("dev"), yes=True)
    compared = bench(site.target("test"), "hello", rate=4, duration=0.5, warmup=0, against=site.target("dev"),
                     path="/", method="GET")  # fmt: skip
    assert [r.environment for r in site.target("dev").system.evidence("bench")] == ["test"]  # kept there too
    assert validate(site.target("dev"), backups=tmp_path / "none").ran

    pages = {}
    for env in ("test", "dev"):
        pages[env] = tmp_path / f"{env}.html"
        done = site.cli("report", env, "--out", str(pages[env]))
        assert done.returncode == 0, done.stderr
    dev, test = embedded(pages["dev"]), embedded(pages["test"])
    assert set(dev["reports"]) == {"validate"} and dev["reports"]["validate"]["environment"] == "dev"
    assert "<h2>Bench of" not in pages["dev"].read_text(encoding="utf-8")
    assert {(h["kind"], h["environment"]) for h in dev["history"]} == {("validate", "dev")}
    assert test["reports"]["bench"] == compared.to_json()
    assert {(h["kind"], h["environment"]) for h in test["history"]} == {("bench", "test")}
