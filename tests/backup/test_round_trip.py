"""Back up a seeded project, restore it into fresh ones, and prove with diff-data that nothing was lost."""

from __future__ import annotations

import json
from typing import Any

import pytest
from appwrite.query import Query
from backup_site import PASSPHRASE, Source, token_hash

from quixotic.backup.archive import ArchiveReader
from quixotic.backup.restore import RestorePreview
from quixotic.commands import backup as cmd
from quixotic.errors import BackupError
from quixotic.target import Target


def execute(target: Target) -> dict[str, Any]:
    result = target.backend.functions.create_execution("hello", "", False, "/", "GET")
    assert result["status"] == "completed", result["errors"]
    return dict(json.loads(result["responseBody"]))


def test_the_archive_holds_every_part_with_counts(source: Source) -> None:
    with ArchiveReader(source.archive) as reader:
        m = reader.manifest
        names = set(reader.names())
    assert m["formatVersion"] == 1 and m["source"]["environment"] == "src" and m["source"]["serverVersion"]
    assert m["counts"]["rows"] == sum(source.seeded.rows.values())
    assert m["counts"]["files"] == len(source.seeded.files)
    assert m["counts"]["fileBytes"] == sum(len(d) for d in source.seeded.files.values())
    assert m["counts"]["users"] == len(source.seeded.users) and m["counts"]["secrets"] == 1
    expected = {"schema.json", "rows/app/notes.ndjson", "files/uploads.ndjson", "files/uploads/f3", "users.ndjson",
                "functions.json", "functions/hello.tar.gz", "variables.json", "history/releases.ndjson"}  # fmt: skip
    assert expected <= names
    assert not any(n.startswith("history/locks") for n in names)
    assert m["encryption"]["cipher"] == "AES-256-GCM"
    with ArchiveReader(source.archive) as reader:
        variables = reader.read_json("variables.json")
    secret = next(v for v in variables if v["key"] == "API_TOKEN")
    assert "value" not in secret and "token-of-src" not in json.dumps(variables)


def test_round_trip_into_a_fresh_project_loses_nothing(source: Source) -> None:
    dst = source.fresh()
    report = cmd.restore(source.archive, source.site.target(dst), passphrase=PASSPHRASE)
    assert report.mode == "merge" and not report.resumed
    assert report.warnings == ["history releases: the archive's come from environment src, not restored into " + dst]
    assert report.rows == sum(source.seeded.rows.values()) and report.files_uploaded == len(source.seeded.files)
    assert report.users == {"created": len(source.seeded.users)}
    diff = cmd.diff_data(source.site.target("src"), source.site.target(dst))
    assert diff.same, [d.describe() for d in diff.items if not d.same]
    assert {d.item for d in diff.items} == {"table app/notes", "table app/credits", "table app/events",
                                             "bucket uploads", "users"}  # fmt: skip
    # Functions run with the source's code, variables and (sealed, then opened) secret.
    assert execute(source.site.target(dst)) == {"greeting": "hello from src", "region": "eu",
                                                 "token": token_hash("token-of-src")}  # fmt: skip
    # Users keep their password hashes, labels and prefs; the restore is recorded in the target's history.
    users = source.site.target(dst).backend.users
    ada, original = users.get("u000"), source.site.target("src").backend.users.get("u000")
    assert (ada["password"], ada["hashOptions"], ada["labels"], ada["prefs"]) == (
        original["password"], original["hashOptions"], original["labels"], original["prefs"])  # fmt: skip
    assert [r.kind for r in source.site.target(dst).system.releases()] == ["restore"]
    # The schema is exactly the source's: a plan from the restored project to the source's schema is empty.
    live_dst = source.site.target(dst).backend.read_state(with_code=False)
    live_src = source.site.target("src").backend.read_state(with_code=False)
    assert (live_dst.databases, live_dst.tables, live_dst.buckets) == (
        live_src.databases, live_src.tables, live_src.buckets)  # fmt: skip

    with pytest.raises(BackupError, match="not empty"):  # it finished: the project may have moved on since
        cmd.restore(source.archive, source.site.target(dst), passphrase=PASSPHRASE)
    again = cmd.restore(source.archive, source.site.target(dst), mode="merge", passphrase=PASSPHRASE)
    assert not again.resumed and again.changes == 0 and again.files_uploaded == 0
    assert again.files_kept == len(source.seeded.files) and again.users == {"kept": len(source.seeded.users)}
    assert cmd.diff_data(source.site.target("src"), source.site.target(dst)).same


def test_without_the_passphrase_secrets_come_from_the_target_configuration(source: Source) -> None:
    dst = source.fresh()
    only = frozenset({"schema", "functions", "variables"})
    report = cmd.restore(source.archive, source.site.target(dst), only=only)
    assert any("passphrase" in w for w in report.warnings)
    assert report.rows == 0 and report.files_uploaded == 0
    assert execute(source.site.target(dst))["token"] == token_hash(f"token-of-{dst}")
    with pytest.raises(BackupError, match="wrong passphrase"):
        cmd.restore(source.archive, source.site.target(dst), passphrase="not it", mode="merge")


