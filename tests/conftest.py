"""Shared fixtures: ONE real server process per test session, on a free port, driven by the official SDK.

Tests get a fresh project each (``project``), so they never see each other's data.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from appwrite.client import Client
from support.server import LocalServer, start_server

from quixotic.server import admin


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    base = tmp_path_factory.mktemp("server")
    srv = start_server(base / "data", base / "server.log")
    yield srv
    srv.process.terminate()
    try:
        srv.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.process.kill()


@pytest.fixture
def project(server: LocalServer) -> admin.ProjectCredentials:
    return server.new_project()


@pytest.fixture
def client(server: LocalServer, project: admin.ProjectCredentials) -> Client:
    return server.client(project.project_id, project.api_key)
