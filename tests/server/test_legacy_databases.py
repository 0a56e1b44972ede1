"""Conformance of the legacy Databases API (collections, attributes, documents), driven through the
official SDK against the real local server. It shares its store with TablesDB: what one API
writes, the other reads."""

from __future__ import annotations

from typing import Any

import pytest
from appwrite.client import Client
from appwrite.enums.index_type import IndexType
from appwrite.enums.order_by import OrderBy
from appwrite.permission import Permission
from appwrite.query import Query
from appwrite.role import Role
from appwrite.services.databases import Databases
from appwrite.services.tables_db import TablesDB
from column_specs import column
from support.sdk import (
    DOCUMENT_SYSTEM_KEYS,
    Flavour,
    assert_timestamps,
    ids,
    raises_api,
    wait_gone,
    wait_status,
)

from quixotic.server import admin

DB = "legacy"


pytestmark = pytest.mark.usefixtures("quiet_sdk")  # every legacy method is deprecated in the SDK; that is the point


@pytest.fixture
def dbs(client: Client) -> Databases:
    return Databases(client)


@pytest.fixture
def db(dbs: Databases) -> str:
    dbs.create(DB, "Legacy")
    return DB


def wait_attribute(dbs: Databases, database_id: str, collection_id: str, key: str) -> dict[str, Any]:
    return wait_status(lambda: dbs.get_attribute(database_id, collection_id, key))


def test_database_list_shows_both_types(dbs: Databases, tdb: TablesDB) -> None:
    dbs.create("old", "Old style")
    tdb.create("new", "New style")
    listed = dbs.list()
    assert listed["total"] == 2 and {d["$id"]: d["type"] for d in listed["databases"]} == {
        "old": "legacy",
        "new": "tablesdb",
    }
    assert ids(dbs.list([Query.equal("type", "legacy")]), "databases") == ["old"]


def test_collection_list_queries(dbs: Databases, db: str) -> None:
    """What test_tablesdb's parametrised table CRUD does not check: listing by ``documentSecurity``."""
    perms = [Permission.read(Role.any()), Permission.create(Role.users())]
    dbs.create_collection(db, "notes", "Notes", permissions=perms, document_security=True)
    dbs.update_collection(db, "notes", "Memos", document_security=False, enabled=False)
    dbs.create_collection(db, "tasks", "Tasks", document_security=True)
    assert ids(dbs.list_collections(db), "collections") == ["notes", "tasks"]
    assert ids(dbs.list_collections(db, [Query.equal("documentSecurity", True)]), "collections") == ["tasks"]
    assert ids(dbs.list_collections(db, search="memos"), "collections") == ["notes"]


def test_inline_attributes_and_indexes(dbs: Databases, db: str) -> None:
    created = dbs.create_collection(
        db,
        "c",
        "C",
        attributes=[column("title", "string", required=True, size=32), column("rank")],
        indexes=[{"key": "by_rank", "type": "key", "attributes": ["rank"], "orders": ["desc"]}],
    )
    assert [(a["key"], a["status"]) for a in created["attributes"]] == [
        ("title", "available"),
        ("rank", "available"),
    ]
    index = created["indexes"][0]
    assert (index["key"], index["attributes"], index["status"]) == ("by_rank", ["rank"], "available")
    assert "columns" not in index
    assert dbs.create_document(db, "c", "d", {"title": "x", "rank": 1})["rank"] == 1


def index_error(api: Flavour, what: str) -> str:
    """An index error's type: ``column_index_<what>`` in TablesDB, ``index_<what>`` in the legacy API."""
    return f"column_index_{what}" if api.name == "tablesdb" else f"index_{what}"


