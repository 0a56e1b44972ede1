"""SDK helpers for the conformance tests: expected Appwrite errors, polling for async statuses, and the
Flavour that runs one test body against both database APIs (TablesDB and legacy)."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import appwrite.utils.deprecated
import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.databases import Databases
from appwrite.services.tables_db import TablesDB

# Appwrite's datetime format: ISO 8601 with milliseconds and an explicit +00:00 offset.
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")

ROW_SYSTEM_KEYS = {"$id", "$sequence", "$tableId", "$databaseId", "$createdAt", "$updatedAt", "$permissions"}
DOCUMENT_SYSTEM_KEYS = (ROW_SYSTEM_KEYS - {"$tableId"}) | {"$collectionId"}

# The SDK line's major version: 27.x asks for the 2.5.0 response format, the older lines for 1.8.0 or 1.9.x.
SDK_MAJOR = int(importlib.metadata.version("appwrite").split(".")[0])
ASKS_FOR_V25 = SDK_MAJOR >= 27


def v25_fields(**fields: Any) -> dict[str, Any]:
    """``fields`` when the SDK in use asks for 2.5.0 (which added them to the model), else nothing: a test's
    exact expected shape holds on every line."""
    return fields if ASKS_FOR_V25 else {}


def create_jwt(account: Any, duration: int | None = None) -> Any:
    """``POST /account/jwts`` for the account's client: 15.x-22.x have ``Account.create_jwt``; the server SDK of
    27.x dropped it (a client SDK's call), so there the same request goes through the client itself."""
    params = {} if duration is None else {"duration": duration}
    method = getattr(account, "create_jwt", None)
    if method is not None:
        return method(**params)
    client = account.client
    headers = {"content-type": "application/json", "X-Appwrite-Project": client.get_config("project")}
    return client.call("post", "/account/jwts", headers, params)  # 27.x keeps the project out of global headers


def create_variable(functions: Any, function_id: str, key: str, value: str, secret: bool = False) -> Any:
    """A function variable on any SDK line: 15.x-22.x take ``(function_id, key, value)``, 27.x a
    ``variable_id`` before the key (given ``unique()`` here, as the server makes the id)."""
    if "variable_id" in inspect.signature(functions.create_variable).parameters:
        return functions.create_variable(function_id, "unique()", key, value, secret)
    return functions.create_variable(function_id, key, value, secret)


def expect_error(call: Callable[[], Any], code: int, type_: str) -> AppwriteException:
    """Run ``call`` and check that it fails with Appwrite's ``code`` and ``type``."""
    with pytest.raises(AppwriteException) as info:
        call()
    assert (info.value.code, info.value.type) == (code, type_), info.value.message
    return info.value


@contextmanager
def raises_api(code: int, error_type: str) -> Iterator[pytest.ExceptionInfo[AppwriteException]]:
    """Expect the block to fail with an Appwrite error of this HTTP ``code`` and ``type``."""
    with pytest.raises(AppwriteException) as info:
        yield info
    got = (info.value.code, info.value.type)
    assert got == (code, error_type), f"expected {(code, error_type)}, got {got}: {info.value.message}"


def wait_for(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something true, and return that; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def wait_status(fetch: Callable[[], dict[str, Any]], want: str = "available", timeout: float = 10.0) -> dict[str, Any]:
    """Poll ``fetch`` (a column or index getter) until its ``status`` leaves ``processing``.

    Returns the resource; fails when it settles on another status than ``want``.
    """
    deadline = time.monotonic() + timeout
    while True:
        doc = fetch()
        if doc["status"] not in ("processing", "deleting"):
            assert doc["status"] == want, f"status {doc['status']!r} (error: {doc.get('error')!r}), not {want!r}"
            return doc
        if time.monotonic() > deadline:
            pytest.fail(f"still {doc['status']!r} after {timeout} s: {doc}")
        time.sleep(0.01)


def wait_available(tdb: Any, database_id: str, table_id: str, key: str) -> dict[str, Any]:
    """Poll ``get_column`` until the column is ``available``."""
    return wait_status(lambda: tdb.get_column(database_id, table_id, key))


def wait_index(tdb: Any, database_id: str, table_id: str, key: str, want: str = "available") -> dict[str, Any]:
    """Poll ``get_index`` until the index settles (``available`` or ``failed``)."""
    return wait_status(lambda: tdb.get_index(database_id, table_id, key), want)


def wait_gone(fetch: Callable[[], Any], timeout: float = 10.0) -> AppwriteException:
    """Poll ``fetch`` until it answers 404; returns that error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fetch()
        except AppwriteException as exc:
            if exc.code == 404:
                return exc
            raise
        if time.monotonic() > deadline:
            pytest.fail(f"still there after {timeout} s")
        time.sleep(0.01)


def ids(listing: dict[str, Any], plural: str = "rows") -> list[str]:
    """The ``$id`` of each item of a list response, in order."""
    return [item["$id"] for item in listing[plural]]


def assert_timestamps(doc: dict[str, Any]) -> None:
    for key in ("$createdAt", "$updatedAt"):
        assert ISO_MS.match(doc[key]), f"{key} is {doc[key]!r}"


class _NoWarnings:
    """Stands in for ``warnings`` inside the SDK's ``deprecated`` decorator."""

    @staticmethod
    def simplefilter(*args: Any, **kwargs: Any) -> None:
        pass

    @staticmethod
    def warn(*args: Any, **kwargs: Any) -> None:
        pass


def silence_sdk_deprecations(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 15.x SDK flags the legacy service and string columns as deprecated on every call, and
    forces its warnings through with ``simplefilter('always')``, past pytest's filters. The server
    emulates 1.8, where they are current, so the tests turn those warnings off."""
    monkeypatch.setattr(appwrite.utils.deprecated, "warnings", _NoWarnings)


_LEGACY_WORDS = (
    ("tables", "collections"), ("table", "collection"), ("rows", "documents"), ("row", "document"),
    ("columns", "attributes"), ("column", "attribute"),
)  # fmt: skip


class Flavour:
    """One of the two database APIs behind one set of names: TablesDB's words (``create_row``,
    ``row_not_found``, ``rows.read``, ``$tableId``) are translated into the legacy API's
    (``create_document``, ``document_not_found``, ``documents.read``, ``$collectionId``) when ``name`` is
    ``"legacy"``, so one test body checks both."""

    def __init__(self, name: str, client: Client) -> None:
        self.name = name
        self.service: Any = TablesDB(client) if name == "tablesdb" else Databases(client)

    def word(self, generic: str) -> str:
        if self.name == "tablesdb":
            return generic
        for modern, legacy in _LEGACY_WORDS:
            generic = generic.replace(modern, legacy)
        return generic

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self.service, self.word(method))

        def translated(*args: Any, **kwargs: Any) -> Any:
            return call(*args, **{self.word(k): v for k, v in kwargs.items()})

        return translated


def call_in_format(client: Client, method: str, path: str, params: dict[str, Any] | None, fmt: str) -> Any:
    """A request through the SDK's own client (its key, session or impersonation headers included), answered
    in format ``fmt``; the project named as every line needs (27.x keeps it out of the global headers)."""
    headers = {"content-type": "application/json", "X-Appwrite-Response-Format": fmt}
    config = getattr(client, "get_config", None)
    if config:
        headers["X-Appwrite-Project"] = config("project")
    return client.call(method, path, headers, params or {})
