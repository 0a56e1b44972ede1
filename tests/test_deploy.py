"""Deploy end to end against the local server through the SDK: plan -> apply -> releases -> rollback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from appwrite.services.functions import Functions
from deploy_project import HELLO, SECRET, deploy_site
from support.server import LocalServer
from support.site import Site, write

from quixotic.commands import deploy as cmd
from quixotic.deploy.packaging import package_folder
from quixotic.errors import ApiError, LockHeld, PlanError, UsageError
from quixotic.plan.plan import Plan
from quixotic.server import admin
from quixotic.target import Target, locks
from quixotic.target import connect as target_of
from quixotic.target.system import SystemDatabase


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    return deploy_site(tmp_path, server)


def connect(site: Site) -> Target:
    return site.target("test")


def execute(target: Target) -> dict[str, Any]:
    result = Functions(target.backend.client).create_execution("hello", "", False, "/", "GET")
    assert result["status"] == "completed", result["errors"]
    return dict(json.loads(result["responseBody"]))


def test_deploy_from_empty_then_noop(site: Site) -> None:
    target = connect(site)
    first = cmd.plan(target).plan
    assert not first.is_empty and not first.destructive()
    kinds = {c.kind for c in first.changes}
    assert {"database", "table", "bucket", "function", "deployment", "variable"} <= kinds
    result = cmd.deploy(target, yes=True)
    assert result.release_id and result.applied == len(result.plan.changes)
    assert execute(target) == {"version": 1, "greeting": "hello", "token": True}
    again = cmd.deploy(connect(site), yes=True)
    assert again.release_id is None and again.applied == 0
    assert cmd.plan(connect(site)).plan.is_empty
    releases = cmd.releases(connect(site))
    assert [r.status for r in releases] == ["succeeded"]
    assert releases[0].record["planDigest"] == result.plan.digest()


def test_change_then_rollback(site: Site) -> None:
    root = site.root
    cmd.deploy(connect(site), yes=True)
    fn = Functions(connect(site).backend.client)
    before = fn.get("hello")["deploymentId"]
    (root / "functions" / "hello" / "src" / "main.py").write_text(HELLO.replace("VERSION = 1", "VERSION = 2"))
    env_file = root / "environments" / "test.json"
    config = json.loads(env_file.read_text())
    config["variables"]["GREETING"] = "howdy"
    env_file.write_text(json.dumps(config))
    plan = cmd.plan(connect(site)).plan
    assert sorted(c.address for c in plan.changes) == ["deployment:hello", "variable:hello/GREETING"]
    cmd.deploy(connect(site), yes=True)
    assert execute(connect(site)) == {"version": 2, "greeting": "howdy", "token": True}
    started = time.monotonic()
    back = cmd.rollback(connect(site), yes=True)
    assert time.monotonic() - started < 10
    assert fn.get("hello")["deploymentId"] == before
    assert execute(connect(site)) == {"version": 1, "greeting": "hello", "token": True}
    assert any("deployment" in a for a in back.actions)
    kinds = [r.kind for r in cmd.releases(connect(site))]
    assert kinds[:3] == ["rollback", "deploy", "deploy"]


def test_destructive_changes_are_refused_unless_allowed(site: Site) -> None:
    root = site.root
    cmd.deploy(connect(site), yes=True)
    app = json.loads((root / "appwrite.json").read_text())
    columns = app["tables"][0]["columns"]
    columns[1] = {"key": "words", "type": "varchar", "size": 10, "required": False, "array": False}
    (root / "appwrite.json").write_text(json.dumps(app))
    plan = cmd.plan(connect(site)).plan
    assert [c.address for c in plan.destructive()] == ["column:app/notes/words"]
    with pytest.raises(PlanError) as err:
        cmd.deploy(connect(site), yes=True)
    assert "column:app/notes/words" in err.value.message and "--allow-destructive" in err.value.message
    result = cmd.deploy(connect(site), yes=True, allow_destructive=True)
    assert result.schema_changed
    assert cmd.plan(connect(site)).plan.is_empty


def test_a_stale_plan_file_is_refused(site: Site) -> None:
    saved = Plan.from_json(cmd.plan(connect(site)).plan.to_json())
    target = connect(site)
    target.backend.db.create("sneaky", "Created behind the plan's back")
    with pytest.raises(PlanError) as err:
        cmd.deploy(connect(site), plan_file=saved, yes=True, allow_destructive=True)
    assert "plan" in err.value.message.lower()


def test_build_failure_keeps_the_old_deployment(site: Site) -> None:
    root = site.root
    cmd.deploy(connect(site), yes=True)
    live = Functions(connect(site).backend.client).get("hello")["deploymentId"]
    (root / "functions" / "hello" / "src" / "main.py").unlink()
    (root / "functions" / "hello" / "other.py").write_text("x = 1\n")
    with pytest.raises(Exception) as err:
        cmd.deploy(connect(site), yes=True)
    assert "previous deployment stays active" in str(err.value)
    assert Functions(connect(site).backend.client).get("hello")["deploymentId"] == live
    assert cmd.releases(connect(site))[0].status == "failed"
    assert execute(connect(site))["version"] == 1


SHARED_KIT = "def greeting(name):\n    return 'hello from the shared folder, ' + name\n"
USES_KIT = """
from .kit import greeting

