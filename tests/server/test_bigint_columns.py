"""BigInt columns and attributes (Appwrite 1.9): ``…/columns/bigint`` and the legacy ``…/attributes/bigint``,
type ``bigint``, whole numbers over the full signed 64-bit range, checked and queried like integers.

Through 27.x's own ``create_big_int_column`` where the line has it (``.ci/run`` runs this module there with
``-p support.newest_sdk``), through the client's raw call on 15.x, which has no such method. Every format sees
the column as ``bigint``: Appwrite's 1.9 to 1.8 filter (V21) lowers no column model, so a 1.8.0 client gets
the type as it is.
"""

from __future__ import annotations

from typing import Any

import pytest
from appwrite.client import Client
from appwrite.id import ID
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from support.sdk import expect_error, ids, silence_sdk_deprecations, wait_available
from test_v25_descriptions import call

BIG = 2**62 + 1  # beyond a double's exact integers: a float anywhere on the way would round it
TOP, BOTTOM = 2**63 - 1, -(2**63)


def _create(client: Client, tdb: TablesDB, key: str, **params: Any) -> dict[str, Any]:
    method = getattr(tdb, "create_big_int_column", None)
    if method is not None:
        made: dict[str, Any] = method("d", "t", key, params.pop("required", False), **params)
        return made
    body = {"key": key, "required": False, **params}
    made = call(client, "post", "/tablesdb/d/tables/t/columns/bigint", body, fmt="1.8.0")
    return made


@pytest.fixture
def big(client: Client, tdb: TablesDB) -> TablesDB:
    """Table d/t with a bigint column ``n`` (no bounds) and ``m`` (0..10, default 3)."""
    tdb.create("d", "D")
    tdb.create_table("d", "t", "T")
    made = _create(client, tdb, "n")
    assert (made["type"], made["min"], made["max"], made["default"]) == ("bigint", BOTTOM, TOP, None)
    _create(client, tdb, "m", min=0, max=10, default=3)
    wait_available(tdb, "d", "t", "n")
    wait_available(tdb, "d", "t", "m")
    return tdb


def test_bigint_values_over_64_bits_stored_and_queried(big: TablesDB) -> None:
    for row_id, n in (("top", TOP), ("bottom", BOTTOM), ("big", BIG), ("small", 7)):
        row = big.create_row("d", "t", row_id, {"n": n})
        assert (row["n"], row["m"]) == (n, 3)
    assert big.get_row("d", "t", "big")["n"] == BIG
    assert ids(big.list_rows("d", "t", [Query.greater_than("n", 2**62)])) == ["top", "big"]
    assert ids(big.list_rows("d", "t", [Query.equal("n", [BIG])])) == ["big"]
    assert ids(big.list_rows("d", "t", [Query.between("n", BOTTOM, 7)])) == ["bottom", "small"]
    assert ids(big.list_rows("d", "t", [Query.order_desc("n")])) == ["top", "big", "small", "bottom"]
    assert big.update_row("d", "t", "small", {"n": 8.0})["n"] == 8  # a whole float is an integer


def test_bigint_values_checked_like_integers(big: TablesDB) -> None:
    too_big = expect_error(lambda: big.create_row("d", "t", ID.unique(), {"n": 2**63}), 400, "general_argument_invalid")
    assert "64 bits" in too_big.message  # past int64: refused as it is read, before any column
    for bad in ("5", 1.5, True):
        expect_error(lambda bad=bad: big.create_row("d", "t", ID.unique(), {"n": bad}), 400, "row_invalid_structure")
    expect_error(lambda: big.create_row("d", "t", ID.unique(), {"m": 11}), 400, "row_invalid_structure")
    assert big.create_row("d", "t", "ten", {"m": 10})["m"] == 10


def test_bigint_column_bounds_default_and_update(client: Client, big: TablesDB) -> None:
    with pytest.raises(Exception) as info:
        _create(client, big, "bad", min=5, max=1)
    assert getattr(info.value, "type", None) == "column_value_invalid"
    with pytest.raises(Exception) as info:
        _create(client, big, "off", min=0, max=10, default=11)
    assert getattr(info.value, "type", None) == "column_value_invalid"
    changed = call(
        client, "patch", "/tablesdb/d/tables/t/columns/bigint/m", {"required": False, "default": 2**40, "max": 2**41}
    )
    assert (changed["type"], changed["max"], changed["default"]) == ("bigint", 2**41, 2**40)
    assert big.create_row("d", "t", "dflt", {"n": 1})["m"] == 2**40
    wrong = call(client, "post", "/tablesdb/d/tables/t/columns/integer", {"key": "i", "required": False})
    assert wrong["type"] == "integer"
    wait_available(big, "d", "t", "i")
    with pytest.raises(Exception) as info:  # an integer column is not updated through the bigint route
        call(client, "patch", "/tablesdb/d/tables/t/columns/bigint/i", {"required": False, "default": None})
    assert getattr(info.value, "type", None) == "column_type_invalid"


@pytest.mark.parametrize("fmt", ["1.8.0", "1.9.6", "2.5.0"])
def test_bigint_column_in_every_format(client: Client, big: TablesDB, fmt: str) -> None:
    column = call(client, "get", "/tablesdb/d/tables/t/columns/n", fmt=fmt)
    assert (column["type"], column["min"], column["max"]) == ("bigint", BOTTOM, TOP)
    listed = call(client, "get", "/tablesdb/d/tables/t/columns", fmt=fmt)["columns"]
    assert {c["key"]: c["type"] for c in listed} == {"n": "bigint", "m": "bigint"}
    assert "description" in column if fmt == "2.5.0" else "description" not in column


def test_legacy_bigint_attribute(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    silence_sdk_deprecations(monkeypatch)
    call(client, "post", "/databases", {"databaseId": "l", "name": "L"})
    call(client, "post", "/databases/l/collections", {"collectionId": "c", "name": "C"})
    made = call(client, "post", "/databases/l/collections/c/attributes/bigint", {"key": "n", "required": False})
    assert (made["type"], made["max"]) == ("bigint", TOP)
    tdb = TablesDB(client)
    wait_available(tdb, "l", "c", "n")
    doc = call(client, "post", "/databases/l/collections/c/documents", {"documentId": "x", "data": {"n": BIG}})
    assert doc["n"] == BIG
    changed = call(client, "patch", "/databases/l/collections/c/attributes/bigint/n", {"required": False, "default": 1})
    assert changed["default"] == 1
