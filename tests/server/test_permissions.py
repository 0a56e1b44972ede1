"""One permission grammar for every service: ``write(ROLE)`` is stored as Appwrite stores it,
expanded into ``update`` + ``delete`` on rows and on files alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from appwrite.client import Client
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from support.sdk import silence_sdk_deprecations, wait_available

PERMISSIONS = [Permission.read(Role.any()), Permission.write(Role.user("alice")), Permission.delete(Role.user("alice"))]
STORED = ['read("any")', 'update("user:alice")', 'delete("user:alice")']


def _row(client: Client) -> tuple[list[str], list[str]]:
    """(permissions as created, as updated) of a row."""
    tdb = TablesDB(client)
    tdb.create("db", "DB")
    tdb.create_table("db", "t", "T")
    tdb.create_string_column("db", "t", "s", 10, False)
    wait_available(tdb, "db", "t", "s")
    created = tdb.create_row("db", "t", "r", {"s": "x"}, PERMISSIONS)["$permissions"]
    return created, tdb.update_row("db", "t", "r", permissions=PERMISSIONS)["$permissions"]


def _file(client: Client) -> tuple[list[str], list[str]]:
    """(permissions as created, as updated) of a file."""
    storage = Storage(client)
    storage.create_bucket("b", "B")
    created = storage.create_file("b", "f", InputFile.from_bytes(b"x", "f.txt"), PERMISSIONS)["$permissions"]
    return created, storage.update_file("b", "f", permissions=PERMISSIONS)["$permissions"]


@pytest.mark.parametrize("make", [_row, _file], ids=["row", "file"])
def test_write_expands_to_update_and_delete(
    client: Client, monkeypatch: pytest.MonkeyPatch, make: Callable[[Client], tuple[list[str], list[str]]]
) -> None:
    silence_sdk_deprecations(monkeypatch)
    created, updated = make(client)
    assert created == STORED
    assert updated == STORED
