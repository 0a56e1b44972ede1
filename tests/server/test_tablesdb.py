"""Conformance of the TablesDB service, driven only through the official SDK (``appwrite`` 15.x)
against the real local server: databases, tables, columns, indexes, rows, bulk writes,
increments, queries, and the errors Appwrite answers for bad input and bad credentials."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from appwrite.enums.index_type import IndexType
from appwrite.enums.order_by import OrderBy
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.tables_db import TablesDB
from column_specs import column
from support.sdk import (
    ISO_MS,
    ROW_SYSTEM_KEYS,
    Flavour,
    assert_timestamps,
    ids,
    raises_api,
    v25_fields,
    wait_available,
    wait_gone,
    wait_index,
)

from quixotic.server import admin

DB = "main"


pytestmark = pytest.mark.usefixtures("quiet_sdk")  # string columns are deprecated since 1.9, current in 1.8


@pytest.fixture
def db(tdb: TablesDB) -> str:
    tdb.create(DB, "Main")
    return DB


def _pause() -> None:
    """Let the millisecond clock move so that ``$updatedAt`` can differ."""
    time.sleep(0.005)


# --------------------------------------------------------------------------------------- databases


def test_database_crud(api: Flavour) -> None:
    """Through TablesDB and the legacy API alike."""
    created = api.create("main", "Main DB")
    assert set(created) >= {"$id", "name", "$createdAt", "$updatedAt", "enabled", "type"}
    # Newer fields every format gets (SDK 17-22 require both lists; Appwrite's filters never strip them).
    assert created["policies"] == [] and created["archives"] == []
    assert (created["$id"], created["name"], created["enabled"], created["type"]) == (
        "main",
        "Main DB",
        True,
        api.name,
    )
    assert_timestamps(created)
    assert api.get("main") == created

    _pause()
    updated = api.update("main", "Renamed", enabled=False)
    assert (updated["name"], updated["enabled"]) == ("Renamed", False)
    assert updated["$createdAt"] == created["$createdAt"]
    assert updated["$updatedAt"] > created["$updatedAt"]
    assert api.get("main") == updated

    api.delete("main")
    with raises_api(404, "database_not_found"):
        api.get("main")
    with raises_api(404, "database_not_found"):
        api.delete("main")
    with raises_api(404, "database_not_found"):
        api.update("main", "again")


def test_database_generated_ids(tdb: TablesDB) -> None:
    sdk_made = tdb.create(ID.unique(), "One")
    server_made = tdb.create("unique()", "Two")
    assert len(sdk_made["$id"]) == 20
    assert server_made["$id"] != "unique()" and len(server_made["$id"]) == 20
    assert tdb.list()["total"] == 2


def test_database_list_queries_search_and_total(tdb: TablesDB) -> None:
    for db_id, name in (("alpha", "Alpha reports"), ("beta", "Beta logs"), ("gamma", "Gamma reports")):
        tdb.create(db_id, name)
    everything = tdb.list()
    assert everything["total"] == 3 and ids(everything, "databases") == ["alpha", "beta", "gamma"]
    assert ids(tdb.list([Query.equal("name", "Beta logs")]), "databases") == ["beta"]
    page = tdb.list([Query.limit(1), Query.offset(1)])
    assert page["total"] == 3 and ids(page, "databases") == ["beta"]
    assert ids(tdb.list([Query.order_desc("name")]), "databases") == ["gamma", "beta", "alpha"]
    assert ids(tdb.list([Query.cursor_after("alpha")]), "databases") == ["beta", "gamma"]
    searched = tdb.list(search="reports")
    assert searched["total"] == 2 and ids(searched, "databases") == ["alpha", "gamma"]
    uncounted = tdb.list(total=False)
    assert uncounted["total"] == 0 and len(uncounted["databases"]) == 3


def test_delete_database_removes_its_tables(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("n")])
    tdb.create_row(db, "t", "r", {"n": 1})
    tdb.delete(db)
    tdb.create(db, "Again")
    with raises_api(404, "table_not_found"):
        tdb.get_table(db, "t")
    assert tdb.list_tables(db)["total"] == 0


# ------------------------------------------------------------------------------------------ tables


def test_table_crud(api: Flavour, api_db: str) -> None:
    """Through TablesDB and the legacy API alike."""
    db = api_db
    perms = [
        Permission.read(Role.any()),
        Permission.create(Role.users()),
        Permission.update(Role.team("admins")),
        Permission.delete(Role.user("u1")),
    ]
    created = api.create_table(db, "books", "Books", permissions=perms, row_security=True, enabled=False)
    assert set(created) == {
        "$id",
        "$createdAt",
        "$updatedAt",
        "$permissions",
        "databaseId",
        "name",
        "enabled",
        api.word("rowSecurity"),
        api.word("columns"),
        "indexes",
        "bytesMax",
        "bytesUsed",
    } | set(v25_fields(description=""))
    assert created["$permissions"] == ['read("any")', 'create("users")', 'update("team:admins")', 'delete("user:u1")']
    assert (created["databaseId"], created["name"], created["enabled"], created[api.word("rowSecurity")]) == (
        db,
        "Books",
        False,
        True,
    )
    assert created[api.word("columns")] == [] and created["indexes"] == []
    assert_timestamps(created)
    assert api.get_table(db, "books") == created

    _pause()
    updated = api.update_table(
        db, "books", "Novels", permissions=[Permission.write(Role.any())], row_security=False, enabled=True
    )
    assert (updated["name"], updated[api.word("rowSecurity")], updated["enabled"]) == ("Novels", False, True)
    assert updated["$permissions"] == ['create("any")', 'update("any")', 'delete("any")']  # write() expanded
    assert updated["$updatedAt"] > created["$updatedAt"]
    assert api.get_table(db, "books") == updated

    api.delete_table(db, "books")
    with raises_api(404, api.word("table_not_found")):
        api.get_table(db, "books")
    with raises_api(404, api.word("table_not_found")):
        api.delete_table(db, "books")


def test_table_list_queries_and_search(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "orders", "Customer orders")
    tdb.create_table(db, "invoices", "Invoices", row_security=True)
    tdb.create_table(db, "refunds", "Customer refunds", enabled=False)
    assert ids(tdb.list_tables(db), "tables") == ["orders", "invoices", "refunds"]
    assert ids(tdb.list_tables(db, [Query.equal("rowSecurity", True)]), "tables") == ["invoices"]
    assert ids(tdb.list_tables(db, [Query.equal("enabled", False)]), "tables") == ["refunds"]
    assert ids(tdb.list_tables(db, search="customer"), "tables") == ["orders", "refunds"]
    page = tdb.list_tables(db, [Query.limit(1), Query.order_desc("name")])
    assert page["total"] == 3 and ids(page, "tables") == ["invoices"]
    assert tdb.list_tables(db, total=False)["total"] == 0
    with raises_api(404, "database_not_found"):
        tdb.list_tables("nope")


def test_tables_are_scoped_to_their_database(tdb: TablesDB, db: str) -> None:
    tdb.create("other", "Other")
    tdb.create_table(db, "t", "Mine", columns=[column("n")])
    tdb.create_table("other", "t", "Theirs", columns=[column("n")])
    tdb.create_row(db, "t", "r", {"n": 1})
    tdb.create_row("other", "t", "r", {"n": 2})
    assert (tdb.get_row(db, "t", "r")["n"], tdb.get_row("other", "t", "r")["n"]) == (1, 2)
    assert tdb.get_row("other", "t", "r")["$databaseId"] == "other"
    tdb.delete_table("other", "t")
    assert tdb.get_row(db, "t", "r")["n"] == 1
    # A table created again under a deleted one's ID starts empty, with no old columns.
    tdb.create_table("other", "t", "Again")
    assert tdb.list_rows("other", "t")["total"] == 0 and tdb.list_columns("other", "t")["total"] == 0


def test_create_table_with_inline_columns_and_indexes(tdb: TablesDB, db: str) -> None:
    table = tdb.create_table(
        db,
        "people",
        "People",
        columns=[
            column("name", "string", required=True, size=64),
            column("age", min=0, max=150),
            column("mail", "string", format="email"),
            column("tags", "string", size=16, array=True),
        ],
        indexes=[
            {"key": "by_age", "type": "key", "columns": ["age"], "orders": ["desc"]},
            {"key": "one_name", "type": "unique", "columns": ["name"]},
        ],
    )
    columns = {c["key"]: c for c in table["columns"]}
    assert list(columns) == ["name", "age", "mail", "tags"]
    assert all(c["status"] == "available" for c in columns.values())
    assert (columns["age"]["min"], columns["age"]["max"]) == (0, 150)
    assert (columns["mail"]["type"], columns["mail"]["format"]) == ("string", "email")
    assert columns["tags"]["array"] is True and columns["name"]["required"] is True
    indexes = {i["key"]: i for i in table["indexes"]}
    assert indexes["by_age"]["status"] == "available" and indexes["by_age"]["orders"] == ["desc"]
    assert indexes["one_name"]["type"] == "unique" and indexes["one_name"]["columns"] == ["name"]
    # Usable at once: no polling needed before writing rows.
    tdb.create_row(db, "people", "p1", {"name": "Ann", "age": 30, "tags": ["a"]})
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.create_row(db, "people", "p2", {"name": "Ann"})


def test_create_table_with_bad_inline_definition_writes_nothing(tdb: TablesDB, db: str) -> None:
    with raises_api(400, "column_unknown"):
        tdb.create_table(
            db, "t", "T", columns=[column("a")], indexes=[{"key": "i", "type": "key", "columns": ["missing"]}]
        )
    with raises_api(400, "general_argument_invalid"):
        tdb.create_table(db, "t", "T", columns=[column("a", "no-such-type")])
    assert tdb.list_tables(db)["total"] == 0
    tdb.create_table(db, "t", "T")  # the ID is still free


# ----------------------------------------------------------------------------------------- columns

# kind -> (create call, model type, model format, a valid value, how it reads back, an invalid value)
ColumnFactory = Callable[[TablesDB, str, str, str], dict[str, Any]]


def _optional(kind: str, *before: Any, **after: Any) -> ColumnFactory:
    """The create call of an optional column of ``kind`` (TablesDB.create_<kind>_column); ``before``: the arguments
    the SDK takes ahead of ``required`` (a size, the elements), ``after``: its keywords (min, max)."""
    return lambda t, d, tb, k: getattr(t, f"create_{kind}_column")(d, tb, k, *before, False, **after)


COLUMN_KINDS: dict[str, tuple[ColumnFactory, str, str | None, Any, Any, Any]] = {
    "string": (_optional("string", 8), "string", None, "hello", "hello", "longer than 8"),
    "varchar": (_optional("varchar", 8), "varchar", None, "short", "short", 42),
    "text": (_optional("text"), "text", None, "some long text", "some long text", ["not", "text"]),
    "integer": (_optional("integer", min=-5, max=100), "integer", None, 42, 42, 101),
    "float": (_optional("float", min=-1.5, max=1.5), "double", None, 1.25, 1.25, 1.75),
    "boolean": (_optional("boolean"), "boolean", None, True, True, "true"),
    "datetime": (
        _optional("datetime"),
        "datetime", "datetime", "2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00.000+00:00", "yesterday",
    ),
    "email": (_optional("email"), "string", "email", "ann@example.com", "ann@example.com", "not-an-email"),
    "enum": (_optional("enum", ["red", "green"]), "string", "enum", "green", "green", "blue"),
    "url": (
        _optional("url"),
        "string", "url", "https://example.com/a?b=c", "https://example.com/a?b=c", "example dot com",
    ),
    "ip": (_optional("ip"), "string", "ip", "2001:db8::1", "2001:db8::1", "300.1.1.1"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(COLUMN_KINDS))
def test_column_kind_lifecycle(tdb: TablesDB, db: str, kind: str) -> None:
    create, model_type, model_format, good, stored, bad = COLUMN_KINDS[kind]
    tdb.create_table(db, "t", "T")
    created = create(tdb, db, "t", "col")
    assert created["status"] == "processing"
    assert (created["key"], created["type"], created["required"], created["array"]) == (
        "col",
        model_type,
        False,
        False,
    )
    assert created.get("format") == model_format
    assert created["error"] == ""
    assert_timestamps(created)

    available = wait_available(tdb, db, "t", "col")
    assert available["type"] == model_type
    listed = tdb.list_columns(db, "t")
    assert listed["total"] == 1 and listed["columns"][0]["status"] == "available"
    assert tdb.get_table(db, "t")["columns"][0]["key"] == "col"

    row = tdb.create_row(db, "t", "good", {"col": good})
    assert row["col"] == stored
    assert tdb.get_row(db, "t", "good")["col"] == stored
    with raises_api(400, "row_invalid_structure"):
        tdb.create_row(db, "t", "bad", {"col": bad})
    with raises_api(400, "row_invalid_structure"):
        tdb.update_row(db, "t", "good", {"col": bad})
    assert tdb.get_row(db, "t", "good")["col"] == stored
    assert ids(tdb.list_rows(db, "t")) == ["good"]


def test_column_models_carry_their_settings(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T")
    string = tdb.create_string_column(db, "t", "s", 12, False, default="abc", encrypt=False)
    assert (string["size"], string["default"], string["encrypt"]) == (12, "abc", False)
    integer = tdb.create_integer_column(db, "t", "i", False, min=1, max=9, default=5)
    assert (integer["min"], integer["max"], integer["default"]) == (1, 9, 5)
    number = tdb.create_float_column(db, "t", "f", False, min=0.5, max=2.5, default=1.5)
    assert (number["min"], number["max"], number["default"]) == (0.5, 2.5, 1.5)
    enum = tdb.create_enum_column(db, "t", "e", ["a", "b"], False, default="b")
    assert (enum["elements"], enum["default"]) == (["a", "b"], "b")
    when = tdb.create_datetime_column(db, "t", "d", False, default="2020-01-01T00:00:00Z")
    assert when["default"] == "2020-01-01T00:00:00.000+00:00"
    for key in ("s", "i", "f", "e", "d"):
        wait_available(tdb, db, "t", key)
    row = tdb.create_row(db, "t", "r", {"s": "given"})
    assert (row["s"], row["i"], row["f"], row["e"], row["d"]) == (
        "given",
        5,
        1.5,
        "b",
        "2020-01-01T00:00:00.000+00:00",
    )


def test_required_default_and_array_columns(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T")
    tdb.create_string_column(db, "t", "title", 32, True)
    tdb.create_integer_column(db, "t", "qty", False, default=7)
    tdb.create_string_column(db, "t", "tags", 8, False, array=True)
    tdb.create_boolean_column(db, "t", "flag", False, default=False)
    for key in ("title", "qty", "tags", "flag"):
        wait_available(tdb, db, "t", key)
    assert tdb.get_column(db, "t", "tags")["array"] is True

    first = tdb.create_row(db, "t", "r1", {"title": "x"})
    assert (first["title"], first["qty"], first["tags"], first["flag"]) == ("x", 7, None, False)
    second = tdb.create_row(db, "t", "r2", {"title": "y", "qty": 1, "tags": ["a", "b"], "flag": True})
    assert (second["qty"], second["tags"], second["flag"]) == (1, ["a", "b"], True)
    assert tdb.update_row(db, "t", "r2", {"tags": []})["tags"] == []

    for data in (
        {"qty": 1},  # required column missing
        {"title": None},  # required column null
        {"title": "z", "tags": "a"},  # not an array
        {"title": "z", "tags": [1]},  # element of the wrong type
        {"title": "z", "tags": ["too long!!"]},  # element longer than the size
        {"title": "z", "qty": "7"},  # string for an integer
        {"title": "z", "qty": 1.5},  # fraction for an integer
        {"title": "z", "nope": 1},  # unknown column
    ):
        with raises_api(400, "row_invalid_structure"):
            tdb.create_row(db, "t", "bad", data)
    with raises_api(400, "row_invalid_structure"):
        tdb.update_row(db, "t", "r1", {"title": None})
    assert tdb.list_rows(db, "t")["total"] == 2

    with raises_api(400, "column_default_unsupported"):
        tdb.create_string_column(db, "t", "req_default", 8, True, default="d")
    with raises_api(400, "column_default_unsupported"):
        tdb.create_integer_column(db, "t", "arr_default", False, default=1, array=True)
    assert tdb.list_columns(db, "t")["total"] == 4


def test_column_creation_errors(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T")
    tdb.create_integer_column(db, "t", "n", False)
    with raises_api(409, "column_already_exists"):
        tdb.create_string_column(db, "t", "n", 8, False)
    with raises_api(400, "column_value_invalid"):
        tdb.create_integer_column(db, "t", "lo_hi", False, min=10, max=1)
    with raises_api(400, "general_argument_invalid"):
        tdb.create_email_column(db, "t", "mail", False, default="not-an-email")
    with raises_api(400, "column_value_invalid"):
        tdb.create_string_column(db, "t", "short", 3, False, default="too long")
    with raises_api(400, "column_value_invalid"):
        tdb.create_integer_column(db, "t", "out", False, min=0, max=10, default=11)
    with raises_api(400, "column_value_invalid"):
        tdb.create_enum_column(db, "t", "color", ["red"], False, default="blue")
    with raises_api(400, "general_argument_invalid"):
        tdb.create_string_column(db, "t", "huge", 2_000_000_000, False)
    with raises_api(400, "general_argument_invalid"):
        tdb.create_varchar_column(db, "t", "wide", 20_000, False)
    with raises_api(400, "general_argument_invalid"):
        tdb.create_string_column(db, "t", "_starts_special", 8, False)
    with raises_api(400, "general_argument_invalid"):
        tdb.create_string_column(db, "t", "k" * 37, 8, False)
    with raises_api(404, "column_not_found"):
        tdb.get_column(db, "t", "missing")
    with raises_api(404, "table_not_found"):
        tdb.create_integer_column(db, "missing", "n", False)
    assert tdb.list_columns(db, "t")["total"] == 1


def test_update_columns(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T")
    tdb.create_string_column(db, "t", "name", 10, False, default="anon")
    tdb.create_integer_column(db, "t", "n", False, min=0, max=10, default=1)
    tdb.create_float_column(db, "t", "f", False, min=0, max=1)
    tdb.create_enum_column(db, "t", "color", ["red", "green"], False)
    tdb.create_boolean_column(db, "t", "ok", False)
    for key in ("name", "n", "f", "color", "ok"):
        wait_available(tdb, db, "t", key)
    tdb.create_row(db, "t", "r1", {"name": "abcdefghij", "n": 5, "color": "red"})

    string = tdb.update_string_column(db, "t", "name", False, "nobody", size=20)
    assert (string["size"], string["default"], string["status"]) == (20, "nobody", "available")
    assert tdb.create_row(db, "t", "r2", {"name": "x" * 15})["name"] == "x" * 15
    assert tdb.create_row(db, "t", "r3", {"n": 3})["name"] == "nobody"

    integer = tdb.update_integer_column(db, "t", "n", False, 2, min=0, max=100)
    assert (integer["min"], integer["max"], integer["default"]) == (0, 100, 2)
    assert tdb.update_row(db, "t", "r1", {"n": 50})["n"] == 50
    with raises_api(400, "column_value_invalid"):
        tdb.update_integer_column(db, "t", "n", False, 2, min=10, max=1)
    with raises_api(400, "column_value_invalid"):
        tdb.update_integer_column(db, "t", "n", False, 1000)

    number = tdb.update_float_column(db, "t", "f", False, 0.5, min=0, max=10)
    assert (number["max"], number["default"]) == (10, 0.5)
    assert tdb.update_row(db, "t", "r1", {"f": 9.5})["f"] == 9.5

    enum = tdb.update_enum_column(db, "t", "color", ["red", "green", "blue"], False, "blue")
    assert (enum["elements"], enum["default"]) == (["red", "green", "blue"], "blue")
    assert tdb.update_row(db, "t", "r1", {"color": "blue"})["color"] == "blue"

    boolean = tdb.update_boolean_column(db, "t", "ok", False, True)
    assert boolean["default"] is True
    assert tdb.create_row(db, "t", "r4", {"name": "d"})["ok"] is True

    # Growing is always fine; shrinking is refused while existing values would not fit.
    with raises_api(400, "column_invalid_resize"):
        tdb.update_string_column(db, "t", "name", False, "n", size=12)
    assert tdb.update_string_column(db, "t", "name", False, "n", size=15)["size"] == 15

    with raises_api(400, "column_default_unsupported"):
        tdb.update_string_column(db, "t", "name", True, "someone")
    assert tdb.get_column(db, "t", "name")["required"] is False
    assert [c["key"] for c in tdb.list_columns(db, "t", [Query.equal("type", "integer")])["columns"]] == ["n"]
    with raises_api(400, "column_type_invalid"):
        tdb.update_string_column(db, "t", "n", False, "x")
    with raises_api(404, "column_not_found"):
        tdb.update_boolean_column(db, "t", "missing", False, True)


def test_rename_column_keeps_data(tdb: TablesDB, db: str) -> None:
    tdb.create_table(
        db,
        "t",
        "T",
        columns=[column("name", "string", size=16)],
        indexes=[{"key": "by_name", "type": "unique", "columns": ["name"]}],
    )
    tdb.create_rows(db, "t", [{"$id": "a", "name": "Ann"}, {"$id": "b", "name": "Bob"}, {"$id": "c"}])
    renamed = tdb.update_string_column(db, "t", "name", False, "x", new_key="full_name")
    assert renamed["key"] == "full_name"
    with raises_api(404, "column_not_found"):
        tdb.get_column(db, "t", "name")
    assert tdb.get_column(db, "t", "full_name")["status"] == "available"

    row = tdb.get_row(db, "t", "a")
    assert row["full_name"] == "Ann" and "name" not in row
    assert tdb.get_row(db, "t", "c")["full_name"] is None
    assert ids(tdb.list_rows(db, "t", [Query.equal("full_name", "Bob")])) == ["b"]
    assert tdb.get_index(db, "t", "by_name")["columns"] == ["full_name"]
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.create_row(db, "t", "d", {"full_name": "Ann"})
    with raises_api(400, "row_invalid_structure"):
        tdb.create_row(db, "t", "e", {"name": "Eve"})

    tdb.create_integer_column(db, "t", "age", False)
    wait_available(tdb, db, "t", "age")
    with raises_api(409, "column_already_exists"):
        tdb.update_string_column(db, "t", "full_name", False, "x", new_key="age")


def test_update_column_to_required_with_null_default(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("s", "string", size=8)])
    updated = tdb.update_string_column(db, "t", "s", True, None)
    assert updated["required"] is True and updated["default"] is None


def test_delete_column(tdb: TablesDB, db: str) -> None:
    tdb.create_table(
        db,
        "t",
        "T",
        columns=[column("keep"), column("drop", "string", size=8)],
        indexes=[{"key": "by_drop", "type": "key", "columns": ["drop"]}],
    )
    tdb.create_row(db, "t", "r", {"keep": 1, "drop": "x"})
    tdb.delete_column(db, "t", "drop")
    gone = wait_gone(lambda: tdb.get_column(db, "t", "drop"))
    assert gone.type == "column_not_found"
    assert tdb.get_row(db, "t", "r")["keep"] == 1
    assert "drop" not in tdb.get_row(db, "t", "r")
    assert [c["key"] for c in tdb.list_columns(db, "t")["columns"]] == ["keep"]
    assert tdb.list_indexes(db, "t")["total"] == 0  # indexes over the column go with it
    with raises_api(400, "row_invalid_structure"):
        tdb.update_row(db, "t", "r", {"drop": "y"})
    with raises_api(404, "column_not_found"):
        tdb.delete_column(db, "t", "drop")
    # The key can be reused, and old values do not come back.
    tdb.create_string_column(db, "t", "drop", 8, False)
    wait_available(tdb, db, "t", "drop")
    assert tdb.get_row(db, "t", "r")["drop"] is None


# ----------------------------------------------------------------------------------------- indexes


def test_index_lifecycle(tdb: TablesDB, db: str) -> None:
    tdb.create_table(
        db, "t", "T", columns=[column("title", "string", size=64), column("body", "string", size=2000), column("year")]
    )
    key = tdb.create_index(db, "t", "by_year", IndexType.KEY, ["year", "title"], orders=[OrderBy.DESC, OrderBy.ASC])
    assert (key["key"], key["type"], key["status"], key["columns"], key["orders"]) == (
        "by_year",
        "key",
        "processing",
        ["year", "title"],
        ["desc", "asc"],
    )
    assert_timestamps(key)
    unique = tdb.create_index(db, "t", "one_title", IndexType.UNIQUE, ["title"])
    fulltext = tdb.create_index(db, "t", "body_text", IndexType.FULLTEXT, ["body"])
    assert (unique["type"], fulltext["type"]) == ("unique", "fulltext")
    for name in ("by_year", "one_title", "body_text"):
        assert wait_index(tdb, db, "t", name)["error"] == ""
    listed = tdb.list_indexes(db, "t")
    assert listed["total"] == 3 and [i["key"] for i in listed["indexes"]] == ["by_year", "one_title", "body_text"]
    assert [i["key"] for i in tdb.get_table(db, "t")["indexes"]] == ["by_year", "one_title", "body_text"]
    assert ids(tdb.list_indexes(db, "t", [Query.equal("type", "unique")]), "indexes") == ["one_title"]

    tdb.create_rows(
        db,
        "t",
        [
            {"$id": "a", "title": "A", "body": "The quick brown fox", "year": 2001},
            {"$id": "b", "title": "B", "body": "Lazy dogs sleep", "year": 1999},
        ],
    )
    assert ids(tdb.list_rows(db, "t", [Query.search("body", "fox")])) == ["a"]

    tdb.delete_index(db, "t", "body_text")
    with raises_api(404, "column_index_not_found"):
        tdb.get_index(db, "t", "body_text")
    with raises_api(400, "general_query_invalid"):
        tdb.list_rows(db, "t", [Query.search("body", "fox")])
    with raises_api(404, "column_index_not_found"):
        tdb.delete_index(db, "t", "body_text")
    assert tdb.list_indexes(db, "t")["total"] == 2


def test_index_creation_errors(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("n"), column("s", "string", size=8)])
    tdb.create_index(db, "t", "i", IndexType.KEY, ["n"])
    with raises_api(409, "column_index_already_exists"):
        tdb.create_index(db, "t", "i", IndexType.KEY, ["s"])
    with raises_api(400, "column_unknown"):
        tdb.create_index(db, "t", "j", IndexType.KEY, ["missing"])
    with raises_api(400, "column_index_invalid"):
        tdb.create_index(db, "t", "k", IndexType.FULLTEXT, ["n"])
    with raises_api(400, "general_argument_invalid"):
        tdb.create_index(db, "t", "-bad", IndexType.KEY, ["n"])
    # A column still being built cannot be indexed yet.
    tdb.create_string_column(db, "t", "late", 8, False)
    try:
        tdb.create_index(db, "t", "on_late", IndexType.KEY, ["late"])
    except AppwriteException as exc:  # only while the worker has not made the column available yet
        assert (exc.code, exc.type) == (400, "column_not_available")
    assert wait_index(tdb, db, "t", "i")["status"] == "available"


def test_unique_index_over_duplicate_data_fails(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("mail", "string", size=32)])
    tdb.create_rows(db, "t", [{"$id": "a", "mail": "x@y.z"}, {"$id": "b", "mail": "x@y.z"}])
    tdb.create_index(db, "t", "uniq", IndexType.UNIQUE, ["mail"])
    failed = wait_index(tdb, db, "t", "uniq", want="failed")
    assert failed["error"]
    # A failed index does not constrain writes, and it can be deleted.
    tdb.create_row(db, "t", "c", {"mail": "x@y.z"})
    tdb.delete_index(db, "t", "uniq")
    assert tdb.list_indexes(db, "t")["total"] == 0


def test_unique_index_rejects_duplicate_rows(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("mail", "string", size=32), column("n")])
    tdb.create_index(db, "t", "uniq", IndexType.UNIQUE, ["mail"])
    wait_index(tdb, db, "t", "uniq")
    tdb.create_row(db, "t", "a", {"mail": "a@x.io", "n": 1})
    tdb.create_row(db, "t", "b", {"mail": "b@x.io", "n": 2})
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.create_row(db, "t", "c", {"mail": "a@x.io"})
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.update_row(db, "t", "b", {"mail": "a@x.io", "n": 3})
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.upsert_row(db, "t", "b", {"mail": "a@x.io"})
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.create_rows(db, "t", [{"$id": "c", "mail": "c@x.io"}, {"$id": "d", "mail": "c@x.io"}])
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.update_rows(db, "t", {"mail": "same@x.io"})
    assert tdb.get_row(db, "t", "b")["mail"] == "b@x.io" and tdb.get_row(db, "t", "b")["n"] == 2
    assert ids(tdb.list_rows(db, "t")) == ["a", "b"]
    # Nulls never collide.
    tdb.create_rows(db, "t", [{"$id": "n1"}, {"$id": "n2"}])


# -------------------------------------------------------------------------------------------- rows


@pytest.fixture
def table(tdb: TablesDB, db: str) -> str:
    tdb.create_table(
        db,
        "t",
        "T",
        columns=[
            column("title", "string", required=True, size=64),
            column("n"),
            column("at", "datetime", format="datetime"),
        ],
    )
    return "t"


def test_row_crud_and_shape(tdb: TablesDB, db: str, table: str) -> None:
    row = tdb.create_row(
        db, table, "r1", {"title": "one", "n": 1, "at": "2024-01-02T03:04:05+02:00"}, [Permission.read(Role.any())]
    )
    assert set(row) == ROW_SYSTEM_KEYS | {"title", "n", "at"}
    assert (row["$id"], row["$tableId"], row["$databaseId"], row["$permissions"]) == (
        "r1",
        table,
        db,
        ['read("any")'],
    )
    assert row["at"] == "2024-01-02T01:04:05.000+00:00"
    assert isinstance(row["$sequence"], int)
    assert_timestamps(row)
    assert row["$createdAt"] == row["$updatedAt"]
    assert tdb.get_row(db, table, "r1") == row

    second = tdb.create_row(db, table, ID.unique(), {"title": "two"})
    assert len(second["$id"]) == 20 and second["n"] is None and second["at"] is None
    assert second["$sequence"] > row["$sequence"] and second["$permissions"] == []

    _pause()
    updated = tdb.update_row(db, table, "r1", {"n": 2})
    assert (updated["title"], updated["n"], updated["at"]) == ("one", 2, row["at"])
    assert updated["$createdAt"] == row["$createdAt"] and updated["$updatedAt"] > row["$updatedAt"]
    assert updated["$sequence"] == row["$sequence"] and updated["$permissions"] == row["$permissions"]
    perms = [Permission.read(Role.users()), Permission.write(Role.user("u1"))]
    expanded = ['read("users")', 'update("user:u1")', 'delete("user:u1")']  # write() expanded, as Appwrite does
    assert tdb.update_row(db, table, "r1", permissions=perms)["$permissions"] == expanded
    assert tdb.get_row(db, table, "r1")["n"] == 2
    with raises_api(400, "row_missing_payload"):
        tdb.update_row(db, table, "r1")

    created = tdb.upsert_row(db, table, "r3", {"title": "three", "n": 3})
    assert created["$sequence"] > second["$sequence"] and created["$permissions"] == []
    _pause()
    replaced = tdb.upsert_row(db, table, "r3", {"title": "THREE"}, [Permission.read(Role.any())])
    assert (replaced["$sequence"], replaced["$createdAt"]) == (created["$sequence"], created["$createdAt"])
    assert (replaced["title"], replaced["n"]) == ("THREE", 3)  # omitted columns keep their values
    assert replaced["$updatedAt"] > created["$updatedAt"] and replaced["$permissions"] == ['read("any")']
    assert tdb.upsert_row(db, table, "r3", {"title": "3"})["$permissions"] == ['read("any")']

    tdb.delete_row(db, table, "r3")
    with raises_api(404, "row_not_found"):
        tdb.get_row(db, table, "r3")
    with raises_api(404, "row_not_found"):
        tdb.delete_row(db, table, "r3")
    with raises_api(404, "row_not_found"):
        tdb.update_row(db, table, "r3", {"n": 1})
    listed = tdb.list_rows(db, table)
    assert listed["total"] == 2 and ids(listed) == ["r1", second["$id"]]
    assert all(set(r) >= ROW_SYSTEM_KEYS for r in listed["rows"])


def test_row_get_with_select(tdb: TablesDB, db: str, table: str) -> None:
    tdb.create_row(db, table, "r", {"title": "one", "n": 1})
    picked = tdb.get_row(db, table, "r", [Query.select(["title"])])
    assert picked["title"] == "one" and "n" not in picked and picked["$id"] == "r"


def test_sequence_increases_and_timestamps_are_iso(tdb: TablesDB, db: str, table: str) -> None:
    rows = [tdb.create_row(db, table, f"r{i}", {"title": str(i)}) for i in range(5)]
    sequences = [r["$sequence"] for r in rows]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5
    for r in tdb.list_rows(db, table)["rows"]:
        assert ISO_MS.match(r["$createdAt"]) and ISO_MS.match(r["$updatedAt"])
    assert ids(tdb.list_rows(db, table, [Query.order_desc("$sequence")])) == [f"r{i}" for i in range(4, -1, -1)]


def test_row_not_found_paths(tdb: TablesDB, db: str, table: str) -> None:
    with raises_api(404, "row_not_found"):
        tdb.get_row(db, table, "nope")
    with raises_api(404, "table_not_found"):
        tdb.get_row(db, "nope", "nope")
    with raises_api(404, "database_not_found"):
        tdb.get_row("nope", table, "nope")
    with raises_api(404, "table_not_found"):
        tdb.create_row(db, "nope", "r", {"title": "x"})


# -------------------------------------------------------------------------------------------- bulk


def test_bulk_create_upsert_update_delete(tdb: TablesDB, db: str, table: str) -> None:
    made = tdb.create_rows(
        db,
        table,
        [
            {"$id": "a", "title": "A", "n": 1},
            {"$id": "b", "title": "B", "n": 2, "$permissions": [Permission.read(Role.any())]},
            {"title": "C", "n": 3},
        ],
    )
    assert made["total"] == 3 and [r["title"] for r in made["rows"]] == ["A", "B", "C"]
    assert made["rows"][1]["$permissions"] == ['read("any")'] and made["rows"][0]["$permissions"] == []
    generated = made["rows"][2]["$id"]
    assert len(generated) == 20
    assert all(set(r) >= ROW_SYSTEM_KEYS for r in made["rows"])

    upserted = tdb.upsert_rows(db, table, [{"$id": "a", "title": "A2"}, {"$id": "d", "title": "D", "n": 4}])
    assert upserted["total"] == 2
    assert tdb.get_row(db, table, "a")["title"] == "A2" and tdb.get_row(db, table, "d")["n"] == 4

    changed = tdb.update_rows(db, table, {"n": 10}, [Query.greater_than("n", 1)])
    assert changed["total"] == 3 and sorted(ids(changed)) == sorted(["b", generated, "d"])
    assert all(r["n"] == 10 for r in changed["rows"])
    assert tdb.get_row(db, table, "a")["n"] == 1
    assert tdb.update_rows(db, table, {"title": "same"})["total"] == 4

    removed = tdb.delete_rows(db, table, [Query.equal("n", 10)])
    assert removed["total"] == 3 and sorted(ids(removed)) == sorted(["b", generated, "d"])
    assert ids(tdb.list_rows(db, table)) == ["a"]
    assert tdb.delete_rows(db, table)["total"] == 1
    assert tdb.list_rows(db, table)["total"] == 0


def test_failing_bulk_writes_nothing(tdb: TablesDB, db: str, table: str) -> None:
    tdb.create_rows(db, table, [{"$id": "a", "title": "A", "n": 1}, {"$id": "b", "title": "B", "n": 2}])
    before = tdb.list_rows(db, table)

    good = [{"$id": f"g{i}", "title": f"G{i}"} for i in range(20)]
    with raises_api(400, "row_invalid_structure"):
        tdb.create_rows(db, table, [*good, {"$id": "bad", "title": "X", "n": "not a number"}])
    with raises_api(400, "row_invalid_structure"):
        tdb.create_rows(db, table, [*good, {"$id": "bad", "n": 1}])  # required title missing
    with raises_api(409, "row_already_exists"):
        tdb.create_rows(db, table, [*good, {"$id": "a", "title": "dup"}])
    with raises_api(409, "row_already_exists"):
        tdb.create_rows(db, table, [*good, {"$id": "g0", "title": "dup within the request"}])
    with raises_api(400, "general_bad_request"):
        tdb.create_rows(db, table, [*good, {"$id": "-bad-id", "title": "X"}])
    with raises_api(400, "row_invalid_structure"):
        tdb.upsert_rows(db, table, [{"$id": "a", "title": "A changed"}, *good, {"$id": "z", "title": 5}])
    with raises_api(400, "row_invalid_structure"):
        tdb.update_rows(db, table, {"n": "x"})
    with raises_api(400, "general_query_invalid"):
        tdb.delete_rows(db, table, [Query.equal("missing", 1)])

    assert tdb.list_rows(db, table) == before


# ------------------------------------------------------------------------------- increment/decrement


def test_increment_and_decrement(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("n"), column("x", "double"), column("s", "string", size=8)])
    tdb.create_row(db, "t", "r", {"n": 5, "x": 1.5, "s": "a"})
    assert tdb.increment_row_column(db, "t", "r", "n")["n"] == 6
    assert tdb.increment_row_column(db, "t", "r", "n", 4)["n"] == 10
    assert tdb.decrement_row_column(db, "t", "r", "n", 3)["n"] == 7
    assert tdb.decrement_row_column(db, "t", "r", "n")["n"] == 6
    assert tdb.increment_row_column(db, "t", "r", "x", 0.25)["x"] == 1.75
    assert tdb.decrement_row_column(db, "t", "r", "x", 1.0)["x"] == 0.75
    row = tdb.increment_row_column(db, "t", "r", "n", 4, max=10)
    assert row["n"] == 10 and set(row) >= ROW_SYSTEM_KEYS
    assert tdb.decrement_row_column(db, "t", "r", "n", 10, min=0)["n"] == 0

    with raises_api(400, "column_limit_exceeded"):
        tdb.increment_row_column(db, "t", "r", "n", 11, max=10)
    with raises_api(400, "column_limit_exceeded"):
        tdb.decrement_row_column(db, "t", "r", "n", 1, min=0)
    with raises_api(400, "general_argument_invalid"):
        tdb.increment_row_column(db, "t", "r", "n", 0)
    with raises_api(400, "general_argument_invalid"):
        tdb.decrement_row_column(db, "t", "r", "n", -2)
    with raises_api(400, "column_type_invalid"):
        tdb.increment_row_column(db, "t", "r", "s")
    with raises_api(404, "column_not_found"):
        tdb.increment_row_column(db, "t", "r", "missing")
    with raises_api(404, "row_not_found"):
        tdb.increment_row_column(db, "t", "nope", "n")
    assert tdb.get_row(db, "t", "r")["n"] == 0

    tdb.create_row(db, "t", "empty", {"s": "b"})
    assert tdb.increment_row_column(db, "t", "empty", "n", 2)["n"] == 2  # null counts as 0


# ----------------------------------------------------------------------------------------- queries


PEOPLE = [
    {"$id": "a", "name": "Alice", "age": 30, "score": 1.5, "active": True,
     "born": "1990-01-01T00:00:00.000+00:00", "tags": ["x", "y"], "bio": "likes rust and python"},
    {"$id": "b", "name": "Bob", "age": 25, "score": 2.5, "active": False,
     "born": "1995-06-15T12:00:00.000+00:00", "tags": ["y"], "bio": "Python developer"},
    {"$id": "c", "name": "Carol", "age": None, "score": 3.5, "active": True,
     "born": "2000-12-31T23:59:59.000+00:00", "tags": [], "bio": "gardening"},
    {"$id": "d", "name": "Dave", "age": 40, "score": None, "active": False,
     "born": None, "tags": ["z"], "bio": None},
    {"$id": "e", "name": "Eve", "age": 35, "score": 0.5, "active": True,
     "born": "1985-03-03T00:00:00.000+00:00", "tags": ["x"], "bio": "security researcher"},
    {"$id": "f", "name": "Alfred", "age": 31, "score": 4.5, "active": None,
     "born": "2010-07-07T07:07:07.000+00:00", "tags": None, "bio": "butler"},
]  # fmt: skip


@pytest.fixture(scope="module")
def people(server: Any) -> tuple[TablesDB, str, str]:
    """One seeded table shared by the read-only query tests (in its own project)."""
    creds = server.new_project()
    tdb = TablesDB(server.client(creds.project_id, creds.api_key))
    tdb.create("q", "Queries")
    tdb.create_table(
        "q",
        "people",
        "People",
        columns=[
            column("name", "string", required=True, size=32),
            column("age"),
            column("score", "double"),
            column("active", "boolean"),
            column("born", "datetime", format="datetime"),
            column("tags", "string", size=8, array=True),
            column("bio", "string", size=200),
        ],
        indexes=[{"key": "bio_text", "type": "fulltext", "columns": ["bio"]}],
    )
    tdb.create_rows("q", "people", PEOPLE)
    return tdb, "q", "people"


FILTERS: list[tuple[str, str, list[str]]] = [
    ("equal", Query.equal("name", "Bob"), ["b"]),
    ("equal-many", Query.equal("name", ["Alice", "Eve", "Nobody"]), ["a", "e"]),
    ("equal-bool", Query.equal("active", True), ["a", "c", "e"]),
    ("equal-float", Query.equal("score", 2.5), ["b"]),
    ("equal-id", Query.equal("$id", ["c", "d"]), ["c", "d"]),
    ("notEqual", Query.not_equal("name", "Bob"), ["a", "c", "d", "e", "f"]),
    ("notEqual-nullable", Query.not_equal("age", 30), ["b", "d", "e", "f"]),  # null matches no filter but isNull
    ("lessThan", Query.less_than("age", 30), ["b"]),
    ("lessThanEqual", Query.less_than_equal("age", 30), ["a", "b"]),
    ("greaterThan", Query.greater_than("age", 30), ["d", "e", "f"]),
    ("greaterThanEqual", Query.greater_than_equal("age", 35), ["d", "e"]),
    ("greaterThan-float", Query.greater_than("score", 2), ["b", "c", "f"]),
    ("lessThan-datetime", Query.less_than("born", "1991-01-01T00:00:00Z"), ["a", "e"]),
    ("greaterThanEqual-string", Query.greater_than_equal("name", "C"), ["c", "d", "e"]),
    ("between", Query.between("age", 25, 31), ["a", "b", "f"]),
    ("between-datetime", Query.between("born", "1990-01-01T00:00:00Z", "2000-01-01T00:00:00Z"), ["a", "b"]),
    ("isNull", Query.is_null("age"), ["c"]),
    ("isNull-array", Query.is_null("tags"), ["f"]),
    ("isNotNull", Query.is_not_null("score"), ["a", "b", "c", "e", "f"]),
    ("startsWith", Query.starts_with("name", "Al"), ["a", "f"]),
    ("endsWith", Query.ends_with("name", "e"), ["a", "d", "e"]),
    ("contains-string", Query.contains("name", "li"), ["a"]),
    ("contains-array", Query.contains("tags", "x"), ["a", "e"]),
    ("contains-array-any", Query.contains("tags", ["y", "z"]), ["a", "b", "d"]),
    ("search", Query.search("bio", "python"), ["a", "b"]),
    ("search-words", Query.search("bio", "gardening butler"), ["c", "f"]),
    ("and", Query.and_queries([Query.equal("active", True), Query.greater_than("age", 30)]), ["e"]),
    ("or", Query.or_queries([Query.equal("name", "Bob"), Query.is_null("age")]), ["b", "c"]),
    (
        "nested",
        Query.or_queries(
            [Query.and_queries([Query.equal("active", False), Query.less_than("age", 30)]), Query.equal("$id", "f")]
        ),
        ["b", "f"],
    ),
    ("sequence", Query.greater_than("$sequence", 0), ["a", "b", "c", "d", "e", "f"]),
    ("createdAt", Query.less_than("$createdAt", "2999-01-01T00:00:00.000+00:00"), ["a", "b", "c", "d", "e", "f"]),
]


@pytest.mark.parametrize(("query", "expected"), [f[1:] for f in FILTERS], ids=[f[0] for f in FILTERS])
def test_filter_queries(people: tuple[TablesDB, str, str], query: str, expected: list[str]) -> None:
    tdb, db, table = people
    result = tdb.list_rows(db, table, [query])
    assert ids(result) == expected
    assert result["total"] == len(expected)


def test_order_limit_offset_and_total(people: tuple[TablesDB, str, str]) -> None:
    tdb, db, table = people
    assert ids(tdb.list_rows(db, table, [Query.order_asc("age")])) == ["c", "b", "a", "f", "e", "d"]
    assert ids(tdb.list_rows(db, table, [Query.order_desc("age")])) == ["d", "e", "f", "a", "b", "c"]
    assert ids(tdb.list_rows(db, table, [Query.order_asc("name")])) == ["f", "a", "b", "c", "d", "e"]
    assert ids(tdb.list_rows(db, table, [Query.order_desc("born")]))[:2] == ["f", "c"]
    assert ids(tdb.list_rows(db, table, [Query.order_desc("$createdAt"), Query.order_desc("$sequence")])) == [
        "f",
        "e",
        "d",
        "c",
        "b",
        "a",
    ]
    page = tdb.list_rows(db, table, [Query.limit(2)])
    assert ids(page) == ["a", "b"] and page["total"] == 6
    page = tdb.list_rows(db, table, [Query.limit(2), Query.offset(2)])
    assert ids(page) == ["c", "d"] and page["total"] == 6
    assert ids(tdb.list_rows(db, table, [Query.offset(5)])) == ["f"]
    assert tdb.list_rows(db, table, [Query.offset(10)])["rows"] == []
    filtered = tdb.list_rows(db, table, [Query.equal("active", True), Query.limit(1)])
    assert ids(filtered) == ["a"] and filtered["total"] == 3
    uncounted = tdb.list_rows(db, table, [Query.limit(2)], total=False)
    assert uncounted["total"] == 0 and ids(uncounted) == ["a", "b"]


def test_cursor_pagination(people: tuple[TablesDB, str, str]) -> None:
    tdb, db, table = people
    assert ids(tdb.list_rows(db, table, [Query.cursor_after("c")])) == ["d", "e", "f"]
    assert ids(tdb.list_rows(db, table, [Query.cursor_before("c")])) == ["a", "b"]
    assert ids(tdb.list_rows(db, table, [Query.cursor_before("c"), Query.limit(1)])) == ["b"]
    assert ids(tdb.list_rows(db, table, [Query.cursor_after("f")])) == []
    by_age = [Query.order_desc("age"), Query.limit(2)]
    assert ids(tdb.list_rows(db, table, [*by_age, Query.cursor_after("f")])) == ["a", "b"]
    assert ids(tdb.list_rows(db, table, [*by_age, Query.cursor_before("a")])) == ["e", "f"]
    # Walking the whole table two rows at a time visits every row once, in order.
    seen: list[str] = []
    queries = [Query.order_asc("name"), Query.limit(2)]
    while True:
        page = ids(tdb.list_rows(db, table, queries + ([Query.cursor_after(seen[-1])] if seen else [])))
        if not page:
            break
        seen += page
    assert seen == ["f", "a", "b", "c", "d", "e"]
    with raises_api(400, "general_cursor_not_found"):
        tdb.list_rows(db, table, [Query.cursor_after("no-such-row")])
    with raises_api(400, "database_query_order_null"):  # c has no age to continue from
        tdb.list_rows(db, table, [Query.order_asc("age"), Query.cursor_after("c")])
    with raises_api(400, "general_cursor_not_found"):
        tdb.list_rows(db, table, [Query.cursor_before("no-such-row")])


def test_cursor_paging_reaches_rows_with_null(people: tuple[TablesDB, str, str]) -> None:
    """Nulls sort first ascending and last descending; paging with a cursor must still reach them
    (needs the null branch of ``queries._after`` for non-null cursor values in DESC order)."""
    tdb, db, table = people
    assert ids(tdb.list_rows(db, table, [Query.order_desc("age")])) == ["d", "e", "f", "a", "b", "c"]
    assert ids(tdb.list_rows(db, table, [Query.order_desc("age"), Query.cursor_after("a")])) == ["b", "c"]
    assert ids(tdb.list_rows(db, table, [Query.order_asc("age"), Query.cursor_before("b")])) == ["c"]


def test_select_query(people: tuple[TablesDB, str, str]) -> None:
    tdb, db, table = people
    rows = tdb.list_rows(db, table, [Query.select(["name", "age"]), Query.limit(2)])["rows"]
    assert [(r["name"], r["age"]) for r in rows] == [("Alice", 30), ("Bob", 25)]
    assert all("bio" not in r and "tags" not in r and r["$id"] for r in rows)
    everything = tdb.list_rows(db, table, [Query.select(["*"]), Query.limit(1)])["rows"][0]
    assert {k: everything[k] for k in PEOPLE[0]} == PEOPLE[0]


@pytest.mark.parametrize(
    "query",
    [
        Query.search("name", "Alice"),  # no fulltext index on name
        Query.equal("missing", "x"),  # unknown column
        Query.equal("age", "thirty"),  # value of the wrong type
        Query.greater_than("born", "not a date"),
        Query.starts_with("age", "3"),  # startsWith on a number
        Query.limit(0),
        Query.limit(-1),
        Query.offset(-1),
        Query.order_asc("missing"),
        Query.select(["missing"]),
        '{"method":"between","attribute":"age","values":[1]}',
        Query.and_queries([Query.equal("age", 1)]),
        '{"method":"frobnicate","attribute":"age","values":[1]}',
        "not json at all",
        '{"method":"regex","attribute":"name","values":["^A"]}',
    ],
)
def test_invalid_queries(people: tuple[TablesDB, str, str], query: str) -> None:
    tdb, db, table = people
    with raises_api(400, "general_query_invalid"):
        tdb.list_rows(db, table, [query])


def test_total_is_counted_up_to_5000(tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("n")])
    for start in range(0, 5001, 100):  # 100 rows a request: Appwrite's default batch limit
        tdb.create_rows(db, "t", [{"n": n} for n in range(start, min(start + 100, 5001))])
    assert tdb.list_rows(db, "t", [Query.limit(1)])["total"] == 5000
    assert tdb.list_rows(db, "t", [Query.greater_than_equal("n", 4990)])["total"] == 11
    assert (
        ids(tdb.list_rows(db, "t", [Query.order_desc("n"), Query.limit(1)]))[0]
        == ids(tdb.list_rows(db, "t", [Query.offset(5000)]))[0]
    )


def test_large_limit_is_accepted(people: tuple[TablesDB, str, str]) -> None:
    tdb, db, table = people
    assert tdb.list_rows(db, table, [Query.limit(10_000)])["total"] == 6


def test_too_many_queries_is_rejected(people: tuple[TablesDB, str, str]) -> None:
    tdb, db, table = people
    with raises_api(400, "general_argument_invalid"):
        tdb.list_rows(db, table, [Query.is_not_null("name")] * 101)


# --------------------------------------------------------------------------------- bad input / auth


def test_status_codes_and_headers(server: Any, project: admin.ProjectCredentials) -> None:
    """What the SDK hides: Appwrite's success codes and the headers every answer carries."""
    session = requests.Session()
    session.headers.update({"X-Appwrite-Project": project.project_id, "X-Appwrite-Key": project.api_key})
    base = server.url + "/tablesdb"

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        response = session.request(method, base + path, json=body, timeout=10)
        assert response.headers["content-type"], "the SDK reads Content-Type on every answer"
        assert "no-store" in response.headers.get("cache-control", "")
        return response

    assert call("POST", "", {"databaseId": "d", "name": "D"}).status_code == 201
    assert call("POST", "/d/tables", {"tableId": "t", "name": "T"}).status_code == 201
    assert call("POST", "/d/tables/t/columns/integer", {"key": "n", "required": False}).status_code == 202
    assert call("GET", "/d/tables/t/columns/n").json()["key"] == "n"
    wait = time.monotonic() + 10
    while call("GET", "/d/tables/t/columns/n").json()["status"] != "available" and time.monotonic() < wait:
        time.sleep(0.01)
    assert call("POST", "/d/tables/t/indexes", {"key": "i", "type": "key", "columns": ["n"]}).status_code == 202
    assert call("POST", "/d/tables/t/rows", {"rowId": "r", "data": {"n": 1}}).status_code == 201
    assert call("POST", "/d/tables/t/rows", {"rows": [{"$id": "s", "n": 2}]}).status_code == 201
    assert call("PUT", "/d/tables/t/rows/u", {"data": {"n": 3}}).status_code == 201
    assert call("PATCH", "/d/tables/t/rows/r", {"data": {"n": 4}}).status_code == 200
    assert call("PATCH", "/d/tables/t/rows/r/n/increment", {"value": 1}).status_code == 200
    assert call("PATCH", "/d/tables/t/rows", {"data": {"n": 0}}).status_code == 200
    assert call("GET", "/d/tables/t/rows", None).json()["total"] == 3
    listed = session.get(base + "/d/tables/t/rows", params={"queries[0]": '{"method":"limit","values":[1]}'})
    assert listed.status_code == 200 and len(listed.json()["rows"]) == 1
    listed = session.get(
        base + "/d/tables/t/rows", params={"queries[]": '{"method":"equal","attribute":"$id","values":["s"]}'}
    )
    assert [r["$id"] for r in listed.json()["rows"]] == ["s"]
    deleted = call("DELETE", "/d/tables/t/rows/r", {})
    assert deleted.status_code == 204 and deleted.content == b""
    assert call("DELETE", "/d/tables/t/rows", {}).status_code == 200
    assert call("DELETE", "/d/tables/t/indexes/i").status_code == 204
    assert call("DELETE", "/d/tables/t/columns/n").status_code == 204
    assert call("DELETE", "/d/tables/t").status_code == 204
    missing = call("GET", "/d/tables/t")
    assert missing.status_code == 404 and missing.json() == {
        "message": missing.json()["message"],
        "code": 404,
        "type": "table_not_found",
        "version": missing.json()["version"],
    }
    assert call("DELETE", "/d").status_code == 204