def main(context):
    return context.res.json({"version": 2, "greeting": greeting("hello"), "token": True})
"""


def test_the_shared_folder_goes_into_each_function_and_runs_there(site: Site) -> None:
    root = site.root
    write(root / "functions/_shared/src/kit.py", SHARED_KIT)
    write(root / "functions/hello/src/main.py", USES_KIT)
    first = package_folder(root / "functions" / "hello")
    assert first.files == ("src/kit.py", "src/main.py")
    cmd.deploy(connect(site), yes=True)
    assert execute(connect(site))["greeting"] == "hello from the shared folder, hello"
    # A change of the shared folder alone is a change of every function's code: planned, deployed, run.
    write(root / "functions/_shared/src/kit.py", SHARED_KIT.replace("hello from", "greetings from"))
    assert package_folder(root / "functions" / "hello").sha256 != first.sha256
    assert [(c.action, c.kind) for c in cmd.plan(connect(site)).plan.changes] == [("create", "deployment")]
    cmd.deploy(connect(site), yes=True)
    assert execute(connect(site))["greeting"] == "greetings from the shared folder, hello"
    assert cmd.plan(connect(site)).plan.is_empty  # the live code's hash is the archive's, shared files and all


def test_a_function_file_the_shared_folder_also_has_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "functions/_shared/src/kit.py", SHARED_KIT)
    write(tmp_path / "functions/hello/src/main.py", USES_KIT)
    write(tmp_path / "functions/hello/src/kit.py", "x = 1\n")
    with pytest.raises(UsageError) as err:
        package_folder(tmp_path / "functions" / "hello")
    assert "src/kit.py" in err.value.message and "rename or remove one of them" in err.value.message
    assert package_folder(tmp_path / "functions" / "_shared").files == ("src/kit.py",)  # not added to itself
    (tmp_path / "functions/hello/src/kit.py").unlink()
    assert package_folder(tmp_path / "functions" / "hello").files == ("src/kit.py", "src/main.py")


def test_two_deploys_never_interleave(site: Site) -> None:
    target = connect(site)
    with target.system.lock("deploy"), pytest.raises(LockHeld) as err:
        cmd.deploy(connect(site), yes=True)
    assert "held by" in err.value.message
    assert cmd.deploy(connect(site), yes=True).release_id


def test_the_deploy_lock_is_kept_alive_through_a_long_apply(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """One lock policy: a short TTL renewed by heartbeats, so an apply that outlasts the TTL (a long build)
    still holds its lock, and nobody can take it meanwhile."""
    monkeypatch.setattr(locks, "TTL", 1.0)
    monkeypatch.setattr(locks, "HEARTBEAT", 0.2)
    other = SystemDatabase(connect(site).backend)
    seen: list[tuple[bool, str]] = []

    def slow(message: str) -> None:
        if seen:
            return
        time.sleep(2.5)  # well past the TTL: only heartbeats keep the lock
        held = other.current_lock("deploy")
        assert held is not None
        try:
            with other.lock("deploy"):
                seen.append((False, "taken"))
        except LockHeld:
            seen.append((held.expired(), held.owner))

    result = cmd.deploy(connect(site), yes=True, progress=slow)
    # the other holder was refused (not "taken") and found the lock unexpired although its TTL had passed
    assert result.release_id and len(seen) == 1 and seen[0][1] != "taken" and seen[0][0] is False
    assert cmd.releases(connect(site))[0].status == "succeeded"
    assert other.current_lock("deploy") is None


def test_a_deploy_that_loses_its_lock_stops_writing_and_fails(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """If another run takes the lock over (here: broken by hand and taken), the heartbeat notices and the deploy
    stops before its next write; its release is recorded as failed and the other run's lock is left alone."""
    monkeypatch.setattr(locks, "HEARTBEAT", 0.1)
    other = SystemDatabase(connect(site).backend)
    theirs = other.lock("deploy")
    taken: list[Any] = []

    def usurp(message: str) -> None:
        if taken:
            return
        other.break_lock("deploy")
        taken.append(theirs.__enter__())
        time.sleep(0.6)  # a few heartbeats: the deploy's own finds another taking's nonce

    with pytest.raises(LockHeld, match="lost the deploy lock"):
        cmd.deploy(connect(site), yes=True, progress=usurp)
    latest = cmd.releases(connect(site))[0]
    assert latest.status == "failed" and "lost the deploy lock" in latest.record["error"]
    assert latest.record["applied"] <= 1  # at most the change in flight when it was taken over
    held = other.current_lock("deploy")
    assert held is not None and held.nonce == taken[0].nonce  # the other run's lock is still its own
    theirs.__exit__(None, None, None)
    assert other.current_lock("deploy") is None


