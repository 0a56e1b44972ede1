"""Shared fixtures: ONE real server process per test session, on a free port, driven by the official SDK.

Tests get a fresh project each (``project``), so they never see each other's data.

Remote mode: with ``QUIXOTIC_CONFORMANCE_ENDPOINT``, ``_PROJECT`` and ``_KEY`` set, ``server`` is that endpoint
instead (tests/server/README.md): tests marked ``local_only`` are skipped, and the one project is emptied after
each test instead of a fresh one made for each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from appwrite.client import Client
from support import project_sweep
from support.server import (
    KEY_VAR,
    REMOTE,
    WIPE_VAR,
    LocalServer,
    RemoteModeError,
    RemoteServer,
    RemoteTarget,
    remote_target,
)
from support.spawn import own_server

from quixotic.server import admin


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "conformance: talks to an Appwrite API through the official SDK or raw HTTP (tests/server); "
        "runs against any endpoint given by QUIXOTIC_CONFORMANCE_* (tests/server/README.md)",
    )
    config.addinivalue_line(
        "markers",
        "local_only(reason): needs what only the local server gives (its SQLite and files, its processes, its clock, "
        "projects and keys made with `quixotic local`, local wheels); skipped against a remote endpoint",
    )
    try:
        config.stash[REMOTE] = remote_target(os.environ)
    except RemoteModeError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In remote mode, skip what needs the local server, each with the reason why."""
    if config.stash[REMOTE] is None:
        return
    for item in items:
        local = item.get_closest_marker("local_only")
        if local is not None:
            reason = str(local.args[0]) if local.args else "needs the local server"
            item.add_marker(pytest.mark.skip(reason=f"local only: {reason}"))
        elif "server" in getattr(item, "fixturenames", ()) and item.get_closest_marker("conformance") is None:
            item.add_marker(pytest.mark.skip(reason="local only: not part of the conformance suite (tests/server)"))


def _remote_server(target: RemoteTarget) -> Iterator[RemoteServer]:
    """The remote endpoint, its project checked empty first (or emptied, with the wipe variable), emptied at the end."""
    srv = RemoteServer(target)
    try:
        held = srv.holdings()
        if held and target.wipe:
            srv.sweep({})
        elif held:
            pytest.exit(
                f"project {target.project_id!r} at {target.url} is not empty: {project_sweep.describe(held)}. The "
                f"conformance suite creates and deletes resources, so it needs a throwaway project: give it an empty "
                f"one, or set {WIPE_VAR}=1 to delete everything in this one first.",
                returncode=4,
            )
    except project_sweep.SweepError as exc:
        pytest.exit(f"cannot use project {target.project_id!r} at {target.url} (check {KEY_VAR}): {exc}", returncode=4)
    yield srv
    srv.sweep({})


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    target = request.config.stash[REMOTE]
    if target is not None:
        yield from _remote_server(target)  # type: ignore[misc]  # RemoteServer stands in for LocalServer
        return
    with own_server(tmp_path_factory.mktemp("server")) as srv:
        yield srv


@pytest.fixture
def project(server: LocalServer) -> admin.ProjectCredentials:
    return server.new_project()


@pytest.fixture
def client(server: LocalServer, project: admin.ProjectCredentials) -> Client:
    return server.client(project.project_id, project.api_key)
