"""The toolkit on the newest SDK line: deploy, a no-op plan, validate, backup, restore, rollback and a migration up
and down run from an environment with `appwrite` 27.x (response format 2.5.0, pydantic models) against the
local server.

The rest of the suite runs on the oldest line (15.x, the dev extra's pin); this module runs the CLI of
``.sdk/toolkit-27`` (made by ``.ci/run``: ``pip install -e . 'appwrite==27.*'``), and skips without it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from appwrite.services.tables_db import TablesDB
from deploy_project import SECRET, deploy_site
from support.server import LocalServer
from support.site import REPO, write

NEWEST = REPO / ".sdk" / "toolkit-27" / "bin" / "quixotic"
# A migration of the test project's ``notes``: a column, backfilled from the rows, and its removal.
MIGRATION = """
from quixotic.config.resources import Column


def up(ctx):
    ctx.create_column("notes", Column("titleWords", "integer", min=0), database="app")
    ctx.backfill("notes", lambda row: {"titleWords": len(row["title"].split())}, select=["title"], database="app")


def down(ctx):
    ctx.delete_column("notes", "titleWords", database="app")
"""
pytestmark = pytest.mark.skipif(not NEWEST.exists(), reason=f"no {NEWEST}: .ci/run makes it")


def test_the_toolkit_runs_on_the_newest_sdk_line(server: LocalServer, tmp_path: Path) -> None:
    site = deploy_site(tmp_path / "site", server)
    template = json.loads((site.root / "templates/shared-variables.json").read_text())
    template["variables"].append({"name": "LOG_LEVEL", "type": "string", "default": "info", "functions": "*",
                                  "description": "A project variable (a console route, called raw)."})  # fmt: skip
    write(site.root / "templates/shared-variables.json", template)
    site.add_env("copy", secrets={"API_TOKEN": SECRET}, variables={"GREETING": "hello"},
                 protection={"requireConfirmation": False, "refuseDestructive": True,
                             "backupBeforeMigrations": False})  # fmt: skip
    probe = "import appwrite.client as c; print({k.lower(): v for k, v in c.Client().get_headers().items()}"
    probe += "['x-appwrite-response-format'])"
    version = subprocess.run([str(NEWEST.parent / "python"), "-c", probe], capture_output=True, text=True, check=False)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in site.environ.items() if k != "VIRTUAL_ENV"}
        return subprocess.run([str(NEWEST), *args, "--root", str(site.root)], capture_output=True, text=True,
                              env=env, timeout=300, cwd=tmp_path, check=False)  # fmt: skip

    steps = [
        ("deploy", "test", "--yes"),
        ("plan", "test"),
        ("validate", "test"),
        ("backup", "test", "--out", str(tmp_path / "backups")),
    ]
    results = {" ".join(s[:2]): run(*s) for s in steps}
    assert results["deploy test"].returncode == 0, results["deploy test"].stderr
    assert results["plan test"].returncode == 0 and "No changes" in results["plan test"].stdout
    assert results["validate test"].returncode == 0, results["validate test"].stdout
    assert results["backup test"].returncode == 0, results["backup test"].stderr
    (archive,) = (tmp_path / "backups").glob("test-*.zip")
    restored = run("restore", str(archive), "copy", "--yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    diff = run("diff-data", "test", "copy")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    rolled = run("rollback", "test", "--yes")
    assert rolled.returncode == 0, rolled.stderr

    (site.root / "migrations").mkdir(exist_ok=True)
    (site.root / "migrations" / "0001_note_title_words.py").write_text(MIGRATION)
    notes = TablesDB(site.client("test"))
    notes.create_row("app", "notes", "n1", {"title": "three short words"})
    notes.create_row("app", "notes", "n2", {"title": "one"})
    up = run("migrate", "up", "test", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert {r["$id"]: r["titleWords"] for r in notes.list_rows("app", "notes")["rows"]} == {"n1": 3, "n2": 1}
    down = run("migrate", "down", "test", "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    assert all("titleWords" not in r for r in notes.list_rows("app", "notes")["rows"])
    assert version.stdout.strip() == "2.5.0", version.stderr  # it really is the newest line's client
