"""``env clone``: DEV made from PROD in one step; sampled, anonymized, or schema only."""

from __future__ import annotations

import pytest
from appwrite.query import Query
from backup_site import Source

from quixotic.backup.anonymize import Anonymizer
from quixotic.commands import backup as cmd
from quixotic.errors import UsageError


def test_a_full_clone_holds_the_same_data_and_keeps_its_own_variables(source: Source) -> None:
    dst = source.fresh("dev")
    report = cmd.clone(source.site.target("src"), source.site.target(dst))
    assert report.counts["rows"] == sum(source.seeded.rows.values())
    assert cmd.diff_data(source.site.target("src"), source.site.target(dst)).same
    variables = {v.key for v in source.site.target(dst).backend.read_state(with_code=False).variables}
    assert variables == set()  # variables are the target's own business: `quixotic deploy dev` sets them


def test_sampled_anonymized_clone_is_deterministic(source: Source) -> None:
    first, second = source.fresh("dev"), source.fresh("dev")
    for env in (first, second):
        cmd.clone(source.site.target("src"), source.site.target(env), sample=100, anonymize=True)
    a, b = source.site.target(first), source.site.target(second)
    for table in ("notes", "credits", "events"):
        assert a.backend.db.list_rows("app", table, [Query.limit(1)])["total"] == 100
    assert a.backend.storage.list_files("uploads")["total"] == len(source.seeded.files)
    users_a = {u["$id"]: u for u in a.backend.users.list()["users"]}
    users_b = {u["$id"]: u for u in b.backend.users.list()["users"]}
    original = {u["$id"]: u for u in source.site.target("src").backend.users.list()["users"]}
    anonymizer = Anonymizer(source.site.projects["src"].project_id)
    for user_id, user in users_a.items():
        assert user["email"] == anonymizer.email(original[user_id]["email"])
        assert user["name"] != original[user_id]["name"] or not user["name"]
        assert not user["phone"] and not user["password"]
        assert (user["email"], user["name"]) == (users_b[user_id]["email"], users_b[user_id]["name"])
    note = a.backend.db.get_row("app", "notes", "n00001")
    assert note["author"] == anonymizer.email("author1@example.com")
    assert "example.com" in note["author"] and note["author"].startswith("user-")


def test_schema_only_clone_and_refusals(source: Source) -> None:
    dst = source.fresh("dev")
    report = cmd.clone(source.site.target("src"), source.site.target(dst), schema_only=True)
    assert report.restore.rows == 0 and report.restore.files_uploaded == 0
    target = source.site.target(dst)
    assert target.backend.db.list_rows("app", "notes", [Query.limit(1)])["total"] == 0
    assert {t.id for t in target.backend.read_state(with_code=False).tables} == {"notes", "credits", "events"}
    with pytest.raises(UsageError, match="same project"):
        cmd.clone(source.site.target("src"), source.site.target("src"))