def test_malformed_json_body(server: Any, project: admin.ProjectCredentials, tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("n")])
    headers = {
        "X-Appwrite-Project": project.project_id,
        "X-Appwrite-Key": project.api_key,
        "Content-Type": "application/json",
    }
    url = f"{server.url}/tablesdb/{db}/tables/t/rows"
    for body in ('{"rowId": "r1", "data": {"n": 1}', "[1, 2]", '"text"', "{'single': 'quotes'}"):
        response = requests.post(url, data=body, headers=headers, timeout=10)
        assert response.status_code == 400, body
        assert response.headers["content-type"].startswith("application/json")
        payload = response.json()
        assert (payload["code"], payload["type"]) == (400, "general_argument_invalid")
        assert payload["message"] and payload["version"]
    response = requests.post(url, data=json.dumps({"rowId": "r1", "data": "{not json"}), headers=headers, timeout=10)
    assert response.status_code == 400
    assert tdb.list_rows(db, "t")["total"] == 0


def test_bad_row_payloads(tdb: TablesDB, db: str, table: str) -> None:
    with raises_api(400, "row_missing_data"):
        tdb.create_row(db, table, "r", {})
    with raises_api(400, "row_missing_data"):
        tdb.create_row(db, table, "", {"title": "x"})
    with raises_api(400, "general_argument_invalid"):
        tdb.create_row(db, table, "r", {"title": "x"}, ['read("nobody")'])
    with raises_api(400, "general_argument_invalid"):
        tdb.create_row(db, table, "r", {"title": "x"}, ["read(any)"])
    with raises_api(400, "general_argument_invalid"):
        tdb.create_row(db, table, "r", {"title": "x"}, ['create("any")'])  # not a row permission
    assert tdb.list_rows(db, table)["total"] == 0


