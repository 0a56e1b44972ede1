"""Servers a test starts and stops itself (a restart, a crash, other settings), besides the session's one.

``stop`` is the clean stop every such test needs: SIGTERM lets the server close its last connection (so SQLite
copies the WAL into the database file), and a server that does not exit in 10 s is killed rather than left running.
``own_server`` (a block) and ``module_server`` (a module's ``server`` fixture) start one and stop it so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from support.server import LocalServer, start_server


def stop(srv: LocalServer) -> None:
    """Terminate ``srv``; kill it when it has not exited 10 s later."""
    srv.process.terminate()
    try:
        srv.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.process.kill()


@contextmanager
def own_server(base: Path, **kwargs: Any) -> Iterator[LocalServer]:
    """A server on ``base``/data, logging to ``base``/server.log, stopped (``stop``) however the block ends."""
    srv = start_server(base / "data", base / "server.log", **kwargs)
    try:
        yield srv
    finally:
        stop(srv)


def module_server(folder: str) -> Callable[..., Any]:
    """A module-scoped ``server`` fixture on a data dir of its own (a temp folder named after ``folder``), for a
    module whose tests would disturb the session's server; the module binds it as ``server = module_server(...)``.
    """

    @pytest.fixture(scope="module", name="server")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
        with own_server(tmp_path_factory.mktemp(folder)) as srv:
            yield srv

    return fixture
