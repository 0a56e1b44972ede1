"""The server the conformance suite talks to: a real local server process (started on a free port with its own
data dir), or, opt-in by ``QUIXOTIC_CONFORMANCE_*`` variables, any Appwrite endpoint with one throwaway project."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from appwrite.client import Client

from quixotic.server import admin
from quixotic.server.ids import new_id
from support import project_sweep

ENDPOINT_VAR = "QUIXOTIC_CONFORMANCE_ENDPOINT"
PROJECT_VAR = "QUIXOTIC_CONFORMANCE_PROJECT"
KEY_VAR = "QUIXOTIC_CONFORMANCE_KEY"
WIPE_VAR = "QUIXOTIC_CONFORMANCE_WIPE"
TARGET_VARS = (ENDPOINT_VAR, PROJECT_VAR, KEY_VAR)


@dataclass
class LocalServer:
    url: str  # .../v1
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def new_project(self, name: str | None = None) -> admin.ProjectCredentials:
        project_id = "p" + new_id()
        return admin.create_project(self.data_dir, project_id, name)

    def client(self, project_id: str, key: str | None) -> Client:
        return sdk_client(self.url, project_id, key)


def sdk_client(url: str, project_id: str, key: str | None) -> Client:
    """An SDK client of ``project_id`` at ``url``; without ``key`` it acts as a guest."""
    c = Client().set_endpoint(url).set_project(project_id)
    if key:
        c.set_key(key)
    return c


def free_port() -> int:
    return admin.free_port()


def start_server(data_dir: Path, log_path: Path, env: Mapping[str, str] | None = None, **kwargs: Any) -> LocalServer:
    """A server on a free port; its scheduler's clock runs 60x faster, so cron schedules fire within seconds.
    ``env`` adds to (or overrides) the environment it gets."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "QUIXOTIC_SCHEDULE_SPEEDUP": "60", **(env or {})}
    proc, url = admin.spawn_server(data_dir, log_file=log_path, env=env, **kwargs)
    return LocalServer(url, data_dir, proc, log_path)


class RemoteModeError(Exception):
    """The ``QUIXOTIC_CONFORMANCE_*`` variables are set up wrong."""


@dataclass(frozen=True)
class RemoteTarget:
    """An Appwrite endpoint (``.../v1``), one throwaway project on it and an API key with every scope."""

    url: str
    project_id: str
    key: str = field(repr=False)  # never in a test report
    wipe: bool = False


REMOTE: pytest.StashKey[RemoteTarget | None] = pytest.StashKey()  # set by tests/conftest.py: None means local


def remote_target(env: Mapping[str, str]) -> RemoteTarget | None:
    """The endpoint the ``QUIXOTIC_CONFORMANCE_*`` variables name, or None (the local server) when none is set."""
    given = {name: env.get(name, "").strip() for name in TARGET_VARS}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise RemoteModeError(
            f"set all of {', '.join(TARGET_VARS)} to run the conformance suite against an endpoint "
            f"(missing: {', '.join(missing)}), or none of them to run it against a local server"
        )
    url = given[ENDPOINT_VAR].rstrip("/")
    if not url.startswith(("http://", "https://")) or not url.endswith("/v1"):
        raise RemoteModeError(
            f"{ENDPOINT_VAR} must be the API root, like https://appwrite.example.com/v1 (got {url!r})"
        )
    return RemoteTarget(url, given[PROJECT_VAR], given[KEY_VAR], env.get(WIPE_VAR, "") == "1")


@dataclass(frozen=True, repr=False)
class RemoteCredentials(admin.ProjectCredentials):
    """The remote project's credentials, whose repr (in a failing test's report) leaves the key out."""

    def __repr__(self) -> str:
        return f"RemoteCredentials(project_id={self.project_id!r}, api_key='<hidden>', endpoint={self.endpoint!r})"


class RemoteServer:
    """Stands in for ``LocalServer`` against a remote endpoint: the same ``url``, ``new_project`` and ``client``.

    ``new_project`` hands out the one configured project (a project key cannot create projects), so the fixtures
    empty it again after each test. A test that is not marked ``local_only`` but asks for what only the local server
    has (its data folder or process, a second project) is skipped there, the reason naming what it asked for.
    """

    def __init__(self, target: RemoteTarget) -> None:
        self.target = target
        self.url = target.url
        self._handed_out: int | None = None  # projects handed out to the running test; None between tests
        self._test = ""

    def begin_test(self, nodeid: str) -> None:
        self._handed_out, self._test = 0, nodeid

    def end_test(self) -> None:
        self._handed_out = None

    def new_project(self, name: str | None = None) -> admin.ProjectCredentials:
        if self._handed_out is not None:
            self._handed_out += 1
            if self._handed_out > 1:
                pytest.skip(f"local only (unmarked): {self._test} needs a second project; {PROJECT_VAR} names one")
        return RemoteCredentials(self.target.project_id, self.target.key, self.url, created=False)

    def client(self, project_id: str, key: str | None) -> Client:
        return sdk_client(self.url, project_id, key)

    def holdings(self) -> project_sweep.Holdings:
        return project_sweep.holdings(self.url, self.target.project_id, self.target.key)

    def sweep(self, keep: project_sweep.Holdings) -> None:
        """Delete what the project holds beyond ``keep``."""
        project_sweep.sweep(self.url, self.target.project_id, self.target.key, keep)

    def __getattr__(self, name: str) -> Any:
        if name in ("data_dir", "process", "log_path"):
            pytest.skip(f"local only (unmarked): {self._test} uses server.{name}; mark it local_only")
        raise AttributeError(name)