@pytest.mark.parametrize(
    "bad_id",
    ["x" * 37, "_underscore-first", "-dash-first", ".dot-first", "has space", "slash/inside", "ümlaut"],
)
def test_invalid_ids_are_rejected(tdb: TablesDB, db: str, bad_id: str) -> None:
    with raises_api(400, "general_argument_invalid"):
        tdb.create(bad_id, "X")
    with raises_api(400, "general_argument_invalid"):
        tdb.create_table(db, bad_id, "X")
    tdb.create_table(db, "t", "T", columns=[column("n")])
    with raises_api(400, "general_argument_invalid"):
        tdb.create_row(db, "t", bad_id, {"n": 1})
    with raises_api(400, "general_argument_invalid"):
        tdb.create_integer_column(db, "t", bad_id, False)
    assert tdb.list()["total"] == 1 and tdb.list_tables(db)["total"] == 1
    assert tdb.list_rows(db, "t")["total"] == 0 and tdb.list_columns(db, "t")["total"] == 1


def test_longest_valid_id_is_accepted(tdb: TablesDB) -> None:
    longest = "a" + "b.c_d-e" * 5
    assert len(longest) == 36
    assert tdb.create(longest, "Long")["$id"] == longest


def test_duplicate_ids_conflict(tdb: TablesDB, db: str) -> None:
    with raises_api(409, "database_already_exists"):
        tdb.create(db, "Again")
    tdb.create_table(db, "t", "T", columns=[column("n")])
    with raises_api(409, "table_already_exists"):
        tdb.create_table(db, "t", "Again")
    with raises_api(409, "column_already_exists"):
        tdb.create_integer_column(db, "t", "n", False)
    tdb.create_index(db, "t", "i", IndexType.KEY, ["n"])
    with raises_api(409, "column_index_already_exists"):
        tdb.create_index(db, "t", "i", IndexType.KEY, ["n"])
    tdb.create_row(db, "t", "r", {"n": 1})
    with raises_api(409, "row_already_exists"):
        tdb.create_row(db, "t", "r", {"n": 2})
    assert tdb.get_row(db, "t", "r")["n"] == 1
    assert tdb.get(db)["name"] == "Main" and tdb.get_table(db, "t")["name"] == "T"


