"""A real local server process for tests: started on a free port with its own data dir."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appwrite.client import Client

from quixotic.server import admin
from quixotic.server.ids import new_id


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
        c = Client().set_endpoint(self.url).set_project(project_id)
        if key:
            c.set_key(key)
        return c


def free_port() -> int:
    return admin.free_port()


def start_server(data_dir: Path, log_path: Path, **kwargs: Any) -> LocalServer:
    """A server on a free port; its scheduler's clock runs 60x faster, so cron schedules fire within seconds."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "QUIXOTIC_SCHEDULE_SPEEDUP": "60"}
    proc, url = admin.spawn_server(data_dir, log_file=log_path, env=env, **kwargs)
    return LocalServer(url, data_dir, proc, log_path)