def test_a_non_empty_project_needs_replace_or_merge(source: Source) -> None:
    dst = source.fresh()
    target = source.site.target(dst)
    target.backend.db.create("other", "Another database")
    with pytest.raises(BackupError, match=r"--replace.*--merge"):
        cmd.restore(source.archive, source.site.target(dst), passphrase=PASSPHRASE)
    assert [d["$id"] for d in target.backend.db.list()["databases"]] == ["other"]  # nothing written

    merged = cmd.restore(source.archive, source.site.target(dst), mode="merge", passphrase=PASSPHRASE)
    assert merged.mode == "merge"
    target.backend.db.create_row("app", "events", "extra", {"payload": "not in the archive"})
    ids = {d["$id"] for d in target.backend.db.list()["databases"]}
    assert {"other", "app"} <= ids
    assert cmd.diff_data(source.archive, source.site.target(dst)).same is False

    replaced = cmd.restore(source.archive, source.site.target(dst), mode="replace", passphrase=PASSPHRASE)
    assert replaced.rows_deleted == 1 and replaced.mode == "replace"
    assert "other" not in {d["$id"] for d in target.backend.db.list()["databases"]}
    assert cmd.diff_data(source.archive, source.site.target(dst)).same


def test_a_protected_environment_needs_confirmation(source: Source) -> None:
    dst = source.fresh("safe", protected=True)
    seen = []

    def refuse(preview: RestorePreview) -> bool:
        seen.append(preview)
        return False

    with pytest.raises(BackupError, match="protected"):
        cmd.restore(source.archive, source.site.target(dst), confirm=refuse, passphrase=PASSPHRASE)
    assert seen and seen[0].environment == dst and seen[0].plan.changes
    target = source.site.target(dst)
    assert target.backend.db.list([Query.limit(1)])["total"] == 0
    report = cmd.restore(source.archive, source.site.target(dst), yes=True, passphrase=PASSPHRASE)
    assert report.rows == sum(source.seeded.rows.values())


def test_the_restore_plans_again_under_its_locks(source: Source) -> None:
    """What changed between the preview and the locks is planned for, and shown again: a bucket made meanwhile
    is updated, not created a second time (a stale plan would fail with 409 here)."""
    dst = source.fresh("late", protected=True)
    target = source.site.target(dst)

    shown: list[str] = []

    def meanwhile(preview: RestorePreview) -> bool:
        (bucket,) = [c.action for c in preview.plan.changes if c.address == "bucket:uploads"]
        shown.append(bucket)
        if bucket == "create":  # while the operator reads the preview, someone makes the bucket
            target.backend.storage.create_bucket("uploads", "made meanwhile", maximum_file_size=1_000)
        return True

    report = cmd.restore(source.archive, target, confirm=meanwhile, passphrase=PASSPHRASE)
    assert shown == ["create", "update"]  # what changed under the locks was shown again before it was applied
    assert report.rows == sum(source.seeded.rows.values())
    bucket = target.backend.storage.get_bucket("uploads")
    original = source.site.target("src").backend.storage.get_bucket("uploads")
    assert (bucket["name"], bucket["maximumFileSize"]) == (original["name"], original["maximumFileSize"])
    assert cmd.diff_data(source.archive, target).same


def test_functions_that_react_to_events_do_not_fire_while_data_is_restored(source: Source) -> None:
    dst = source.fresh()
    target = source.site.target(dst)
    cmd.restore(source.archive, target, only=frozenset({"schema", "functions"}), passphrase=PASSPHRASE)
    functions = target.backend.functions
    hello = functions.get("hello")
    functions.update("hello", name=hello["name"], runtime=hello["runtime"], execute=[],
                     events=["databases.app.tables.*.rows.*.create"])  # fmt: skip
    report = cmd.restore(source.archive, source.site.target(dst), mode="merge", passphrase=PASSPHRASE)
    assert report.rows == sum(source.seeded.rows.values())
    assert functions.list_executions("hello")["total"] == 0
    after = functions.get("hello")
    assert after["enabled"] and after["events"] == []  # the archive's settings, put back by the plan


def test_disaster_recovery_into_the_same_environment_brings_its_history_back(source: Source) -> None:
    target = source.site.target("src")
    backend = target.backend
    backend.db.delete_rows("app", "notes", [Query.starts_with("title", "note 1")])
    backend.storage.delete_file("uploads", "f1")
    backend.users.delete("u002")
    backend.db.create_row("app", "events", "after-backup", {"payload": "made after the backup"})
    assert not cmd.diff_data(source.archive, target).same
    report = cmd.restore(source.archive, source.site.target("src"), mode="replace", passphrase=PASSPHRASE)
    assert report.rows_deleted == 1 and report.files_uploaded == 1 and report.users.get("created") == 1
    assert cmd.diff_data(source.archive, source.site.target("src")).same
    kinds = [r.kind for r in source.site.target("src").system.releases()]
    assert kinds == ["restore", "deploy"]
