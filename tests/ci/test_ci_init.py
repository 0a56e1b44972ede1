"""`quixotic ci init` through the command line in a project folder: the workflows it writes pass the three
linters, say what the team's branch model says, and a hand edit is never overwritten without --force."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from ci_lint import lint_all
from deploy_project import files
from ruamel.yaml import YAML
from support.site import Site

from quixotic.ci.pins import PINS
from quixotic.ci.stamp import is_pristine
from quixotic.ci.workflows import WorkflowSettings, render_workflows

GOLDEN = Path(__file__).parent / "golden"
WORKFLOWS = ".github/workflows"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A project with a dev and a prod environment on two different projects (no server needed)."""
    site = Site.create(tmp_path / "project", None, files=files("ci-test"))
    site.write_env("dev", "ci-test-dev")
    site.write_env("prod", "ci-test-prod", protection={"requireConfirmation": True, "refuseDestructive": True})
    return site


def load(path: Path) -> Any:
    return YAML(typ="safe").load(io.StringIO(path.read_text()))


def written(site: Site) -> list[Path]:
    return sorted((site.root / WORKFLOWS).glob("*.yml"))


def test_init_writes_workflows_that_pass_all_three_linters(site: Site) -> None:
    done = site.cli("ci", "init")
    assert done.returncode == 0, done.stderr
    paths = written(site)
    assert [p.name for p in paths] == ["deploy.yml", "plan.yml", "rollback.yml"]
    assert done.stdout.count("create") == 3
    for name, result in lint_all(paths).items():
        assert result.returncode == 0, f"{name} found problems:\n{result.stdout}\n{result.stderr}"
    assert "No findings" in lint_all(paths)["zizmor"].stdout  # nothing suppressed either


