"""Fixtures of the conformance tests: which tests belong to the suite, the clean-up of a remote project after each
test and module, and the database fixtures (TablesDB and the legacy Databases API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.services.tables_db import TablesDB
from support.sdk import Flavour, silence_sdk_deprecations
from support.server import REMOTE, RemoteServer

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The conformance suite: every test here that talks to a server (the session one, or one of its own, which
    makes it ``local_only``); the unit tests of the server's modules are not part of it."""
    for item in items:
        if item.path.is_relative_to(HERE) and (
            "server" in item.fixturenames or item.get_closest_marker("local_only") is not None
        ):
            item.add_marker(pytest.mark.conformance)


def _remote(request: pytest.FixtureRequest) -> RemoteServer | None:
    if request.config.stash[REMOTE] is None:
        return None
    srv = request.getfixturevalue("server")
    assert isinstance(srv, RemoteServer)
    return srv


@pytest.fixture(scope="module", autouse=True)
def _empty_remote_project_after_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """Remote mode: delete what the module's own fixtures (e.g. a shared table of people) left in the project."""
    srv = _remote(request)
    before = srv.holdings() if srv else None
    yield
    if srv and before is not None:
        srv.sweep(before)


@pytest.fixture(autouse=True)
def _empty_remote_project_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Remote mode: the one project stands in for a fresh one per test, so what a test adds is deleted after it."""
    srv = _remote(request) if "server" in request.fixturenames else None
    before = srv.holdings() if srv else None
    yield
    if srv and before is not None:
        srv.sweep(before)


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