def test_missing_key_is_unauthorized(server: Any, project: admin.ProjectCredentials, tdb: TablesDB, db: str) -> None:
    anonymous = TablesDB(server.client(project.project_id, None))
    with raises_api(401, "general_unauthorized_scope") as info:
        anonymous.list()
    assert "role: guests" in info.value.message
    with raises_api(401, "general_unauthorized_scope"):
        anonymous.create("other", "Other")
    garbage = TablesDB(server.client(project.project_id, "standard_" + "0" * 256))
    with raises_api(401, "general_unauthorized_scope"):
        garbage.list()
    assert tdb.list()["total"] == 1


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_key_without_the_scope(server: Any, project: admin.ProjectCredentials, tdb: TablesDB, db: str) -> None:
    tdb.create_table(db, "t", "T", columns=[column("n")])
    tdb.create_row(db, "t", "r", {"n": 1})
    secret = admin.create_key(server.data_dir, project.project_id, ["rows.read"])
    reader = TablesDB(server.client(project.project_id, secret))
    assert ids(reader.list_rows(db, "t")) == ["r"]
    assert reader.get_row(db, "t", "r")["n"] == 1
    with raises_api(401, "general_unauthorized_scope") as info:
        reader.create_row(db, "t", "r2", {"n": 2})
    assert "missing scopes" in info.value.message and "rows.write" in info.value.message
    with raises_api(401, "general_unauthorized_scope"):
        reader.increment_row_column(db, "t", "r", "n")
    with raises_api(401, "general_unauthorized_scope"):
        reader.create_table(db, "t2", "T2")
    with raises_api(401, "general_unauthorized_scope"):
        reader.list()
    assert ids(tdb.list_rows(db, "t")) == ["r"] and tdb.get_row(db, "t", "r")["n"] == 1
    # A legacy scope also opens the TablesDB route.
    legacy = TablesDB(
        server.client(project.project_id, admin.create_key(server.data_dir, project.project_id, ["documents.write"]))
    )
    assert legacy.create_row(db, "t", "r3", {"n": 3})["n"] == 3


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_key_of_another_project_is_rejected(
    server: Any, project: admin.ProjectCredentials, tdb: TablesDB, db: str
) -> None:
    other = server.new_project()
    TablesDB(server.client(other.project_id, other.api_key)).create("theirs", "Theirs")
    intruder = TablesDB(server.client(project.project_id, other.api_key))
    with raises_api(401, "general_unauthorized_scope"):
        intruder.list()
    with raises_api(401, "general_unauthorized_scope"):
        intruder.create("x", "X")
    # Each project sees only its own databases.
    assert ids(tdb.list(), "databases") == [db]
    with raises_api(404, "database_not_found"):
        tdb.get("theirs")