def test_column_and_index_lifecycle(api: Flavour, api_db: str) -> None:
    """Attributes and indexes of the legacy API; the same lifecycle through TablesDB's columns."""
    db, columns = api_db, api.word("columns")
    api.create_table(db, "c", "C")
    created = api.create_string_column(db, "c", "title", 64, True)
    assert (created["key"], created["type"], created["status"], created["size"]) == (
        "title",
        "string",
        "processing",
        64,
    )
    api.create_integer_column(db, "c", "year", False, min=0, max=3000)
    api.create_enum_column(db, "c", "kind", ["book", "film"], False, default="book")
    for key in ("title", "year", "kind"):
        wait_status(lambda key=key: api.get_column(db, "c", key))
    listed = api.list_columns(db, "c")
    assert listed["total"] == 3 and [a["key"] for a in listed[columns]] == ["title", "year", "kind"]
    assert [a["key"] for a in api.get_table(db, "c")[columns]] == ["title", "year", "kind"]

    index = api.create_index(db, "c", "by_year", IndexType.KEY, ["year"], orders=[OrderBy.DESC])
    assert (index[columns], index["orders"], index["status"]) == (["year"], ["desc"], "processing")
    ready = wait_status(lambda: api.get_index(db, "c", "by_year"))
    assert ready[columns] == ["year"]
    assert api.list_indexes(db, "c")["total"] == 1

    assert api.update_integer_column(db, "c", "year", False, 2000, min=1000, max=2100)["default"] == 2000
    renamed = api.update_string_column(db, "c", "title", False, "untitled", new_key="name")
    assert (renamed["key"], renamed["required"], renamed["default"]) == ("name", False, "untitled")
    doc = api.create_row(db, "c", "d1", {"kind": "film"})
    assert (doc["name"], doc["year"], doc["kind"]) == ("untitled", 2000, "film")

    api.delete_index(db, "c", "by_year")
    with raises_api(404, index_error(api, "not_found")):
        api.get_index(db, "c", "by_year")
    api.delete_column(db, "c", "kind")
    assert wait_gone(lambda: api.get_column(db, "c", "kind")).type == api.word("column_not_found")
    assert "kind" not in api.get_row(db, "c", "d1")


def test_documents_crud_and_shape(dbs: Databases, db: str) -> None:
    dbs.create_collection(db, "c", "C", attributes=[column("n")], document_security=True)
    doc = dbs.create_document(db, "c", "d1", {"n": 1}, [Permission.read(Role.any())])
    assert set(doc) == DOCUMENT_SYSTEM_KEYS | {"n"}
    assert (doc["$collectionId"], doc["$databaseId"], doc["$permissions"]) == ("c", db, ['read("any")'])
    assert_timestamps(doc)
    assert dbs.get_document(db, "c", "d1") == doc
    assert dbs.update_document(db, "c", "d1", {"n": 2})["n"] == 2
    upserted = dbs.upsert_document(db, "c", "d2", {"n": 5})
    assert upserted["$sequence"] > doc["$sequence"] and upserted["$collectionId"] == "c"
    assert dbs.upsert_document(db, "c", "d2", {"n": 6})["n"] == 6
    listed = dbs.list_documents(db, "c", [Query.order_desc("n")])
    assert listed["total"] == 2 and ids(listed, "documents") == ["d2", "d1"]
    assert "rows" not in listed and all("$tableId" not in d for d in listed["documents"])
    assert dbs.increment_document_attribute(db, "c", "d1", "n", 3)["n"] == 5
    assert dbs.decrement_document_attribute(db, "c", "d1", "n", 1, min=0)["n"] == 4
    dbs.delete_document(db, "c", "d2")
    with raises_api(404, "document_not_found"):
        dbs.get_document(db, "c", "d2")


def test_bulk_writes(api: Flavour, api_db: str) -> None:
    db, rows = api_db, api.word("rows")
    api.create_table(db, "c", "C", columns=[column("n")])
    made = api.create_rows(db, "c", [{"$id": "a", "n": 1}, {"$id": "b", "n": 2}, {"$id": "c", "n": 3}])
    assert made["total"] == 3 and ids(made, rows) == ["a", "b", "c"]
    assert all(d[api.word("$tableId")] == "c" for d in made[rows])
    assert api.upsert_rows(db, "c", [{"$id": "a", "n": 10}, {"$id": "d", "n": 4}])["total"] == 2
    changed = api.update_rows(db, "c", {"n": 0}, [Query.less_than("n", 3)])
    assert sorted(ids(changed, rows)) == ["b"]
    removed = api.delete_rows(db, "c", [Query.greater_than("n", 3)])
    assert sorted(ids(removed, rows)) == ["a", "d"]
    assert ids(api.list_rows(db, "c"), rows) == ["b", "c"]

    with raises_api(400, api.word("row_invalid_structure")):
        api.create_rows(db, "c", [{"$id": "x", "n": 1}, {"$id": "y", "n": "two"}])
    with raises_api(409, api.word("row_already_exists")):
        api.create_rows(db, "c", [{"$id": "x", "n": 1}, {"$id": "b", "n": 2}])
    assert ids(api.list_rows(db, "c"), rows) == ["b", "c"]


