"""Local-server administration on its data folder: projects, keys, where a running server listens, spawn, up and down.

They work whether or not the server is running: they write to the same SQLite file, which
serialises writers. The server records its address in ``server.json`` so that these commands can
report the endpoint to use.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quixotic.envfile import read_env_file as read_env_file  # re-exported; home is quixotic.envfile
from quixotic.envfile import write_env_value as write_env_value
from quixotic.errors import QuixoticError, ServerStartError, UsageError
from quixotic.localstate import read_server_state
from quixotic.server import auth
from quixotic.server.store import Store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


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


# --- the embedded default: `quixotic up` / `quixotic down` ---------------------------------------

LOCAL_PROJECT = "quixotictools-local"
ENV_FILE = Path("environments/.env.local")
KEY_VAR = "QUIXOTIC_LOCAL_API_KEY"


@dataclass(frozen=True)
class UpResult:
    endpoint: str
    project_id: str
    key_file: Path
    started: bool  # False when a server was already running
    log_file: Path


def server_alive(endpoint: str, timeout: float = 1.0) -> bool:
    """True when an Appwrite-compatible server answers at ``endpoint`` (``.../v1``)."""
    try:
        with urllib.request.urlopen(endpoint + "/health/version", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spawn_server(
    data_dir: Path,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    *,
    log_file: Path | None = None,
    storage_limit: int | None = None,
    env: Mapping[str, str] | None = None,
    detach: bool = False,
    wait: float = 30.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``quixotic server`` in a child process and wait until it answers; returns it and its endpoint.

    ``port`` None picks a free one; output goes to ``log_file`` (appended) or nowhere; ``detach`` puts the
    server in its own session so it outlives this process (``quixotic up``). Tests and benchmarks use it too.
    """
    port = free_port(host) if port is None else port
    command = [sys.executable, "-m", "quixotic.cli", "server", "--host", host, "--port", str(port),
               "--data", str(data_dir)]  # fmt: skip
    if storage_limit is not None:
        command += ["--storage-limit", str(storage_limit)]
    data_dir.mkdir(parents=True, exist_ok=True)
    out = log_file.open("ab") if log_file is not None else None
    try:
        proc = subprocess.Popen(
            command,
            stdout=out or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
            env=None if env is None else dict(env),
        )
    finally:
        if out is not None:
            out.close()
    endpoint = f"http://{host}:{port}/v1"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if server_alive(endpoint, 0.5):
            return proc, endpoint
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file is not None else ""
            raise ServerStartError(f"the local server exited at start (see {log_file or 'its output'}):\n{tail}")
        time.sleep(0.05)
    proc.kill()
    raise ServerStartError(f"the local server did not answer within {wait:.0f} s; see {log_file or 'its output'}")


def start_background(data_dir: Path, host: str, port: int, wait: float = 30.0) -> Path:
    """Start ``quixotic server`` detached from this process; returns its log file."""
    log_file = data_dir / "server.log"
    spawn_server(data_dir, host, port, log_file=log_file, detach=True, wait=wait)
    return log_file


def key_is_valid(data_dir: Path, project_id: str, secret: str) -> bool:
    store = Store(data_dir)
    try:
        with store.read() as conn:
            return auth.resolve(conn, project_id, secret).role == "applications"
    except QuixoticError:
        return False
    finally:
        store.close()


def up(data_dir: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, env_file: Path = ENV_FILE) -> UpResult:
    """Make sure the local server runs and the local project and its key exist (safe to repeat)."""
    state = read_server_state(data_dir)
    endpoint = f"http://{host}:{port}/v1"
    started = False
    if state and server_alive(str(state["endpoint"])):
        endpoint = str(state["endpoint"])
        log_file = data_dir / "server.log"
    else:
        if server_alive(endpoint):
            raise UsageError(f"another server already answers at {endpoint}; stop it or pick another port with --port")
        log_file = start_background(data_dir, host, port)
        started = True
    secret = read_env_file(env_file).get(KEY_VAR)
    if not secret or not key_is_valid(data_dir, LOCAL_PROJECT, secret):
        creds = create_project(data_dir, LOCAL_PROJECT, "QuixoticWhisper (local)")
        write_env_value(env_file, KEY_VAR, creds.api_key)
    return UpResult(endpoint, LOCAL_PROJECT, env_file, started, log_file)


def down(data_dir: Path, wait: float = 10.0) -> bool:
    """Stop the server that serves ``data_dir``; False when none was running."""
    state = read_server_state(data_dir)
    if not state or not server_alive(str(state["endpoint"])):
        return False
    pid = int(state.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and server_alive(str(state["endpoint"]), 0.3):
        time.sleep(0.1)
    return True
