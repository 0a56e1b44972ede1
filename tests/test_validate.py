"""`quixotic validate` end to end on the local server: a deployed environment passes, a removed column fails it
and shows as undeclared drift against another environment, declared overrides do not, and an unreachable
target is a run that could not be made (exit 2)."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB
from deploy_project import ENV_CONFIG, SECRET, deploy_site
from support.server import LocalServer
from support.site import Site, write

from quixotic.commands import deploy
from quixotic.commands.backup import backup, verify
from quixotic.commands.validate import validate
from quixotic.errors import QuixoticError
from quixotic.server import admin
from quixotic.target import connect


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path / "site", server)
    write(site.root / "templates/checks.json", checks(["greeting", "version"]))
    site.add_env("ref", secrets={"API_TOKEN": SECRET}, **{**ENV_CONFIG, "variables": {"GREETING": "bonjour"}})
    deploy.deploy(site.target("test"), yes=True)
    deploy.deploy(site.target("ref"), yes=True)
    return site


def checks(keys: list[str]) -> dict[str, object]:
    smoke = {"request": {"method": "GET", "path": "/"}, "status": 200, "keys": keys, "budgetMs": 10_000}
    return {"functions": {"hello": {"smoke": smoke}}}


def drop_column(site: Site, env: str, key: str) -> None:
    tables = TablesDB(site.client(env))
    tables.delete_column("app", "notes", key)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            tables.get_column("app", "notes", key)
        except AppwriteException:
            return
        time.sleep(0.05)
    raise AssertionError(f"column {key} was not deleted")


def test_a_deployed_environment_passes_and_declared_overrides_are_not_drift(site: Site, tmp_path: Path) -> None:
    report = validate(site.target("test"), against=site.target("ref"), backups=tmp_path / "no-backups")
    status = {f.check: f.status for f in report.findings}
    assert status == {
        "reach": "PASS", "scopes": "PASS", "schema": "PASS", "buckets": "PASS", "functions": "PASS",
        "variables": "PASS", "deployments": "PASS", "logging": "PASS", "builds": "PASS", "smoke": "PASS",
        "migrations": "PASS", "backup": "WARN", "drift from ref": "PASS",
    }  # fmt: skip
    assert report.exit_code == 0 and report.verdict == "WARN"
    greeting = [d for d in report.drift if d.path == "variable:hello/GREETING.value"]
    assert [(d.here, d.there, d.declared) for d in greeting] == [("hello", "bonjour", True)]
    assert all(d.declared for d in report.drift), [d.describe() for d in report.drift]


def test_a_removed_column_fails_validation_and_is_undeclared_drift(site: Site) -> None:
    drop_column(site, "test", "words")
    write(site.root / "templates/checks.json", checks(["greeting", "missing"]))
    report = validate(site.target("test"), against=site.target("ref"))
    by_check = {f.check: f for f in report.findings}
    assert by_check["smoke"].status == "FAIL" and by_check["smoke"].evidence == ("hello: the answer lacks missing",)
    assert by_check["schema"].status == "FAIL"
    assert any(e.startswith("create column:app/notes/words") for e in by_check["schema"].evidence)
    drift = by_check["drift from ref"]
    assert drift.status == "FAIL"
    assert "column:app/notes/words: absent here, present there (NOT declared)" in drift.evidence
    assert report.exit_code == 1
    # The CLI prints the same as JSON and exits 1; the reference itself still passes.
    done = site.cli("validate", "test", "--against", "ref", "--json")
    assert done.returncode == 1, done.stderr
    printed = json.loads(done.stdout)
    assert printed["verdict"] == "FAIL" and {"path": "column:app/notes/words", "here": "absent", "there": "present",
                                               "declared": False} in printed["drift"]  # fmt: skip
    write(site.root / "templates/checks.json", checks(["greeting", "version"]))
    assert site.cli("validate", "ref").returncode == 0


def test_an_unreachable_target_could_not_be_validated(site: Site) -> None:
    done = site.cli("validate", "test", QUIXOTIC_TEST_ENDPOINT="http://127.0.0.1:1/v1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "COULD NOT RUN" in done.stdout and "quixotic up" in done.stdout


def test_a_read_only_key_validates_and_says_what_it_cannot_do(site: Site, server: LocalServer) -> None:
    reads = ["databases.read", "tables.read", "rows.read", "buckets.read", "files.read", "functions.read",
             "users.read", "execution.read", "execution.write"]  # fmt: skip
    key = admin.create_key(server.data_dir, site.projects["test"].project_id, reads)
    target = connect(site.root, "test", {**site.environ, "QUIXOTIC_TEST_API_KEY": key})
    report = validate(target)
    by_check = {f.check: f for f in report.findings}
    assert report.ran and by_check["schema"].status == "PASS"
    assert by_check["scopes"].status == "FAIL" and "tables.write" in by_check["scopes"].evidence
    assert by_check["recorded"].status == "WARN"


def test_the_backup_check_says_it_read_the_manifest_not_that_it_verified(site: Site, tmp_path: Path) -> None:
    """Listing backups reads each archive's manifest only: a damaged part is not seen, so the finding must not
    claim a verification (``backup verify`` and ``preflight`` check every part)."""
    archive = backup(site.target("test"), out=tmp_path / "backups" / "test.zip")
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(damaged, "w") as out:
        parts = source.infolist()
        victim = next(p for p in parts if p.filename != "manifest.json" and p.file_size > 0)
        for part in parts:
            data = source.read(part)
            out.writestr(part, data[::-1] if part is victim else data)
    damaged.replace(archive)
    with pytest.raises(QuixoticError):
        verify(archive)
    report = validate(site.target("test"), backups=tmp_path / "backups", keep=False)
    found = next(f for f in report.findings if f.check == "backup")
    assert found.status == "PASS" and "manifest read (not verified" in found.summary, found.summary
    assert "h old, verified" not in found.summary and f"quixotic backup verify {archive}" in found.summary