def test_the_deploy_workflow_follows_the_branch_model(site: Site) -> None:
    assert site.cli("ci", "init").returncode == 0
    deploy = load(site.root / WORKFLOWS / "deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["develop", "main", "hotfix/**"]  # `on` stays a string key
    assert deploy["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "prod"]
    assert deploy["permissions"] == {}
    pick = deploy["jobs"]["target"]["steps"][0]["run"]
    assert "push:develop) target=dev" in pick and "push:main) target=prod" in pick
    assert "push:hotfix/*) target=prod" in pick and 'workflow_dispatch:*) target="$CHOSEN"' in pick
    for env in ("dev", "prod"):
        job = deploy["jobs"][f"deploy-{env}"]
        prefix = f"QUIXOTIC_{env.upper()}_"
        assert job["environment"] == env and job["needs"] == "target"
        assert job["concurrency"] == {"group": f"quixotic-deploy-{env}", "cancel-in-progress": False}
        key = f"${{{{ secrets.{prefix}API_KEY }}}}"
        assert prefix + "API_KEY" not in job["env"]  # only the steps that call the project get the key:
        for step in job["steps"]:
            calls = any(
                f"quixotic {verb} {env}" in step.get("run", "") for verb in ("plan", "deploy", "validate", "monitor")
            )
            assert (step.get("env", {}).get(prefix + "API_KEY") == key) == calls, step["name"]
        assert job["env"][prefix + "ENDPOINT"] == f"${{{{ vars.{prefix}ENDPOINT }}}}"
        assert job["env"][prefix + "PROJECT_ID"] == f"${{{{ vars.{prefix}PROJECT_ID }}}}"
        assert set(job["permissions"]) == {"contents", "pull-requests"} and job["permissions"]["contents"] == "read"
        runs = "\n".join(step.get("run", "") for step in job["steps"])
        assert f"quixotic plan {env} --out plan.json" in runs
        assert f"quixotic ci check-plan {env} --plan plan.json --comment reviewed.md" in runs
        assert f"quixotic deploy {env} --plan plan.json --yes" in runs
    prod_runs = "\n".join(step.get("run", "") for step in deploy["jobs"]["deploy-prod"]["steps"])
    assert "quixotic validate prod" in prod_runs and "quixotic monitor prod --for 30m" in prod_runs
    assert '--hotfix "$(git log -1 --format=%s)"' in prod_runs
    dev_runs = "\n".join(step.get("run", "") for step in deploy["jobs"]["deploy-dev"]["steps"])
    assert "quixotic validate" not in dev_runs and "--hotfix" not in dev_runs
    back = deploy["jobs"]["back-merge"]
    assert back["needs"] == "deploy-prod" and "startsWith(github.ref, 'refs/heads/hotfix/')" in back["if"]
    assert "for base in main develop" in back["steps"][0]["run"]


def test_pull_requests_get_one_plan_comment_and_rollback_shares_the_deploy_group(site: Site) -> None:
    assert site.cli("ci", "init").returncode == 0
    plan = load(site.root / WORKFLOWS / "plan.yml")
    assert plan["on"] == {"pull_request": {"branches": ["develop", "main"]}}
    job = plan["jobs"]["plan"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    planning = next(step for step in job["steps"] if "quixotic plan" in step.get("run", ""))
    assert planning["env"]["QUIXOTIC_PROD_API_KEY"] == "${{ secrets.QUIXOTIC_PROD_READ_API_KEY }}"  # read-only
    assert planning["env"]["QUIXOTIC_DEV_API_KEY"] == "${{ secrets.QUIXOTIC_DEV_READ_API_KEY }}"
    assert "QUIXOTIC_PROD_API_KEY" not in job["env"] and job["environment"] == "quixotic-plan"
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "quixotic ci comment --plan dev=plan-dev.json --plan prod=plan-prod.json --out comment.md" in runs
    assert "<!-- quixotic:plan -->" in runs and "--method PATCH" in runs and "--method POST" in runs
    rollback = load(site.root / WORKFLOWS / "rollback.yml")
    assert set(rollback["on"]) == {"workflow_dispatch"}
    for env in ("dev", "prod"):
        job = rollback["jobs"][f"rollback-{env}"]
        assert job["concurrency"] == {"group": f"quixotic-deploy-{env}", "cancel-in-progress": False}
        assert job["environment"] == env


def test_every_action_is_pinned_by_commit_sha_with_its_tag(site: Site) -> None:
    assert site.cli("ci", "init").returncode == 0
    uses = []
    for path in written(site):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                ref, _, comment = line.split("uses:", 1)[1].strip().partition(" # ")
                assert SHA_PIN.match(ref), line
                uses.append((ref, comment))
    assert uses
    pins = {f"{p.action}@{p.sha}": p.tag for p in PINS.values()}
    assert all(pins[ref] == tag for ref, tag in uses)


def test_a_hand_edited_workflow_is_kept_and_its_diff_shown_until_forced(site: Site) -> None:
    assert site.cli("ci", "init").returncode == 0
    deploy = site.root / WORKFLOWS / "deploy.yml"
    edited = deploy.read_text().replace("timeout-minutes: 30", "timeout-minutes: 45", 1)
    deploy.write_text(edited)
    plan_before = (site.root / WORKFLOWS / "plan.yml").read_text()
    refused = site.cli("ci", "init")
    assert refused.returncode == 1
    assert "-    timeout-minutes: 45" in refused.stderr and "+    timeout-minutes: 30" in refused.stderr
    assert "edited by hand" in refused.stderr and "--force" in refused.stderr
    assert deploy.read_text() == edited  # kept
    assert (site.root / WORKFLOWS / "plan.yml").read_text() == plan_before
    forced = site.cli("ci", "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "overwrite" in forced.stdout and "timeout-minutes: 45" in forced.stderr  # the diff, shown again
    assert is_pristine(deploy.read_text()) and "timeout-minutes: 45" not in deploy.read_text()
    again = site.cli("ci", "init", "--dry-run")
    assert again.returncode == 0 and again.stdout.count("unchanged") == 3


def test_a_file_we_wrote_is_updated_with_its_diff_when_the_options_change(site: Site) -> None:
    assert site.cli("ci", "init").returncode == 0
    dry = site.cli("ci", "init", "--python", "3.12", "--dry-run")
    assert dry.returncode == 2 and "would update" in dry.stdout and '+          python-version: "3.12"' in dry.stderr
    assert '"3.11"' in (site.root / WORKFLOWS / "deploy.yml").read_text()  # a dry run writes nothing
    done = site.cli("ci", "init", "--python", "3.12")
    assert done.returncode == 0 and done.stdout.count("update") == 3
    assert '"3.12"' in (site.root / WORKFLOWS / "deploy.yml").read_text()


def test_bad_input_is_refused_with_what_to_fix(site: Site) -> None:
    same = json.loads((site.root / "environments" / "prod.json").read_text())
    (site.root / "environments" / "dev.json").write_text(json.dumps(same))
    twice = site.cli("ci", "init")
    assert twice.returncode == 1 and "would deploy PROD" in twice.stderr and "--yes" in twice.stderr
    assert not (site.root / WORKFLOWS).exists()
    assert site.cli("ci", "init", "--yes").returncode == 0
    no_project = {k: v for k, v in same.items() if k != "projectId"}
    (site.root / "environments" / "prod.json").write_text(json.dumps(no_project))
    missing = site.cli("ci", "init", "--force")
    assert missing.returncode == 1 and "projectId" in missing.stderr
    unknown = site.cli("ci", "init", "--prod", "production")
    assert unknown.returncode == 1 and "production" in unknown.stderr and "unknown environment" in unknown.stderr
    for args, words in (
        (["--dev-branch", "main"], "one branch per environment"),
        (["--hotfix-prefix", "hotfix"], "ending in '/'"),
        (["--provider", "gitlab"], "unknown CI provider"),
        (["--install", "pip install ${{ github.event.pull_request.title }}"], "--install"),
    ):
        result = site.cli("ci", "init", *args)
        assert result.returncode == 1 and words in result.stderr, (args, result.stderr)


def test_the_templates_render_as_the_golden_files() -> None:
    """The default workflows, byte for byte (QUIXOTIC_UPDATE_GOLDEN=1 rewrites the golden files)."""
    rendered = render_workflows(WorkflowSettings())
    if os.environ.get("QUIXOTIC_UPDATE_GOLDEN"):
        for path, text in rendered.items():
            (GOLDEN / Path(path).name).write_text(text)
    assert {Path(p).name: t for p, t in rendered.items()} == {p.name: p.read_text() for p in GOLDEN.glob("*.yml")}


def test_no_generated_file_holds_a_secret(site: Site) -> None:
    key = "standard_" + "f" * 64
    site.environ.update({"QUIXOTIC_DEV_API_KEY": key, "QUIXOTIC_PROD_API_KEY": key, "QUIXOTIC_DEV_API_TOKEN": key})
    assert site.cli("ci", "init").returncode == 0
    for path in written(site):
        text = path.read_text()
        assert key not in text
        assert not re.search(r"(?i)(api[_-]?key|token|secret)\s*:\s*['\"]?[A-Za-z0-9_]{16,}", text), path
        assert re.findall(r"secrets\.(\w+)", text) and all(
            re.fullmatch(r"QUIXOTIC_(DEV|PROD)_(READ_)?API_KEY", name) for name in re.findall(r"secrets\.(\w+)", text)
        )
