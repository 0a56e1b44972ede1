"""The feature freeze on the local server, through the command line: started with ``quixotic freeze start``
(recorded in the target) or declared in the environment file, a frozen environment refuses a deploy that adds
a function, changes the schema or adds a variable (naming each), lets a code-and-values hotfix through
(recorded with its reason and branch), and an explicit override is recorded on the release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from deploy_project import HELLO, deploy_site
from support.server import LocalServer
from support.site import Site


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    site = deploy_site(tmp_path, server)
    deployed = site.cli("deploy", "test", "--yes")
    assert deployed.returncode == 0, deployed.stderr
    return site


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def freeze(site: Site, **dates: str) -> None:
    """Start the freeze in the target, as an operator does."""
    options = [arg for name, day in dates.items() for arg in (f"--{name}", day)]
    started = site.cli("freeze", "start", "test", "--reason", "launch week", *options, QUIXOTIC_ACTOR="ops@ci")
    assert started.returncode == 0, started.stderr
    assert "recorded in the target" in started.stdout


def declare(site: Site, **dates: str) -> None:
    """Declare the freeze in the environment file instead (reviewed like code)."""
    edit(site.root / "environments" / "test.json", lambda env: env.update(freeze={"reason": "launch week", **dates}))


PROHIBITED = (
    "create function:hello2",
    "create table:app/tags",
    "create column:app/tags/title",
    "create column:app/notes/mood",
    "create index:app/notes/by_words",
    "create bucket:images",
    "create variable:hello/NEW_FLAG",
)


def add_prohibited(site: Site) -> None:
    """One change of each prohibited kind: a function, a table, a column, an index, a bucket, a variable."""

    def app(data: dict[str, Any]) -> None:
        data["functions"].append({**data["functions"][0], "$id": "hello2", "name": "Hello 2"})
        notes = data["tables"][0]
        notes["columns"].append({"key": "mood", "type": "varchar", "size": 20, "required": False, "array": False})
        notes["indexes"].append({"key": "by_words", "type": "key", "columns": ["words"], "orders": ["ASC"]})
        data["tables"].append({**notes, "$id": "tags", "name": "Tags", "columns": notes["columns"][:1], "indexes": []})
        data["buckets"].append({**data["buckets"][0], "$id": "images", "name": "Images"})

    flag = {"name": "NEW_FLAG", "type": "string", "default": "on", "secret": False, "description": "A flag.",
            "functions": ["hello"]}  # fmt: skip
    edit(site.root / "appwrite.json", app)
    edit(site.root / "templates" / "shared-variables.json", lambda t: t["variables"].append(flag))


def releases(site: Site) -> list[dict[str, Any]]:
    listed = site.cli("releases", "test", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_a_frozen_environment_refuses_new_functions_schema_and_variables(site: Site) -> None:
    freeze(site, until="2999-12-31")
    add_prohibited(site)
    saved = site.root / "plan.json"
    planned = site.cli("plan", "test", "--out", str(saved))
    assert planned.returncode == 2
    for address in PROHIBITED:
        assert f"frozen: {address}" in planned.stderr, planned.stderr
    comment = site.cli("ci", "comment", "--plan", f"test={saved}")
    assert comment.returncode == 0 and "test is under a feature freeze (launch week)" in comment.stdout
    assert (
        f"The deploy will refuse {len(PROHIBITED)} change(s):" in comment.stdout
        and "`create function:hello2:" in comment.stdout
    )
    refused = site.cli("deploy", "test", "--yes", "--hotfix", "it is urgent")  # a hotfix flag is no override
    assert refused.returncode == 1
    for address in PROHIBITED:
        assert address in refused.stderr
    assert "launch week" in refused.stderr and "--override-freeze" in refused.stderr
    assert len(releases(site)) == 1  # nothing was applied, no release recorded
    assert site.cli("plan", "test").returncode == 2  # still all to do


def test_a_code_and_values_hotfix_goes_through_and_is_recorded(site: Site) -> None:
    freeze(site)
    (site.root / "functions" / "hello" / "src" / "main.py").write_text(HELLO.replace("VERSION = 1", "VERSION = 2"))
    edit(site.root / "environments" / "test.json", lambda env: env["variables"].update(GREETING="howdy"))
    planned = site.cli("plan", "test")
    assert planned.returncode == 2 and "frozen:" not in planned.stderr
    empty = site.cli("deploy", "test", "--yes", "--hotfix", " ")
    assert empty.returncode == 1 and "--hotfix needs a reason" in empty.stderr
    done = site.cli("deploy", "test", "--yes", "--hotfix", "greeting was wrong", GITHUB_REF_NAME="hotfix/greeting")
    assert done.returncode == 0, done.stderr
    latest = releases(site)[0]
    assert latest["hotfix"] == {"reason": "greeting was wrong", "branch": "hotfix/greeting"}
    assert latest["freeze"]["reason"] == "launch week" and "freezeOverride" not in latest
    assert sorted(latest["changes"]) == ["deployment:hello create", "variable:hello/GREETING update"]
    table = site.cli("releases", "test", COLUMNS="250")
    assert "deploy (hotfix)" in table.stdout


def test_an_override_applies_prohibited_changes_and_is_recorded(site: Site) -> None:
    freeze(site, **{"from": "2000-01-01"})
    add_prohibited(site)
    done = site.cli("deploy", "test", "--yes", "--override-freeze", "the launch needs the mood column", timeout=600)
    assert done.returncode == 0, done.stderr
    override = releases(site)[0]["freezeOverride"]
    assert override["reason"] == "the launch needs the mood column"
    assert "create column:app/notes/mood: schema changes are prohibited during the freeze" in override["changes"]
    assert site.cli("plan", "test").returncode == 0


def test_a_freeze_that_ended_refuses_nothing(site: Site) -> None:
    freeze(site, **{"from": "2000-01-01", "until": "2000-01-31"})
    add_prohibited(site)
    done = site.cli("deploy", "test", "--yes")
    assert done.returncode == 0, done.stderr
    assert "freeze" not in releases(site)[0]


def test_status_and_end_of_a_freeze_recorded_in_the_target(site: Site) -> None:
    assert site.cli("freeze", "status", "test").returncode == 3
    freeze(site)
    status = site.cli("freeze", "status", "test")
    assert status.returncode == 0 and "started by ops@ci" in status.stdout and "recorded in the target" in status.stdout
    add_prohibited(site)
    assert site.cli("deploy", "test", "--yes").returncode == 1  # any run against the target sees it, no commit
    ended = site.cli("freeze", "end", "test")
    assert ended.returncode == 0 and "ended the feature freeze (launch week)" in ended.stdout
    assert site.cli("freeze", "status", "test").returncode == 3
    assert site.cli("freeze", "end", "test").stdout.strip() == "test: no feature freeze was recorded"


def test_a_freeze_declared_in_the_environment_file_holds_too(site: Site) -> None:
    declare(site, until="2999-12-31")
    add_prohibited(site)
    refused = site.cli("deploy", "test", "--yes")
    assert refused.returncode == 1 and "launch week" in refused.stderr
    status = site.cli("freeze", "status", "test")
    assert status.returncode == 0 and "in environments/test.json" in status.stdout
    ended = site.cli("freeze", "end", "test")  # ends the target's only: the file's is a reviewed change
    assert "still declares" in ended.stdout and site.cli("freeze", "status", "test").returncode == 0


def test_bad_freeze_input_is_refused_and_records_nothing(site: Site) -> None:
    for args, words in (
        (["nowhere", "--reason", "x"], "environment 'nowhere': unknown environment; known: test"),
        (["test", "--reason", " "], "--reason: must not be empty"),
        (["test", "--reason", "x", "--until", "soon"], "--until: 'soon' is not a date"),
        (["test", "--reason", "x", "--from", "2026-12-24", "--until", "2026-12-01"], "before 'from'"),
    ):
        bad = site.cli("freeze", "start", *args)
        assert bad.returncode == 1 and words in bad.stderr, (args, bad.stderr)
    assert site.cli("freeze", "status", "test").returncode == 3  # nothing recorded by a refusal
    past = site.cli("freeze", "start", "test", "--reason", "old", "--from", "2000-01-01", "--until", "2000-01-02")
    assert past.returncode == 0 and site.cli("freeze", "status", "test").returncode == 3