def test_written_by_tablesdb_read_by_databases(dbs: Databases, tdb: TablesDB) -> None:
    tdb.create("shared", "Shared")
    tdb.create_table(
        "shared", "t", "T", row_security=True, columns=[column("name", "string", required=True, size=32), column("n")]
    )
    tdb.create_row("shared", "t", "r1", {"name": "from tables", "n": 1}, [Permission.read(Role.any())])

    collection = dbs.get_collection("shared", "t")
    assert collection["documentSecurity"] is True and "rowSecurity" not in collection
    assert [a["key"] for a in collection["attributes"]] == ["name", "n"] and "columns" not in collection
    assert dbs.get_attribute("shared", "t", "name")["size"] == 32
    doc = dbs.get_document("shared", "t", "r1")
    assert (doc["$collectionId"], doc["name"], doc["n"], doc["$permissions"]) == (
        "t",
        "from tables",
        1,
        ['read("any")'],
    )
    assert "$tableId" not in doc
    assert ids(dbs.list_documents("shared", "t", [Query.equal("name", "from tables")]), "documents") == ["r1"]

    dbs.update_document("shared", "t", "r1", {"n": 2})
    dbs.increment_document_attribute("shared", "t", "r1", "n", 5)
    assert tdb.get_row("shared", "t", "r1")["n"] == 7


def test_written_by_databases_read_by_tablesdb(dbs: Databases, tdb: TablesDB) -> None:
    dbs.create("shared", "Shared")
    dbs.create_collection("shared", "c", "C", document_security=True)
    dbs.create_string_attribute("shared", "c", "title", 32, True)
    dbs.create_boolean_attribute("shared", "c", "done", False, default=False)
    for key in ("title", "done"):
        wait_attribute(dbs, "shared", "c", key)
    dbs.create_index("shared", "c", "uniq", IndexType.UNIQUE, ["title"])
    wait_status(lambda: dbs.get_index("shared", "c", "uniq"))
    dbs.create_document("shared", "c", "d1", {"title": "from documents"})

    table = tdb.get_table("shared", "c")
    assert table["rowSecurity"] is True and [c["key"] for c in table["columns"]] == ["title", "done"]
    assert table["indexes"][0]["columns"] == ["title"]
    row = tdb.get_row("shared", "c", "d1")
    assert (row["$tableId"], row["title"], row["done"]) == ("c", "from documents", False)
    assert "$collectionId" not in row
    with raises_api(409, "row_unique_constraint_violation"):
        tdb.create_row("shared", "c", "d2", {"title": "from documents"})
    tdb.update_row("shared", "c", "d1", {"done": True})
    assert dbs.get_document("shared", "c", "d1")["done"] is True
    tdb.delete_table("shared", "c")
    with raises_api(404, "collection_not_found"):
        dbs.get_collection("shared", "c")


