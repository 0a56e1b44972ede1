"""This project's migrations against the local server through the SDK: round trips, dry runs, failures,
tampering, bad input, baselines and protected environments."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from migrate_site import APP, Site, make_site, rows, seed
from support.server import LocalServer
from support.site import REPO

from quixotic.commands import deploy as deploy_cmd
from quixotic.commands import migrate as cmd
from quixotic.errors import MigrationError
from quixotic.migrations.context import Context
from quixotic.migrations.files import load
from quixotic.migrations.graph import Migration
from quixotic.target import Target

SCHEMA = frozenset({"database", "table", "column", "index"})


def word_counts(site: Site) -> dict[str, Any]:
    return {row_id: row.get("wordCount") for row_id, row in rows(site.db).items()}


def expected_count(row: dict[str, Any]) -> int | None:
    return None if row["text"] is None else len(row["text"].split())


def without(data: dict[str, dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {i: {k: v for k, v in r.items() if k != key} for i, r in data.items()}


def states(site: Site) -> list[str]:
    return [s.state for s in cmd.status(site.target()).statuses]


def test_round_trip_of_every_migration_keeps_the_data(site: Site) -> None:
    first = cmd.up(site.target(), to="0001")
    assert [o.name for o in first.outcomes] == ["0001_initial_schema"]
    seed(site.db, 3000)
    before = rows(site.db)
    assert all("wordCount" not in r for r in before.values())

    up = cmd.up(site.target())
    assert [(o.name, o.status) for o in up.outcomes] == [("0002_transcription_word_count", "applied")]
    after_up = rows(site.db)
    assert without(after_up, "wordCount") == {i: {**r, "wordCount": None} for i, r in without(before, "x").items()} or (
        without(after_up, "wordCount") == before
    )
    assert {i: r["wordCount"] for i, r in after_up.items()} == {i: expected_count(r) for i, r in before.items()}
    assert up.outcomes[0].rows == sum(1 for r in before.values() if r["text"] is not None)

    down = cmd.down(site.target())
    assert [(o.name, o.status) for o in down.outcomes] == [("0002_transcription_word_count", "rolled_back")]
    assert rows(site.db) == before  # the column is gone, everything else intact
    assert site.db.get_table(APP, "transcriptions")["columns"] and "wordCount" not in {
        c["key"] for c in site.db.get_table(APP, "transcriptions")["columns"]
    }

    again = cmd.up(site.target())
    assert [o.name for o in again.outcomes] == ["0002_transcription_word_count"]
    assert {i: r["wordCount"] for i, r in rows(site.db).items()} == {i: r["wordCount"] for i, r in after_up.items()}
    assert without(rows(site.db), "wordCount") == without(after_up, "wordCount")

    with pytest.raises(MigrationError, match=r"0001_initial_schema is irreversible.*restore a backup instead"):
        cmd.down(site.target(), to="0")
    assert states(site) == ["applied", "applied"]
    history = [(r["migrationId"], r["direction"], r["status"]) for r in site.history()]
    assert history == [
        ("0001", "up", "applied"),
        ("0002", "up", "applied"),
        ("0002", "down", "rolled_back"),
        ("0002", "up", "applied"),
    ]
    record = site.history()[-1]
    assert record["checksum"] and record["by"] and record["finishedAt"] and record["seconds"] >= 0
    assert record["cursors"] == {"transcriptions": "3000"} and record["environment"] == "test"
    assert cmd.verify(site.target()).problems == []


def test_deploy_and_migrations_agree_on_the_schema(server: LocalServer, tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", server)
    shutil.copytree(REPO / "functions", site.root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    deploy_cmd.deploy(site.target(), yes=True, only=SCHEMA)  # deploy first: the schema incl. wordCount exists
    seed(site.db, 500)
    result = cmd.up(site.target())
    initial, word_count = result.outcomes
    assert all(a.startswith("keep ") for a in initial.actions), initial.actions
    assert "keep column transcriptions.wordCount (exists)" in word_count.actions
    assert word_counts(site) == {i: expected_count(r) for i, r in rows(site.db).items()}
    plan = deploy_cmd.restrict(deploy_cmd.plan(site.target()).plan, SCHEMA)
    assert plan.is_empty, [c.address for c in plan.changes]


def test_dry_run_records_and_writes_nothing(site: Site) -> None:
    fresh = cmd.up(site.target(), dry_run=True)
    assert [o.status for o in fresh.outcomes] == ["dry-run", "dry-run"]
    assert "would create table transcriptions" in fresh.outcomes[0].actions
    assert site.history() == [] and site.target().system.current_lock("migrations") is None
    cmd.up(site.target(), to="1")
    seed(site.db, 1200)
    before = rows(site.db)
    dry = cmd.up(site.target(), dry_run=True)
    (outcome,) = dry.outcomes
    with_text = sum(1 for r in before.values() if r["text"] is not None)
    assert outcome.actions == [
        "would create column transcriptions.wordCount (integer)",
        f"would write {with_text} rows of transcriptions",
    ]
    assert rows(site.db) == before
    assert [r["migrationId"] for r in site.history()] == ["0001"]
    cli = site.cli("migrate", "down", "test", "--dry-run")
    assert cli.returncode == 1 and "irreversible" in cli.stderr


FLAKY = '''"""Sets model on every transcription; fails at the row named by FAIL_AT (to test failures)."""

import os


def mark(row):
    if row["$id"] == os.environ.get("FAIL_AT"):
        raise RuntimeError("bad row " + row["$id"])
    return {"model": "v2"}


def up(ctx):
    ctx.backfill("transcriptions", mark, select=["model"])


def down(ctx):
    ctx.update_matching("transcriptions", {"model": None})
'''


def test_a_failure_is_recorded_and_the_next_up_resumes(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.write_migration("0003_set_model.py", FLAKY)
    cmd.up(site.target(), to="0001")
    seed(site.db, 3000)
    monkeypatch.setenv("FAIL_AT", "t001500")
    with pytest.raises(MigrationError) as err:
        cmd.up(site.target())
    message = err.value.message
    assert "0003_set_model up failed: RuntimeError: bad row t001500" in message
    assert "0002_transcription_word_count applied before it" in message
    assert "saved up to transcriptions #1000" in message and "quixotic migrate up ENV" in message
    assert "migrate down ENV --steps 1" in message
    status = {s.id: s for s in cmd.status(site.target()).statuses}
    assert status["0003"].state == "failed" and "bad row t001500" in status["0003"].detail
    failed = site.history()[-1]
    assert (failed["status"], failed["cursors"], failed["rows"]) == ("failed", {"transcriptions": "1000"}, 1000)
    with pytest.raises(MigrationError, match="unfinished"):
        cmd.baseline(site.target(), "0003")
    assert cmd.verify(site.target()).problems  # CI sees the unfinished migration

    monkeypatch.delenv("FAIL_AT")
    retry = cmd.up(site.target())
    (outcome,) = retry.outcomes
    assert outcome.resumed and outcome.rows == 2000  # only the rows after the saved cursor
    assert {r["model"] for r in rows(site.db).values()} == {"v2"}
    last = site.history()[-1]
    assert last["status"] == "applied" and last["retryOf"] == failed["attempt"]
    cmd.down(site.target())
    assert {r["model"] for r in rows(site.db).values()} == {None}


def test_verify_catches_an_edited_migration(site: Site) -> None:
    cmd.up(site.target())
    ok = site.cli("migrate", "verify", "test")
    assert ok.returncode == 0 and "ok (2 applied, 0 pending" in ok.stdout
    path = site.root / "migrations" / "0002_transcription_word_count.py"
    original = path.read_text()
    path.write_text(original.replace("str.split()", "str.split() "))
    bad = site.cli("migrate", "verify", "test")
    assert bad.returncode == 1
    assert "0002_transcription_word_count was edited after it was applied" in bad.stderr
    assert "checksum" in bad.stderr
    assert states(site) == ["applied", "edited-after-apply"]
    for run in (lambda: cmd.up(site.target()), lambda: cmd.down(site.target())):
        with pytest.raises(MigrationError, match=r"(?s)nothing was changed.*edited after it was applied"):
            run()
    path.write_text(original)
    assert cmd.verify(site.target()).problems == []


def test_history_that_names_a_missing_file_or_runs_out_of_order(site: Site) -> None:
    cmd.up(site.target())
    moved = site.root / "0002.bak"
    (site.root / "migrations" / "0002_transcription_word_count.py").rename(moved)
    report = cmd.status(site.target())
    assert [s.state for s in report.statuses] == ["applied", "missing-file"]
    assert any("its file is gone" in p for p in report.problems)
    with pytest.raises(MigrationError, match="0002_transcription_word_count is applied in the target's history"):
        cmd.up(site.target())
    assert cmd.verify(site.target()).problems
    moved.rename(site.root / "migrations" / "0002_transcription_word_count.py")

    site.write_migration("0003_a.py", FLAKY)
    site.write_migration("0004_b.py", FLAKY)
    b = site.root / "migrations" / "0004_b.py"
    migration, _ = load(b, "0004", "b")
    assert migration is not None
    # another branch applied its migration as 0004 while this one's 0003 never ran
    site.target().system.start_migration("0004", "up", "applied", {"slug": "b", "checksum": migration.checksum})
    with pytest.raises(MigrationError, match="0003_a is pending but 0004_b, after it, is already applied"):
        cmd.up(site.target())


def test_bad_input_is_refused_before_anything_changes(site: Site) -> None:
    def untouched() -> None:
        assert site.history() == [] and site.target().system.current_lock("migrations") is None

    with pytest.raises(MigrationError, match="unknown migration '0042'"):
        cmd.up(site.target(), to="0042")
    with pytest.raises(MigrationError, match="not applied"):
        cmd.down(site.target(), to="0002")
    with pytest.raises(MigrationError, match="only 0 migration"):
        cmd.down(site.target())
    untouched()
    site.write_migration("0003_broken.py", "def up(ctx):\n    return (\n")
    site.write_migration("0005_gap.py", FLAKY)
    with pytest.raises(MigrationError) as err:
        cmd.up(site.target())
    assert "0003_broken.py does not import" in err.value.message and "a gap: 0004 missing" in err.value.message
    untouched()
    report = cmd.status(site.target())  # status still shows what it can, and lists the problems
    assert [(s.id, s.state) for s in report.statuses] == [("0001", "pending"), ("0002", "pending"), ("0005", "pending")]
    assert len(report.problems) == 2


def test_baseline_adopts_a_project_that_already_has_the_schema(site: Site) -> None:
    migration, _ = load(site.root / "migrations" / "0001_initial_schema.py", "0001", "initial_schema")
    assert migration is not None and migration.up is not None
    migration.up(Context(site.target().backend, database=APP))  # as if made by hand, long ago
    seed(site.db, 100)
    baselined = cmd.baseline(site.target(), "0001")
    assert [(o.name, o.status) for o in baselined] == [("0001_initial_schema", "baselined")]
    assert cmd.status(site.target()).statuses[0].detail == "baselined (adopted, not run)"
    assert cmd.baseline(site.target(), "0001") == []
    result = cmd.up(site.target())
    assert [o.name for o in result.outcomes] == ["0002_transcription_word_count"]
    with pytest.raises(MigrationError, match="0002_transcription_word_count after it is already applied"):
        cmd.baseline(site.target(), "0001")
    with pytest.raises(MigrationError, match="unknown migration"):
        cmd.baseline(site.target(), "7")


PROTECTED = {"requireConfirmation": True, "refuseDestructive": True, "backupBeforeMigrations": True}


def test_protected_environment_needs_confirmation_and_a_backup(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(tmp_path / "site", server, protection=PROTECTED)
    assert len(cmd.up(site.target(), dry_run=True).outcomes) == 2  # a dry run needs neither
    with pytest.raises(MigrationError, match=r"needs confirmation.*--yes"):
        cmd.up(site.target(), no_backup=True)
    asked: list[list[str]] = []

    def refuse(direction: str, chosen: Sequence[Migration]) -> bool:
        asked.append([m.name for m in chosen])
        return False

    with pytest.raises(MigrationError, match="needs confirmation"):
        cmd.up(site.target(), no_backup=True, confirm=refuse)
    assert asked == [["0001_initial_schema", "0002_transcription_word_count"]] and site.history() == []
    cmd.up(site.target(), to="1", no_backup=True, yes=True)
    assert site.history()[-1]["backup"] == "skipped (--no-backup)"

    calls: list[str] = []

    def backup(target: Target) -> Path:
        calls.append(target.env.name)
        assert [r["migrationId"] for r in target.system.migration_rows()] == ["0001"]  # taken before migrating
        return tmp_path / "backup.tar"

    monkeypatch.setattr(cmd, "backup", backup)  # the real one is tested in tests/backup; here: when it runs
    result = cmd.up(site.target(), confirm=lambda direction, chosen: True)
    assert calls == ["test"] and result.backup == str(tmp_path / "backup.tar")
    assert site.history()[-1]["backup"] == str(tmp_path / "backup.tar")
    down = site.cli("migrate", "down", "test", "--no-backup")  # the CLI asks; with no terminal the answer is no
    assert down.returncode == 1 and "Run these 1 migration(s) (down)?" in down.stderr
    assert site.cli("migrate", "down", "test", "--no-backup", "--yes").returncode == 0


def test_cli_up_status_down(site: Site) -> None:
    up = site.cli("migrate", "up", "test", "--to", "0001")
    assert up.returncode == 0, up.stderr
    assert "0001_initial_schema: applied" in up.stdout and "applying 0001_initial_schema" in up.stderr
    status = json.loads(site.cli("migrate", "status", "test", "--json").stdout)
    assert [m["state"] for m in status["migrations"]] == ["applied", "pending"] and status["problems"] == []
    table = site.cli("migrate", "status", "test")
    assert table.returncode == 0 and "initial_schema" in table.stdout
    cmd.up(site.target())
    down = site.cli("migrate", "down", "test", "--steps", "1")
    assert down.returncode == 0 and "0002_transcription_word_count: rolled_back" in down.stdout
    assert "test: nothing to apply" in site.cli("migrate", "up", "test", "--to", "1").stdout
    for out in (up, table, down):
        assert site.environ["QUIXOTIC_TEST_API_KEY"] not in out.stdout + out.stderr
