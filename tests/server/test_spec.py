"""The spec-derived route table and parameter decoding (pure: literals in, values out)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from quixotic.errors import ApiError
from quixotic.server.spec import bind, route_table, unflatten


def test_literal_segments_win_over_parameters() -> None:
    table = route_table()
    op, params = table.match("GET", "/tablesdb/transactions") or (None, None)
    assert op is not None and op.id == "tablesDBListTransactions" and params == {}
    op, params = table.match("GET", "/tablesdb/mydb") or (None, None)
    assert op is not None and op.id == "tablesDBGet" and params == {"databaseId": "mydb"}
    op, _ = table.match("PATCH", "/tablesdb/d/tables/t/columns/boolean/flag") or (None, None)
    assert op is not None and op.id == "tablesDBUpdateBooleanColumn"
    assert table.match("GET", "/no/such/route") is None


def test_scopes_and_statuses_come_from_the_spec() -> None:
    table = route_table()
    create_row = table.by_id["tablesDBCreateRow"]
    assert create_row.status == 201 and "rows.write" in create_row.scopes
    assert table.by_id["tablesDBCreateBooleanColumn"].status == 202
    assert table.by_id["storageCreateFile"].consumes == "multipart/form-data"
    assert table.by_id["healthGetVersion"].scopes == ("public",)


def test_unflatten_reads_every_sdk_encoding() -> None:
    pairs = [("queries[0]", "a"), ("queries[1]", "b"), ("permissions[]", "x"), ("permissions[]", "y"),
             ("o[k]", "v"), ("plain", "1")]  # fmt: skip
    assert unflatten(pairs) == {"queries": ["a", "b"], "permissions": ["x", "y"], "o": {"k": "v"}, "plain": "1"}
    many = [(f"q[{i}]", str(i)) for i in range(12)]
    assert unflatten(many)["q"] == [str(i) for i in range(12)]


def test_bind_types_and_defaults() -> None:
    op = route_table().by_id["tablesDBListRows"]
    got = bind(op, {"databaseId": "d", "tableId": "t"}, {"total": "false"}, {}, False)
    assert got == {"databaseId": "d", "tableId": "t", "queries": [], "transactionId": None, "total": False}
    create = route_table().by_id["tablesDBCreateIntegerColumn"]
    got = bind(create, {"databaseId": "d", "tableId": "t"}, {}, {"key": "n", "required": False, "min": 1.0}, False)
    assert got["min"] == 1 and got["default"] is None


def test_bind_rejects_missing_and_mistyped_params() -> None:
    op = route_table().by_id["tablesDBCreate"]
    with pytest.raises(ApiError) as err:
        bind(op, {}, {}, {"name": "x"}, False)
    assert err.value.type == "general_argument_invalid" and '"databaseId" is not optional' in err.value.message
    with pytest.raises(ApiError) as err:
        bind(op, {}, {}, {"databaseId": "d", "name": 5}, False)
    assert err.value.code == 400 and "`name`" in err.value.message
    with pytest.raises(ApiError):
        bind(op, {}, {}, {"databaseId": "d", "name": "n", "enabled": "yes"}, False)


def test_multipart_text_is_coerced() -> None:
    op = route_table().by_id["storageCreateFile"]
    got = bind(op, {"bucketId": "b"}, {}, {"fileId": "f", "file": object(), "permissions": ['read("any")']}, True)
    assert got["fileId"] == "f" and got["permissions"] == ['read("any")']


def test_routes_newer_than_the_spec_join_the_table() -> None:
    table = route_table()
    # A path Appwrite added for an operation the spec has (its httpAlias): the same operation on both.
    old, _ = table.match("PATCH", "/tablesdb/d/tables/t/columns/c/relationship") or (None, None)
    new, params = table.match("PATCH", "/tablesdb/d/tables/t/columns/relationship/c") or (None, None)
    assert old is not None and new is not None and old.id == new.id == "tablesDBUpdateRelationshipColumn"
    assert params == {"databaseId": "d", "tableId": "t", "key": "c"}
    assert table.by_id["tablesDBUpdateRelationshipColumn"].path.endswith("/{key}/relationship")  # the spec's
    # An operation served as another: runs listRows (handler, model, staging), named as Appwrite names it.
    query, _ = table.match("POST", "/tablesdb/d/tables/t/rows/query") or (None, None)
    assert query is not None and (query.id, query.appwrite_id) == ("tablesDBListRows", "tablesDBCreateQuery")
    assert {p.name: p.where for p in query.params}["queries"] == "body" and query.since == "2.5.0"
    assert table.by_id["tablesDBListRows"].method == "GET"
    # A newer operation nobody serves yet is still a route (the server answers it not-implemented).
    bigint, _ = table.match("POST", "/tablesdb/d/tables/t/columns/bigint") or (None, None)
    assert bigint is not None and bigint.appwrite_id == bigint.id == "tablesDBCreateBigIntColumn"
    assert table.by_id["tablesDBGet"].since == "1.8.1"


def test_routes_json_is_what_its_sources_give() -> None:
    """data/routes.json is generated: the spec plus tools/routes_added.json, never edited by hand."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "tools" / "gen_routes.py"), "--check"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout


def test_a_recording_table_notes_each_appwrite_id_once(tmp_path: Path) -> None:
    record = tmp_path / "ops.txt"
    table = route_table().recording(str(record))
    for method, path in [("GET", "/tablesdb/d"), ("GET", "/tablesdb/e"), ("POST", "/tablesdb/d/tables/t/rows/query")]:
        table.match(method, path)
    table.match("GET", "/no/such/route")
    assert record.read_text().splitlines() == ["tablesDBGet", "tablesDBCreateQuery"]
    assert route_table().recording("") is route_table()  # off: the shared table itself, nothing noted
    route_table().match("GET", "/tablesdb/d")
    assert record.read_text().splitlines() == ["tablesDBGet", "tablesDBCreateQuery"]
