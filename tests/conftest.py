"""Shared fixtures: ONE real server process per test session, on a free port, driven by the official SDK.

Tests get a fresh project each (``project``), so they never see each other's data.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from appwrite.client import Client

from quixotic import local
from quixotic.server.ids import new_id


@dataclass
class LocalServer:
    url: str  # .../v1
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def new_project(self, name: str | None = None) -> local.ProjectCredentials:
        project_id = "p" + new_id()
        return local.create_project(self.data_dir, project_id, name)

    def client(self, project_id: str, key: str | None) -> Client:
        c = Client().set_endpoint(self.url).set_project(project_id)
        if key:
            c.set_key(key)
        return c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, log_path: Path) -> LocalServer:
    port = free_port()
    log = log_path.open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "quixotic.cli", "server", "--host", "127.0.0.1", "--port", str(port),
         "--data", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if requests.get(url + "/health/version", timeout=1).status_code == 200:
                return LocalServer(url, data_dir, proc, log_path)
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not start in 30 s:\n{log_path.read_text()}")


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
def project(server: LocalServer) -> local.ProjectCredentials:
    return server.new_project()


@pytest.fixture
def client(server: LocalServer, project: local.ProjectCredentials) -> Client:
    return server.client(project.project_id, project.api_key)
