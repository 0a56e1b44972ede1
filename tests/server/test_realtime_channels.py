"""Realtime names and subscription queries on literals: the channels of each kind of event (with Appwrite's
action suffix and its exceptions), the event names a frame lists, the account rewriting of subscriptions,
and which queries a subscription may carry and what they let through."""

from __future__ import annotations

import json
import re

import pytest

from quixotic.server.realtime import channels, filters
from quixotic.server.realtime.channels import convert_channels, event_names, publication, rebind_account_channels


def q(method: str, attribute: str = "", values: list[object] | None = None) -> str:
    body: dict[str, object] = {"method": method}
    if attribute:
        body["attribute"] = attribute
    body["values"] = values or []
    return json.dumps(body)


# --- channels ---------------------------------------------------------------------------------------


def test_a_row_event_has_appwrites_16_channels() -> None:
    pub = publication("databases.db1.tables.tasks.rows.r1.create", {"$id": "r1"})
    assert pub is not None and pub.kind == "rows" and pub.ids == ("db1", "tasks", "r1")
    assert list(pub.channels) == [
        "documents",
        "databases.db1.collections.tasks.documents",
        "databases.db1.collections.tasks.documents.r1",
        "rows",
        "databases.db1.tables.tasks.rows",
        "databases.db1.tables.tasks.rows.r1",
        "tablesdb.db1.tables.tasks.rows",
        "tablesdb.db1.tables.tasks.rows.r1",
        "documents.create",
        "databases.db1.collections.tasks.documents.create",
        "databases.db1.collections.tasks.documents.r1.create",
        "rows.create",
        "databases.db1.tables.tasks.rows.create",
        "databases.db1.tables.tasks.rows.r1.create",
        "tablesdb.db1.tables.tasks.rows.create",
        "tablesdb.db1.tables.tasks.rows.r1.create",
    ]


def test_a_legacy_document_event_reaches_the_same_channels() -> None:
    legacy = publication("databases.db1.collections.tasks.documents.r1.update", {})
    modern = publication("databases.db1.tables.tasks.rows.r1.update", {})
    assert legacy is not None and modern is not None and legacy.channels == modern.channels
    assert "tablesdb.db1.tables.tasks.rows.r1.update" in legacy.channels


def test_file_channels() -> None:
    pub = publication("buckets.audio.files.f1.delete", {"bucketId": "audio"})
    assert pub is not None and (pub.kind, pub.ids) == ("files", ("audio", "f1"))
    assert list(pub.channels) == [
        "files", "buckets.audio.files", "buckets.audio.files.f1",
        "files.delete", "buckets.audio.files.delete", "buckets.audio.files.f1.delete",
    ]  # fmt: skip


def test_account_channels_take_the_action_only_for_top_level_user_events() -> None:
    update = publication("users.u1.update.name", {})
    assert update is not None and update.ids == ("u1",)
    assert list(update.channels) == ["account", "account.u1", "account.update", "account.u1.update"]
    session = publication("users.u1.sessions.s1.create", {})
    assert session is not None and list(session.channels) == ["account", "account.u1"]


def test_execution_channels_only_when_a_user_may_read_it() -> None:
    pub = publication("functions.f1.executions.e1.update", {"$permissions": ['read("user:u1")']})
    assert pub is not None and pub.kind == "executions"
    assert list(pub.channels) == [
        "executions", "executions.e1", "functions.f1",
        "executions.update", "executions.e1.update", "functions.f1.update",
    ]  # fmt: skip
    assert publication("functions.f1.executions.e1.update", {"$permissions": []}) is None


@pytest.mark.parametrize(
    "event",
    ["databases.db1.create", "databases.db1.tables.t.create", "databases.db1.tables.t.columns.c.update",
     "buckets.b.create", "functions.f.deployments.d.create", "functions.f.update", "teams"],
)  # fmt: skip
def test_console_events_reach_no_project_client(event: str) -> None:
    assert publication(event, {"$permissions": ['read("any")']}) is None


def test_with_action_only_suffixes_resource_channels() -> None:
    assert channels.with_action(["console", "projects.p1", "rows"], "create") == [
        "console", "projects.p1", "rows", "rows.create"
    ]  # fmt: skip
    assert channels.with_action(["rows", "rows"], None) == ["rows"]


# --- event names ------------------------------------------------------------------------------------


def test_row_event_names_cover_wildcards_parents_and_both_apis() -> None:
    names = event_names("databases.db1.tables.tasks.rows.r1.create")
    assert names[0] == "databases.db1.tables.tasks.rows.r1.create"
    for name in (
        "tablesdb.db1.tables.tasks.rows.r1.create",
        "databases.db1.collections.tasks.documents.r1.create",
        "databases.*.tables.*.rows.*.create",
        "tablesdb.*.tables.tasks.rows.*.create",
        "databases.*.collections.tasks.documents.*",
        "databases.db1.tables.*.rows.r1",
        "databases.*.collections.*",
        "databases.db1.tables.tasks",
        "tablesdb.*",
        "databases.*",
        "databases.db1",
    ):
        assert name in names, name
    assert len(names) == len(set(names))
    # 2^3 + 2^3 + 2^2 + 2^1 names in each of three spellings; the top level is the same in two of them
    assert len(names) == 3 * (8 + 8 + 4) + 2 * 2