def test_unknown_project(server: Any, project: admin.ProjectCredentials) -> None:
    ghost = TablesDB(server.client("no-such-project", project.api_key))
    with raises_api(404, "project_not_found"):
        ghost.list()


def test_api_keys_may_set_timestamps(tdb: TablesDB, db: str) -> None:
    """Appwrite's timestamp overrides: restores and imports keep a row's history."""
    tdb.create_table(db, "t", "T", columns=[column("n")])
    old = "2020-01-02T03:04:05.678+00:00"
    row = tdb.create_row(db, "t", "a", {"n": 1, "$createdAt": "2020-01-02T03:04:05.678Z", "$updatedAt": old})
    assert row["$createdAt"] == old and row["$updatedAt"] == old and row["n"] == 1
    bulk = tdb.create_rows(db, "t", [{"$id": "b", "n": 2, "$createdAt": old}])["rows"][0]
    assert bulk["$createdAt"] == old and bulk["$updatedAt"] != old
    later = "2021-05-06T07:08:09.000+00:00"
    upserted = tdb.upsert_row(db, "t", "a", {"n": 3, "$updatedAt": later})
    assert upserted["$createdAt"] == old and upserted["$updatedAt"] == later
    assert tdb.get_row(db, "t", "a")["$updatedAt"] == later
    plain = tdb.update_row(db, "t", "a", {"n": 4})
    assert plain["$updatedAt"] > later
    with pytest.raises(AppwriteException) as err:
        tdb.create_row(db, "t", "c", {"$createdAt": "yesterday"})
    assert err.value.code == 400 and err.value.type == "row_invalid_structure"
