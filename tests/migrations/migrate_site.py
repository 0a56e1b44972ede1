"""A throwaway copy of this project's files pointed at a fresh project of the test server (through
``support.site.Site``), plus seed data."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from support.server import LocalServer
from support.site import NO_PROTECTION
from support.site import Site as BaseSite

APP = "quixotic_app"


class Site(BaseSite):
    """The one ``support.site.Site`` plus the migration tests' shortcuts for environment ``test``."""

    @property
    def project_id(self) -> str:
        return self.projects["test"].project_id

    @cached_property
    def db(self) -> TablesDB:
        return TablesDB(self.client("test"))

    def write_migration(self, name: str, text: str) -> Path:
        path = self.root / "migrations" / name
        path.write_text(text)
        return path

    def history(self) -> list[dict[str, Any]]:
        return self.target().system.migration_rows()


def make_site(
    root: Path, server: LocalServer, *, protection: dict[str, bool] | None = None, repo_migrations: bool = True
) -> Site:
    """This repository's appwrite.json, templates/ (and migrations/) under ``root``; environment ``test`` on a
    fresh project of ``server``."""
    copied = ["appwrite.json", "templates", *(["migrations"] if repo_migrations else [])]
    site = Site.create(root, server, from_repo=copied, environ={"PYTHONUNBUFFERED": "1"})
    (root / "migrations").mkdir(exist_ok=True)
    site.add_env("test", project_name="Migrations test", protection=protection or NO_PROTECTION)
    return site


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
