"""The feature freeze for migrations, on the local server through the command line: a migration whose dry
run changes the schema is refused while the environment is frozen (naming what it would change), a data-only
migration goes through, and an explicit override is recorded in the migration history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.server import LocalServer
from support.site import NO_PROTECTION, Site

DATA_ONLY = '''"""Clears the model of every transcription (data only)."""


def up(ctx):
    ctx.update_matching("transcriptions", {"model": None})


def down(ctx):
    pass
'''


@pytest.fixture
def site(server: LocalServer, tmp_path: Path) -> Site:
    """This repository's project and migrations; 0001 (the schema) applied before the freeze is declared."""
    site = Site.create(tmp_path / "project", server, from_repo=["appwrite.json", "templates", "migrations"])
    site.add_env("test", project_name="Freeze migrations", protection=NO_PROTECTION)
    first = site.cli("migrate", "up", "test", "--to", "0001")
    assert first.returncode == 0, first.stderr
    env_file = site.root / "environments" / "test.json"
    env_file.write_text(json.dumps({**json.loads(env_file.read_text()), "freeze": {"reason": "launch week"}}))
    return site


def test_a_schema_migration_is_refused_during_the_freeze_until_overridden(site: Site) -> None:
    refused = site.cli("migrate", "up", "test")
    assert refused.returncode == 1
    assert "0002_transcription_word_count: create column transcriptions.wordCount" in refused.stderr
    assert "launch week" in refused.stderr and "--override-freeze" in refused.stderr
    assert all(row["migrationId"] != "0002" for row in site.target().system.migration_rows())  # nothing ran
    dry = site.cli("migrate", "up", "test", "--dry-run")
    assert dry.returncode == 0 and "would create column transcriptions.wordCount" in dry.stdout
    empty = site.cli("migrate", "up", "test", "--override-freeze", "")
    assert empty.returncode == 1 and "--override-freeze needs a reason" in empty.stderr
    done = site.cli("migrate", "up", "test", "--override-freeze", "word counts ship with the launch")
    assert done.returncode == 0, done.stderr
    applied = [r for r in site.target().system.migration_rows() if r["migrationId"] == "0002"]
    assert [r["status"] for r in applied] == ["applied"]
    assert applied[0]["freezeOverride"] == "word counts ship with the launch"


def test_a_data_only_migration_goes_through_a_freeze(site: Site) -> None:
    (site.root / "migrations" / "0002_transcription_word_count.py").unlink()
    (site.root / "migrations" / "0002_clear_models.py").write_text(DATA_ONLY)
    done = site.cli("migrate", "up", "test")
    assert done.returncode == 0, done.stderr
    assert "0002_clear_models: applied" in done.stdout