def test_vars_sync_is_idempotent_and_leaves_unmanaged_alone(site: Site) -> None:
    cmd.deploy(connect(site), yes=True)
    fn = Functions(connect(site).backend.client)
    fn.create_variable("hello", "SOMEONE_ELSES", "keep me")
    assert cmd.vars_plan(connect(site)).is_empty
    pruned = cmd.vars_plan(connect(site), prune=True)
    assert [c.address for c in pruned.changes] == ["variable:hello/SOMEONE_ELSES"]
    assert cmd.vars_sync(connect(site), yes=True).release_id is None
    keys = {v["key"] for v in fn.list_variables("hello")["variables"]}
    assert keys == {"GREETING", "API_TOKEN", "SOMEONE_ELSES"}


def test_cli_never_prints_secrets_and_uses_exit_codes(site: Site) -> None:
    environ = site.environ

    run = site.cli

    plan = run("plan", "test")
    assert plan.returncode == 2, plan.stderr
    as_json = run("plan", "test", "--json")
    deployed = run("deploy", "test", "--yes")
    assert deployed.returncode == 0, deployed.stderr
    same = run("plan", "test")
    assert same.returncode == 0, same.stdout + same.stderr
    diff = run("vars", "diff", "test")
    releases = run("releases", "test", "--json")
    for out in (plan, as_json, deployed, same, diff, releases):
        assert SECRET not in out.stdout and SECRET not in out.stderr
        assert environ["QUIXOTIC_TEST_API_KEY"] not in out.stdout + out.stderr


