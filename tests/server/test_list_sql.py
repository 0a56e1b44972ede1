"""Row lists and row GETs whose answer SQLite builds (``rows.encoded_list``, ``rows.encoded_row``) are byte for
byte the answer built in Python.

A list at the native response format, or at one below 1.9.0 (``$sequence`` a number), is built by SQLite from the
stored JSON text; the same list read inside a row transaction (replayed under the writer lock) is built in Python
from decoded rows and lowered in Python. Rows of every column type, nulls, missing and dropped
columns, non-ASCII and control characters, escapes, big integers and extreme floats are listed through
real HTTP both ways and compared: the bytes, the queries (select, order, cursors, offset, total) and both APIs.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from column_specs import column
from support.raw_http import RawClient
from support.sdk import wait_available, wait_gone
from support.server import LocalServer

from quixotic.server import admin

DB, T = "ls", "shapes"

COLUMNS = [
    column("n"),
    column("big", "bigint"),
    column("f", "float"),
    column("ok", "boolean"),
    column("title", "varchar", size=200),
    column("body", "text"),
    column("mail", "email"),
    column("site", "url"),
    column("ip", "ip"),
    column("kind", "enum", elements=["a", "b", "é"]),
    column("when", "datetime"),
    column("tags", "varchar", size=50, array=True),
    column("nums", "integer", array=True),
    column("gone"),  # dropped after the rows are written: its stored values stay in their data
]

ROWS: list[dict[str, Any]] = [
    {"$id": "plain", "n": 1, "big": 2**62 + 1, "f": 0.1, "ok": True, "title": "hello", "tags": ["x", "y"],
     "nums": [1, 2, 3], "gone": 5},
    {"$id": "empty"},  # every column null
    {"$id": "unicode", "title": "café ☕ 😀 日本語", "body": "naïve\u2028line", "kind": "é", "tags": ["ü", "😀"]},
    {"$id": "controls", "title": 'quote " back \\ slash', "body": "tab\tnew\nline\r\x01\x1f\x7f", "tags": ["\n"]},
    {"$id": "escape-text", "title": "\\u00e9 is not é", "body": "\\\\u"},
    {"$id": "extremes", "n": -(2**63), "big": 2**63 - 1, "f": 1.7976931348623157e308, "nums": [0, -1, 2**53 + 1]},
    {"$id": "floats", "f": 5e-324, "n": 0, "ok": False, "nums": []},
    {"$id": "negzero", "f": -0.0, "tags": []},
    {"$id": "third", "f": 1 / 3, "mail": "a.b+c@example.com", "site": "https://example.com/p?q=1&r=é",
     "ip": "2001:db8::1", "when": "2026-01-02T03:04:05.678+00:00", "kind": "a"},
    {"$id": "wide", "body": "x" * 5000, "title": "ok"},
    {"$id": "perms", "$permissions": ['read("any")', 'update("users")', 'delete("label:ops")'], "n": 7},
]  # fmt: skip


@pytest.fixture
def shapes(server: LocalServer, project: admin.ProjectCredentials) -> RawClient:
    tdb = TablesDB(server.client(project.project_id, project.api_key))
    tdb.create(DB, "List SQL")
    tdb.create_table(DB, T, "Shapes", columns=COLUMNS, row_security=True)
    tdb.create_rows(DB, T, ROWS)
    tdb.create_integer_column(DB, T, "later", False)  # added after the rows: missing from their data
    wait_available(tdb, DB, T, "later")
    tdb.create_row(DB, T, "after", {"later": 3, "n": 2})
    tdb.delete_column(DB, T, "gone")
    wait_gone(lambda: tdb.get_column(DB, T, "gone"))
    return RawClient(server.url, project.project_id, project.api_key)


def _path(api: str, queries: list[str], **extra: str) -> str:
    base = (
        f"/v1/tablesdb/{DB}/tables/{T}/rows" if api == "tablesdb" else f"/v1/databases/{DB}/collections/{T}/documents"
    )
    params = [(f"queries[{i}]", q) for i, q in enumerate(queries)] + list(extra.items())
    return f"{base}?{urlencode(params)}" if params else base


def _both(raw: RawClient, api: str, queries: list[str], fmt: str | None = None, **extra: str) -> tuple[bytes, bytes]:
    """The list as SQLite builds it and, read in a transaction (replayed under the writer lock), as Python does;
    in response format ``fmt`` (None: the server's own)."""
    headers = {"X-Appwrite-Response-Format": fmt} if fmt else None
    direct = raw.send("GET", _path(api, queries, **extra), headers=headers)
    assert direct.status == 200, direct.body
    tx = raw.send("POST", "/v1/tablesdb/transactions", b"{}")
    assert tx.status == 201, tx.body
    replayed = raw.send("GET", _path(api, queries, transactionId=tx.json()["$id"], **extra), headers=headers)
    assert replayed.status == 200, replayed.body
    return direct.body, replayed.body


QUERY_SETS = [
    [],
    [Query.limit(100)],
    [Query.limit(4), Query.offset(3)],
    [Query.order_desc("n"), Query.order_asc("$id"), Query.limit(50)],
    [Query.select(["title", "tags", "$id"]), Query.limit(50)],
    [Query.select(["*"]), Query.limit(50)],
    [Query.cursor_before("third"), Query.limit(3)],
    [Query.cursor_after("empty"), Query.limit(3)],
    [Query.is_not_null("title"), Query.limit(50)],
]


@pytest.mark.parametrize("queries", QUERY_SETS, ids=lambda q: "+".join(json.loads(x)["method"] for x in q) or "none")
@pytest.mark.parametrize("fmt", [None, "1.8.0"], ids=["native", "1.8.0"])
@pytest.mark.parametrize("api", ["tablesdb", "legacy"])
def test_sql_answer_is_the_python_answer_byte_for_byte(shapes: RawClient, api: str, fmt: str | None,
                                                       queries: list[str]) -> None:  # fmt: skip
    sql, python = _both(shapes, api, queries, fmt)
    assert sql == python
    rows_of = json.loads(sql)["rows" if api == "tablesdb" else "documents"]
    assert all(isinstance(r["$sequence"], int if fmt else str) for r in rows_of if "$sequence" in r)
    answer = json.loads(sql)
    assert answer["total"] == len(ROWS) + 1 if not any("isNotNull" in q for q in queries) else answer["total"] > 0
    assert answer["rows" if api == "tablesdb" else "documents"], answer


def test_every_shape_reads_back_as_written(shapes: RawClient) -> None:
    sql, python = _both(shapes, "tablesdb", [Query.limit(100)])
    assert sql == python
    listed = {row["$id"]: row for row in json.loads(sql)["rows"]}
    assert set(listed) == {r["$id"] for r in ROWS} | {"after"}
    keys = ["$id", "$sequence", "$tableId", "$databaseId", "$createdAt", "$updatedAt", "$permissions"]
    keys += [c["key"] for c in COLUMNS if c["key"] != "gone"] + ["later"]
    for written in ROWS:
        got = listed[written["$id"]]
        assert list(got) == keys  # the columns in their order, the dropped one gone, the late one null
        assert isinstance(got["$sequence"], str) and got["$sequence"].isdigit()
        assert got["later"] is None
        for key, value in written.items():
            if key not in ("$id", "$permissions", "gone"):
                assert got[key] == value and type(got[key]) is type(value), (written["$id"], key)
    assert listed["extremes"]["big"] == 2**63 - 1 and listed["extremes"]["n"] == -(2**63)
    assert listed["perms"]["$permissions"] == ROWS[-1]["$permissions"]
    assert listed["after"]["later"] == 3
    assert "café ☕ 😀 日本語".encode() in sql  # UTF-8 as the Python answer writes it, not \\u escapes


def test_total_false_and_no_rows(shapes: RawClient) -> None:
    for queries, extra in (([], {"total": "false"}), ([Query.equal("n", [424242])], {})):
        sql, python = _both(shapes, "tablesdb", queries, **extra)
        assert sql == python
    assert json.loads(sql) == {"total": 0, "rows": []}


def test_older_format_lowered_from_the_same_rows(shapes: RawClient) -> None:
    native = json.loads(shapes.send("GET", _path("tablesdb", [Query.limit(100)])).body)
    old = shapes.send("GET", _path("tablesdb", [Query.limit(100)]), headers={"X-Appwrite-Response-Format": "1.8.0"})
    assert old.status == 200
    for row in native["rows"]:
        row["$sequence"] = int(row["$sequence"])
    assert old.json() == native


def test_guest_sees_only_what_it_may_read(server: LocalServer, project: admin.ProjectCredentials,
                                          shapes: RawClient) -> None:  # fmt: skip
    guest = TablesDB(server.client(project.project_id, None))
    seen = guest.list_rows(DB, T, [Query.limit(100)])  # SDK 27.x: built by SQLite; 15.x: 1.8.0, by Python
    everything = json.loads(shapes.send("GET", _path("tablesdb", [Query.limit(100)])).body)
    for row in seen["rows"]:
        row["$sequence"] = str(row["$sequence"])
    assert seen == {"total": 1, "rows": [r for r in everything["rows"] if r["$id"] == "perms"]}


# --- a row GET (``rows.encoded_row``) ------------------------------------------------------------------


def _row_path(api: str, row_id: str, queries: list[str], **extra: str) -> str:
    return (
        _path(api, queries, **extra)
        .replace("/rows", f"/rows/{row_id}", 1)
        .replace("/documents", f"/documents/{row_id}", 1)
    )


@pytest.mark.parametrize("select", [[], [Query.select(["title", "tags", "$id"])], [Query.select(["*"])]],
                         ids=["all", "some", "star"])  # fmt: skip
@pytest.mark.parametrize("fmt", [None, "1.8.0"], ids=["native", "1.8.0"])
@pytest.mark.parametrize("api", ["tablesdb", "legacy"])
def test_a_row_get_built_by_sql_is_the_python_answer(shapes: RawClient, api: str, fmt: str | None,
                                                     select: list[str]) -> None:  # fmt: skip
    tx = shapes.send("POST", "/v1/tablesdb/transactions", b"{}")
    headers = {"X-Appwrite-Response-Format": fmt} if fmt else None
    for row_id in [r["$id"] for r in ROWS] + ["after"]:
        direct = shapes.send("GET", _row_path(api, row_id, select), headers=headers)
        replayed = shapes.send("GET", _row_path(api, row_id, select, transactionId=tx.json()["$id"]), headers=headers)
        assert (direct.status, replayed.status) == (200, 200), (row_id, direct.body)
        assert direct.body == replayed.body, row_id
        listed = json.loads(
            shapes.send("GET", _path(api, [*select, Query.equal("$id", [row_id])]), headers=headers).body
        )
        assert [direct.json()] == listed["rows" if api == "tablesdb" else "documents"]


def test_a_row_get_by_sql_checks_the_read_and_says_not_found(server: LocalServer, project: admin.ProjectCredentials,
                                                             shapes: RawClient) -> None:  # fmt: skip
    guest = RawClient(server.url, project.project_id, None)
    readable = guest.send("GET", _row_path("tablesdb", "perms", []))
    assert readable.status == 200 and readable.body == shapes.send("GET", _row_path("tablesdb", "perms", [])).body
    for row_id in ("plain", "nope"):  # not readable by a guest, and missing: the same answer
        refused = guest.send("GET", _row_path("tablesdb", row_id, []))
        assert refused.status == 404 and refused.json()["type"] == "row_not_found", refused.body
    assert shapes.send("GET", _row_path("tablesdb", "nope", [])).json()["type"] == "row_not_found"
    old = shapes.send("GET", _row_path("tablesdb", "plain", []), headers={"X-Appwrite-Response-Format": "1.8.0"})
    assert old.json()["$sequence"] == int(shapes.send("GET", _row_path("tablesdb", "plain", [])).json()["$sequence"])
