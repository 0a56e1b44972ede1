"""The pull-request review loop on the local server, as the generated workflows run it: plan -> comment
(one marker, a digest per environment) -> check-plan -> deploy --plan; a plan that changed since the
review is refused, and so is a CI variable naming another project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_project import deploy_site
from support.server import LocalServer
from support.site import Site

from quixotic.ci.comment import MARKER, reviewed_digest
from quixotic.plan.plan import Plan


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path, server)
    assert site.cli("deploy", "test", "--yes").returncode == 0
    greet(site, "reviewed greeting")
    return site


def greet(site: Site, greeting: str) -> None:
    env_file = site.root / "environments" / "test.json"
    config = json.loads(env_file.read_text())
    config["variables"]["GREETING"] = greeting
    env_file.write_text(json.dumps(config))


def plan_to(site: Site, name: str) -> Plan:
    path = site.root / name
    done = site.cli("plan", "test", "--out", str(path))
    assert done.returncode == 2, done.stderr
    return Plan.from_json(path.read_text())


def test_the_reviewed_plan_is_deployed_and_a_changed_one_refused(site: Site) -> None:
    reviewed = plan_to(site, "plan.json")
    comment = site.root / "comment.md"
    made = site.cli("ci", "comment", "--plan", f"test={site.root / 'plan.json'}", "--out", str(comment))
    assert made.returncode == 0, made.stderr
    text = comment.read_text()
    assert text.startswith(MARKER) and text.count(MARKER) == 1
    assert reviewed_digest(text, "test") == reviewed.digest() and f"`{reviewed.digest()}`" in text
    assert "variable:hello/GREETING" in text and "reviewed greeting" in text and "tok-" not in text

    ok = site.cli("ci", "check-plan", "test", "--plan", str(site.root / "plan.json"), "--comment", str(comment))
    assert ok.returncode == 0 and reviewed.digest() in ok.stdout, ok.stderr

    greet(site, "changed after the review")
    changed = plan_to(site, "plan-now.json")
    assert changed.digest() != reviewed.digest()
    refused = site.cli(
        "ci", "check-plan", "test", "--plan", str(site.root / "plan-now.json"), "--comment", str(comment)
    )
    assert refused.returncode == 1 and "not the one reviewed" in refused.stderr
    by_hand = site.cli(
        "ci", "check-plan", "test", "--plan", str(site.root / "plan-now.json"), "--digest", changed.digest()
    )
    assert by_hand.returncode == 0, by_hand.stderr
    stale = site.cli("deploy", "test", "--plan", str(site.root / "plan.json"), "--yes")
    assert stale.returncode == 1 and "run `quixotic plan` again" in stale.stderr
    deployed = site.cli("deploy", "test", "--plan", str(site.root / "plan-now.json"), "--yes")
    assert deployed.returncode == 0, deployed.stderr
    done = site.root / "plan-done.json"
    assert site.cli("plan", "test", "--out", str(done)).returncode == 0  # already deployed: an empty plan
    nothing = site.cli("ci", "check-plan", "test", "--plan", str(done), "--comment", str(comment))
    assert nothing.returncode == 0 and "nothing to deploy" in nothing.stdout, nothing.stderr


def test_check_plan_refuses_what_is_not_a_review(site: Site, tmp_path: Path) -> None:
    plan_to(site, "plan.json")
    plan = str(site.root / "plan.json")
    other = tmp_path / "other.md"
    other.write_text("LGTM, ship it")
    no_marker = site.cli("ci", "check-plan", "test", "--plan", plan, "--comment", str(other))
    assert no_marker.returncode == 1 and "no quixotic plan comment" in no_marker.stderr
    other.write_text(MARKER + "\n<!-- quixotic:digest prod " + "0" * 64 + " -->\n")
    wrong_env = site.cli("ci", "check-plan", "test", "--plan", plan, "--comment", str(other))
    assert wrong_env.returncode == 1 and "shows no plan for 'test'" in wrong_env.stderr
    both = site.cli("ci", "check-plan", "test", "--plan", plan, "--comment", str(other), "--digest", "0" * 64)
    assert both.returncode == 1 and "not both" in both.stderr
    bad_pair = site.cli("ci", "comment", "--plan", "test:plan.json")
    assert bad_pair.returncode == 1 and "ENV=FILE" in bad_pair.stderr
    (site.root / "plan.json").write_text((site.root / "plan.json").read_text().replace("hello", "hullo", 1))
    edited = site.cli("ci", "check-plan", "test", "--plan", plan, "--digest", "0" * 64)
    assert edited.returncode == 1 and "changed after it was made" in edited.stderr


def test_check_target_refuses_a_ci_variable_naming_another_project(site: Site) -> None:
    project = site.projects["test"].project_id
    assert site.cli("ci", "check-target", "test").returncode == 0
    right = site.cli("ci", "check-target", "test", QUIXOTIC_TEST_PROJECT_ID=project)
    assert right.returncode == 0 and project in right.stdout
    wrong = site.cli("ci", "check-target", "test", QUIXOTIC_TEST_PROJECT_ID="someone-elses")
    assert wrong.returncode == 1 and "QUIXOTIC_TEST_PROJECT_ID" in wrong.stderr and project in wrong.stderr