def test_killed_deploy_finishes_when_run_again(site: Site) -> None:
    root = site.root
    slow = HELLO + "\n# slow build\n"
    (root / "functions" / "hello" / "src" / "main.py").write_text(slow)
    app = json.loads((root / "appwrite.json").read_text())
    app["functions"][0]["commands"] = "sleep 3"
    (root / "appwrite.json").write_text(json.dumps(app))
    proc = site.popen("deploy", "test", "--yes")
    time.sleep(2.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    target = connect(site)
    target.system.break_lock("deploy")  # the holder is dead; its lock would expire on its own
    cmd.deploy(connect(site), yes=True)
    assert cmd.plan(connect(site)).plan.is_empty
    assert execute(connect(site))["greeting"] == "hello"


def test_wrong_key_or_project_say_what_to_fix(server: LocalServer, site: Site) -> None:
    root, environ = site.root, site.environ
    project_id = json.loads((root / "environments" / "test.json").read_text())["projectId"]
    weak = admin.create_key(server.data_dir, project_id, ["databases.read"])
    with pytest.raises(ApiError) as err:
        cmd.deploy(target_of(root, "test", {**environ, "QUIXOTIC_TEST_API_KEY": weak}), yes=True)
    assert err.value.type == "general_unauthorized_scope"
    assert "missing scopes" in err.value.message and "lacks that scope" in err.value.message
    env_file = root / "environments" / "test.json"
    config = json.loads(env_file.read_text())
    config["projectId"] = "no-such-project"
    env_file.write_text(json.dumps(config))
    app = json.loads((root / "appwrite.json").read_text())
    app["projectId"] = "no-such-project"
    (root / "appwrite.json").write_text(json.dumps(app))
    with pytest.raises(ApiError) as err:
        cmd.plan(connect(site))
    assert err.value.type == "project_not_found" and "projectId" in err.value.message


def test_seed_scripts_wrap_the_cli(site: Site) -> None:
    root, environ = site.root, site.environ
    repo = Path(__file__).resolve().parents[1]
    environ = {**environ, "QUIXOTIC": str(Path(sys.executable).parent / "quixotic")}
    deployed = subprocess.run(
        ["bash", str(repo / "scripts/deploy/deploy-environment.sh"), "test", "--yes", "--root", str(root)],
        capture_output=True, text=True, env=environ, timeout=300,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    rolled = subprocess.run(
        ["bash", str(repo / "scripts/rollback/rollback-environment.sh"), "test", "--yes", "--root", str(root)],
        capture_output=True, text=True, env=environ, timeout=300,
    )  # fmt: skip
    assert rolled.returncode == 0, rolled.stderr
    assert [r.kind for r in cmd.releases(connect(site))][:2] == ["rollback", "deploy"]


def test_rolling_back_the_only_release_removes_the_secret_it_added_and_says_so(site: Site) -> None:
    """The state before the first release had no API_TOKEN: keeping it would leave half of what the rollback
    undoes, silently. It goes like the plain variable, the result says so, and a deploy sets it again."""
    cmd.deploy(connect(site), yes=True)
    fn = Functions(connect(site).backend.client)
    assert {v["key"] for v in fn.list_variables("hello")["variables"]} == {"GREETING", "API_TOKEN"}
    back = cmd.rollback(connect(site), yes=True)
    assert fn.list_variables("hello")["variables"] == []
    assert "secret hello/API_TOKEN removed (it did not exist then; a deploy sets it again from the environment)" in (
        back.actions
    )
    assert "variable hello/GREETING removed (it did not exist then)" in back.actions
    assert all(SECRET not in line for line in back.actions + back.warnings)
    again = cmd.plan(connect(site)).plan
    assert ("create", "variable:hello/API_TOKEN") in {(c.action, c.address) for c in again.changes}
    cmd.deploy(connect(site), yes=True)
    assert execute(connect(site))["token"] is True
    assert cmd.plan(connect(site)).plan.is_empty
