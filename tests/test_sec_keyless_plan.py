"""A pull request's plan runs with a read-only key, against a target that may never have been deployed: it must
write nothing (not even the system database or the fingerprint key), and the plan it makes must be the one a
deploy with a full key applies (same digest), the key for secret fingerprints being made at apply time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from deploy_project import SECRET, deploy_site
from support.projects import appwrite_json
from support.server import LocalServer
from support.site import Site

from quixotic.commands import deploy as cmd
from quixotic.plan.plan import Plan
from quixotic.plan.state import secret_fingerprint
from quixotic.server import admin
from quixotic.target.system import KEY_ROW, SYSTEM_DB

READS = ["databases.read", "tables.read", "rows.read", "buckets.read", "files.read", "functions.read",
         "users.read", "execution.read"]  # fmt: skip
PLAIN = hashlib.sha256(SECRET.encode()).hexdigest()


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    return deploy_site(tmp_path, server)


def server_state(site: Site) -> dict[str, Any]:
    """Everything a plan could write to, read with the project's full key: databases (the system one too),
    their tables, buckets, functions and their variables, and the project's variables."""
    backend = site.target("test").backend
    databases = backend.db.list()["databases"]
    functions = backend.functions.list()["functions"]
    return {
        "databases": sorted(d["$id"] for d in databases),
        "tables": sorted(t["$id"] for d in databases for t in backend.tables_of(d["$id"])),
        "buckets": sorted(b["$id"] for b in backend.storage.list_buckets()["buckets"]),
        "functions": sorted(f["$id"] for f in functions),
        "variables": sorted(
            v["key"] for f in functions for v in backend.functions.list_variables(f["$id"])["variables"]
        ),
        "project": sorted(v["key"] for v in backend.project_variables() or []),
    }


def test_a_read_only_plan_of_a_new_target_writes_nothing_and_deploys_as_reviewed(
    site: Site, server: LocalServer
) -> None:
    before = server_state(site)
    assert SYSTEM_DB not in before["databases"]
    read_only = admin.create_key(server.data_dir, site.projects["test"].project_id, READS)
    path = site.root / "plan.json"
    planned = site.cli("plan", "test", "--out", str(path), QUIXOTIC_TEST_API_KEY=read_only)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert server_state(site) == before  # no system database, no key, nothing of the project
    plan = Plan.from_json(path.read_text())
    token = next(c for c in plan.changes if c.address == "variable:hello/API_TOKEN")
    assert token.action == "create" and token.after is not None
    assert token.after["secret"] is True and token.after["valueHash"] == ""  # no key yet: no fingerprint
    assert "variable:hello/API_TOKEN  new secret variable" in planned.stdout
    for text in (path.read_text(), planned.stdout, planned.stderr):
        assert SECRET not in text and PLAIN not in text

    # The same plan, made again with the read-only key, is the same digest (what the review comment shows).
    again = cmd.plan(site.target("test"))
    assert again.plan.digest() == plan.digest()

    deployed = site.cli("deploy", "test", "--plan", str(path), "--yes")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    target = site.target("test")
    key = bytes.fromhex(target.backend.db.get_row(SYSTEM_DB, "secrets", KEY_ROW)["hash"])
    rows = target.backend.db.list_rows(SYSTEM_DB, "secrets")["rows"]
    token_rows = [r for r in rows if r["key"] == "API_TOKEN"]
    assert [r["hash"] for r in token_rows] == [secret_fingerprint(SECRET, key)]  # keyed at apply time
    release = cmd.releases(target)[0]
    assert release.status == "succeeded" and release.record["planDigest"] == plan.digest()
    assert PLAIN not in json.dumps(release.record) and SECRET not in json.dumps(release.record)
    assert cmd.plan(site.target("test")).plan.is_empty  # the recorded fingerprint matches the configuration


def test_a_deploy_with_nothing_to_do_on_a_new_target_writes_nothing(server: LocalServer, tmp_path: Path) -> None:
    """No secret to set and nothing else to do (the project has no functions): no system database either."""
    site = Site.create(tmp_path, server, files={"templates/shared-variables.json": {"variables": []}})
    creds = site.add_env("test", variables={})
    empty = {**appwrite_json(creds.project_id, "Empty", tables=[], buckets=[], functions=[]), "tablesDB": []}
    (tmp_path / "appwrite.json").write_text(json.dumps(empty))
    before = server_state(site)
    done = cmd.deploy(site.target("test"), yes=True)
    assert done.release_id is None and done.plan.is_empty
    assert server_state(site) == before