def test_user_event_names() -> None:
    assert event_names("users.u1.update.email") == [
        "users.u1.update.email", "users.*.update.email", "users.u1.update", "users.*.update", "users.u1", "users.*"
    ]  # fmt: skip
    names = event_names("users.u1.sessions.s1.create")
    assert names[:2] == ["users.u1.sessions.s1.create", "users.*.sessions.*.create"]
    assert {"users.u1.sessions.*.create", "users.*.sessions.s1", "users.u1", "users.*"} <= set(names)


# --- subscriptions ----------------------------------------------------------------------------------


def test_account_channels_are_the_subscribers_own() -> None:
    asked = ["account", "account.update", "account.other", "account.u1", "rows", "rows"]
    assert convert_channels(asked, "u1") == ["account", "account.u1", "account.u1.update", "rows"]
    assert convert_channels(asked, "") == ["account", "account.update", "rows"]


def test_account_channels_rebound_on_sign_in() -> None:
    assert rebind_account_channels(["account", "account.update", "files"], "", "u1") == [
        "account", "account.u1.update", "files"
    ]  # fmt: skip
    assert rebind_account_channels(["account", "account.u1", "account.u1.delete"], "u1", "u2") == [
        "account", "account.u2", "account.u2.delete"
    ]  # fmt: skip
    assert rebind_account_channels(["account.u1"], "u1", "u1") == ["account.u1"]


# --- queries ----------------------------------------------------------------------------------------


def test_no_queries_or_select_all_listen_to_everything() -> None:
    assert filters.parse([]) == ([filters.SELECT_ALL], [])
    shown, compiled = filters.parse([q("select", values=["*"]), q("equal", "n", [1])])
    assert compiled == [] and len(shown) == 2


@pytest.mark.parametrize(
    ("query", "why"),
    [
        (q("startsWith", "name", ["a"]), "Query method 'startsWith' is not supported in Realtime queries"),
        (q("or", values=[{"method": "search", "attribute": "t", "values": ["x"]}]), "'search' is not supported"),
        (q("select", values=["name"]), 'Only select("*") is allowed'),
        (q("limit", values=[1]), "'limit' is not supported"),
        ("not json", "Syntax error"),
    ],
)
def test_other_queries_are_refused(query: str, why: str) -> None:
    with pytest.raises(filters.InvalidQuery, match=re.escape(why)):
        filters.parse([query])


def test_queries_must_be_strings() -> None:
    with pytest.raises(filters.InvalidQuery, match="list of Query JSON strings"):
        filters.parse([{"method": "equal"}])


def passes(queries: list[str], payload: dict[str, object]) -> bool:
    return filters.passes(filters.parse(queries)[1], payload)


def test_comparisons_on_the_payload() -> None:
    row = {"status": "done", "n": 5, "score": 2.5, "note": None, "flag": True}
    assert passes([q("equal", "status", ["todo", "done"])], row)
    assert not passes([q("equal", "status", ["todo"])], row)
    assert passes([q("notEqual", "status", ["todo"])], row)
    assert not passes([q("notEqual", "status", ["todo", "done"])], row)
    assert passes([q("greaterThan", "n", [4])], row) and not passes([q("greaterThan", "n", [5])], row)
    assert passes([q("greaterThanEqual", "n", [5.0])], row) and passes([q("lessThanEqual", "score", [2.5])], row)
    assert passes([q("lessThan", "status", ["e"])], row)  # strings compare as strings
    assert not passes([q("lessThan", "status", [10])], row)  # a string and a number do not compare
    assert passes([q("equal", "n", [5.0])], row)  # numbers compare as numbers
    assert not passes([q("equal", "flag", [1])], row) and passes([q("equal", "flag", [True])], row)
    assert passes([q("isNull", "note")], row) and not passes([q("isNotNull", "note")], row)
    assert not passes([q("isNull", "missing")], row)  # a missing attribute fails every condition
    assert not passes([q("notEqual", "missing", ["x"])], row)


def test_and_within_a_subscription_and_nested_logic() -> None:
    row = {"status": "done", "n": 5}
    assert passes([q("equal", "status", ["done"]), q("greaterThan", "n", [1])], row)
    assert not passes([q("equal", "status", ["done"]), q("greaterThan", "n", [9])], row)
    either = q("or", values=[json.loads(q("equal", "n", [9])), json.loads(q("equal", "status", ["done"]))])
    assert passes([either], row)
    both = q("and", values=[json.loads(q("equal", "n", [5])), json.loads(q("isNull", "gone"))])
    assert not passes([both], row)
