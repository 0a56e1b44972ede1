"""Commands on the local server's data folder: projects, keys, and where a running server listens.

They work whether or not the server is running: they write to the same SQLite file, which
serialises writers. The server records its address in ``server.json`` so that these commands can
report the endpoint to use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quixotic.errors import UsageError
from quixotic.server import auth
from quixotic.server.store import Store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
STATE_FILE = "server.json"


@dataclass(frozen=True)
class ProjectCredentials:
    project_id: str
    api_key: str
    endpoint: str
    created: bool

    def as_json(self) -> dict[str, Any]:
        return {"projectId": self.project_id, "apiKey": self.api_key, "endpoint": self.endpoint}


def endpoint_of(data_dir: Path) -> str:
    """The endpoint of the server that uses ``data_dir`` (or the default one if none has run)."""
    state = read_server_state(data_dir)
    if state:
        return str(state["endpoint"])
    return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/v1"


def read_server_state(data_dir: Path) -> dict[str, Any] | None:
    path = Path(data_dir) / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "endpoint" in state else None


def write_server_state(data_dir: Path, host: str, port: int) -> None:
    path = Path(data_dir) / STATE_FILE
    state = {"endpoint": f"http://{host}:{port}/v1", "host": host, "port": port, "pid": os.getpid()}
    path.write_text(json.dumps(state) + "\n")


def create_project(data_dir: Path, project_id: str, name: str | None = None) -> ProjectCredentials:
    """Create a project (if missing) and a new API key with every scope."""
    store = Store(data_dir)
    try:
        with store.tx() as conn:
            created = auth.create_project(conn, project_id, name)
            _, secret = auth.create_key(conn, project_id, list(auth.ALL_SCOPES), name="quixotic-admin")
    finally:
        store.close()
    return ProjectCredentials(project_id, secret, endpoint_of(data_dir), created)


def create_key(data_dir: Path, project_id: str, scopes: list[str], name: str = "quixotic") -> str:
    """A new API key of ``project_id`` limited to ``scopes``; returns its secret."""
    if not scopes:
        raise UsageError("give at least one scope, e.g. --scopes rows.read,rows.write")
    store = Store(data_dir)
    try:
        with store.tx() as conn:
            _, secret = auth.create_key(conn, project_id, scopes, name=name)
    finally:
        store.close()
    return secret
