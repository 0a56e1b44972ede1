"""Fixtures of the database conformance tests (TablesDB and the legacy Databases API)."""

from __future__ import annotations

import pytest
from appwrite.client import Client
from appwrite.services.tables_db import TablesDB
from support.sdk import Flavour, silence_sdk_deprecations


@pytest.fixture
def quiet_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK flags the legacy service and string columns as deprecated (current in 1.8, which the server emulates)."""
    silence_sdk_deprecations(monkeypatch)


@pytest.fixture
def tdb(client: Client) -> TablesDB:
    return TablesDB(client)


@pytest.fixture(params=["tablesdb", "legacy"])
def api(request: pytest.FixtureRequest, client: Client) -> Flavour:
    """The same test through TablesDB and through the legacy Databases API."""
    return Flavour(request.param, client)


@pytest.fixture
def api_db(api: Flavour) -> str:
    """A database made through ``api``."""
    api.create("legacy", "Either")
    return "legacy"
