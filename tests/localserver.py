"""A real local server process for tests: started on a free port with its own data dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
    # The scheduler's clock runs 60x faster here, so cron schedules fire within seconds in tests.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "QUIXOTIC_SCHEDULE_SPEEDUP": "60"}
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