def test_error_types(api: Flavour, api_db: str) -> None:
    """Each failure answers its API's own error type (``document_…`` in legacy, ``row_…`` in TablesDB)."""
    db = api_db
    api.create_table(
        db,
        "c",
        "C",
        columns=[column("title", "string", required=True, size=8), column("n", min=0, max=10)],
        indexes=[{"key": "uniq", "type": "unique", api.word("columns"): ["title"]}],
    )
    api.create_row(db, "c", "d", {"title": "one", "n": 5})

    with raises_api(404, api.word("row_not_found")):
        api.get_row(db, "c", "missing")
    with raises_api(404, api.word("table_not_found")):
        api.get_table(db, "missing")
    with raises_api(404, api.word("table_not_found")):
        api.list_rows(db, "missing")
    with raises_api(404, "database_not_found"):
        api.list_tables("missing")
    with raises_api(409, "database_already_exists"):
        api.create(db, "Again")
    with raises_api(409, api.word("table_already_exists")):
        api.create_table(db, "c", "Again")
    with raises_api(409, api.word("row_already_exists")):
        api.create_row(db, "c", "d", {"title": "two"})
    with raises_api(409, api.word("row_unique_constraint_violation")):
        api.create_row(db, "c", "e", {"title": "one"})
    with raises_api(400, api.word("row_invalid_structure")):
        api.create_row(db, "c", "e", {"title": "two", "zzz": 1})
    with raises_api(400, api.word("row_invalid_structure")):
        api.create_row(db, "c", "e", {"n": 1})
    with raises_api(400, api.word("row_missing_data")):
        api.create_row(db, "c", "e", {})
    with raises_api(400, api.word("row_missing_payload")):
        api.update_row(db, "c", "d")

    with raises_api(409, api.word("column_already_exists")):
        api.create_integer_column(db, "c", "n", False)
    with raises_api(404, api.word("column_not_found")):
        api.get_column(db, "c", "missing")
    with raises_api(400, api.word("column_default_unsupported")):
        api.create_string_column(db, "c", "req", 8, True, default="x")
    with raises_api(400, api.word("column_value_invalid")):
        api.create_integer_column(db, "c", "bad_range", False, min=5, max=1)
    with raises_api(400, api.word("column_invalid_resize")):
        api.update_string_column(db, "c", "title", False, "x", size=2)
    with raises_api(409, index_error(api, "already_exists")):
        api.create_index(db, "c", "uniq", IndexType.KEY, ["n"])
    with raises_api(404, index_error(api, "not_found")):
        api.get_index(db, "c", "missing")
    with raises_api(400, api.word("column_unknown")):
        api.create_index(db, "c", "on_missing", IndexType.KEY, ["missing"])
    with raises_api(400, index_error(api, "invalid")):
        api.create_index(db, "c", "text_on_int", IndexType.FULLTEXT, ["n"])

    with raises_api(400, api.word("column_limit_exceeded")):
        api.increment_row_column(db, "c", "d", "n", 3, max=7)
    with raises_api(400, api.word("column_limit_exceeded")):
        api.decrement_row_column(db, "c", "d", "n", 6, min=0)
    with raises_api(400, api.word("column_type_invalid")):
        api.increment_row_column(db, "c", "d", "title")
    with raises_api(404, api.word("column_not_found")):
        api.increment_row_column(db, "c", "d", "missing")
    with raises_api(400, "general_query_invalid"):
        api.list_rows(db, "c", [Query.search("title", "one")])
    with raises_api(400, "general_cursor_not_found"):
        api.list_rows(db, "c", [Query.cursor_after("missing")])

    # None of the failures above wrote anything.
    listed = api.list_rows(db, "c")
    assert ids(listed, api.word("rows")) == ["d"] and listed[api.word("rows")][0]["n"] == 5
    assert api.list_columns(db, "c")["total"] == 2 and api.list_indexes(db, "c")["total"] == 1


@pytest.mark.local_only("makes API keys or projects with quixotic local")
def test_read_key_cannot_write(server: Any, project: admin.ProjectCredentials, api: Flavour, api_db: str) -> None:
    db, rows = api_db, api.word("rows")
    api.create_table(db, "c", "C", columns=[column("n")])
    api.create_row(db, "c", "d", {"n": 1})
    secret = admin.create_key(server.data_dir, project.project_id, [api.word("rows.read")])
    reader = Flavour(api.name, server.client(project.project_id, secret))
    assert ids(reader.list_rows(db, "c"), rows) == ["d"]
    with raises_api(401, "general_unauthorized_scope"):
        reader.create_row(db, "c", "e", {"n": 2})
    with raises_api(401, "general_unauthorized_scope"):
        reader.create_table(db, "c2", "C2")
    anonymous = Flavour(api.name, server.client(project.project_id, None))
    with raises_api(404, api.word("row_not_found")):  # the table grants guests nothing: the row is hidden
        anonymous.get_row(db, "c", "d")
