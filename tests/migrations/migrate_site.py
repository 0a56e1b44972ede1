"""A throwaway copy of this project's files pointed at a fresh project of the test server, plus seed data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from support.server import LocalServer

from quixotic.target import Target, connect

REPO = Path(__file__).resolve().parents[2]
APP = "quixotic_app"
NO_PROTECTION = {"requireConfirmation": False, "refuseDestructive": False, "backupBeforeMigrations": False}


@dataclass
class Site:
    root: Path
    environ: dict[str, str]
    project_id: str
    db: TablesDB

    def target(self) -> Target:
        return connect(self.root, "test", self.environ)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "quixotic.cli", "migrate", *args, "--root", str(self.root)]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True, env=self.environ, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args), env=self.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip

    def write_migration(self, name: str, text: str) -> Path:
        path = self.root / "migrations" / name
        path.write_text(text)
        return path

    def history(self) -> list[dict[str, Any]]:
        return self.target().system.migration_rows()


def make_site(
    server: LocalServer, root: Path, *, protection: dict[str, bool] | None = None, repo_migrations: bool = True
) -> Site:
    creds = server.new_project()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "appwrite.json", root / "appwrite.json")
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "environments").mkdir()
    env_file = {
        "projectId": creds.project_id,
        "projectName": "Migrations test",
        "endpoint": "http://127.0.0.1:1/v1",
        "protection": protection or NO_PROTECTION,
    }
    (root / "environments" / "test.json").write_text(json.dumps(env_file))
    if repo_migrations:
        shutil.copytree(REPO / "migrations", root / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    else:
        (root / "migrations").mkdir()
    environ = {
        **os.environ,
        "QUIXOTIC_TEST_ENDPOINT": server.url,
        "QUIXOTIC_TEST_API_KEY": creds.api_key,
        "PYTHONUNBUFFERED": "1",
    }
    return Site(root, environ, creds.project_id, TablesDB(server.client(creds.project_id, creds.api_key)))


WORDS = ["whisper", "quixotic", "audio", "café", "naïve", "—", "transcription", "ok"]


def transcription(i: int) -> dict[str, Any]:
    """A deterministic transcription row; every 7th is still queued (no text), some texts are empty or odd."""
    queued = i % 7 == 0
    text = None if queued else " ".join(WORDS[(i + k) % len(WORDS)] for k in range(i % 13))
    if i % 11 == 0 and not queued:
        text = "  spaced\tout\n\nlines  "
    return {
        "$id": f"t{i:06d}",
        "userId": f"u{i % 50:04d}",
        "fileId": f"f{i:06d}",
        "status": "queued" if queued else "completed",
        "text": text,
        "language": None if queued else "en",
        "durationSeconds": None if queued else float(i % 300),
    }


def seed(db: TablesDB, count: int, table: str = "transcriptions") -> None:
    for start in range(0, count, 1000):
        db.create_rows(APP, table, [transcription(i) for i in range(start, min(start + 1000, count))])


def rows(db: TablesDB, table: str = "transcriptions") -> dict[str, dict[str, Any]]:
    """Every row by id, without fields that change on any write ($updatedAt) or say where it lives."""
    out: dict[str, dict[str, Any]] = {}
    after = 0
    while True:
        queries = [Query.order_asc("$sequence"), Query.limit(5000)]
        if after:
            queries.append(Query.greater_than("$sequence", after))
        page = db.list_rows(APP, table, queries, total=False)["rows"]
        for row in page:
            out[row["$id"]] = {k: v for k, v in row.items() if k not in ("$updatedAt", "$databaseId", "$tableId")}
        if len(page) < 5000:
            return out
        after = int(page[-1]["$sequence"])


def wait_for(predicate: Any, timeout: float = 30.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")
