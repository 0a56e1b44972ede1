"""Fixtures of the conformance tests: which tests belong to the suite, the clean-up of a remote project after each
test and module, and the database fixtures (TablesDB and the legacy Databases API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from appwrite.client import Client
from appwrite.services.tables_db import TablesDB
from support import spawn
from support.sdk import Flavour, silence_sdk_deprecations
from support.server import REMOTE, LocalServer, RemoteServer

HERE = Path(__file__).parent
RUNTIME = HERE / "compute"  # the local server's own functions runtime: nothing there is Appwrite's API


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The conformance suite: every test here that talks to a server (the session one, or one of its own, which
    makes it ``local_only``, as are the runtime's tests in compute/); the unit tests of the server's modules are not.

    Remote mode: tests sharing a module-scoped fixture that fills the project run last in their module. Locally
    such a fixture has a project of its own; remotely its resources sit in the one project until the module ends,
    so a test of that module that counts what the project holds would see them if it ran after them.
    """
    for item in items:
        if item.path.is_relative_to(RUNTIME) and "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.local_only("tests the local functions runtime and its sandbox"))
        if item.path.is_relative_to(HERE) and (
            "server" in getattr(item, "fixturenames", ()) or item.get_closest_marker("local_only") is not None
        ):
            item.add_marker(pytest.mark.conformance)
    if config.stash[REMOTE] is not None:
        module_rank = {getattr(item, "module", None): rank for rank, item in reversed(list(enumerate(items)))}
        items.sort(key=lambda item: (module_rank[getattr(item, "module", None)], _shares_a_module_project(item)))


def _shares_a_module_project(item: pytest.Item) -> bool:
    if not isinstance(item, pytest.Function):
        return False
    definitions = item._fixtureinfo.name2fixturedefs.values()
    return any(d.scope in ("module", "class") and "server" in d.argnames for defs in definitions for d in defs)


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
    if srv is None:
        yield
        return
    before = srv.holdings()
    srv.begin_test(request.node.nodeid)
    try:
        yield
    finally:
        srv.end_test()
    srv.sweep(before)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A server of the test's own, on ``tmp_path``: for a test that reads or rewrites its whole data folder."""
    with spawn.own_server(tmp_path) as srv:
        yield srv


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
