"""The HTML report end to end on the local server: `validate --report` writes the page of that run, a report
path in a missing folder is refused before any work, and `quixotic report ENV --out` draws the environment's
recorded evidence (validate and monitor runs are recorded too) with its releases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_project import deploy_site
from support.server import LocalServer
from support.site import Site

from quixotic.commands import deploy
from quixotic.commands.monitor import monitor
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
