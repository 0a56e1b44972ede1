"""QuixoticWhisper ``cleanup``: delete audio older than CLEANUP_AFTER_HOURS; transcripts stay.

Triggers: its schedule, or HTTP ``POST {"now": "<ISO 8601>"}`` with a server key (``now`` lets tests and
operators run the cleanup as of another time; without it, the current time).

For every file of the ``audio`` bucket created before ``now - CLEANUP_AFTER_HOURS``: delete it, then mark its
transcription (row id = file id) ``audioPurged=true``. A file whose transcription is locked (being transcribed
right now; a lock older than 16 minutes is a dead worker's and does not count) is left for the next run.
Deleting first and marking second means a run cut short leaves at worst a row not yet marked; each run
therefore also marks old unpurged rows whose file is already gone.

Answers ``{"ok": true, "cutoff", "deleted": [fileId...], "marked": n, "skipped": [fileId...]}``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from appwrite.exception import AppwriteException
from appwrite.models.file import File
from appwrite.models.row import Row
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB

from .function_kit import Failure, code_of, env_number, json_body, serve, server_client

DATABASE = "quixotic_app"
TRANSCRIPTIONS = "transcriptions"
BUCKET = "audio"
PAGE = 100
MAX_PER_RUN = 5000  # files (and rows) handled in one run; the next run goes on
STALE_LOCK_SECONDS = 960  # transcribe's lock older than its longest timeout + 60 s belongs to a dead worker


def main(context: Any) -> Any:
    return serve(context, "cleanup", clean)


def clean(context: Any) -> dict[str, Any]:
    now = requested_now(context)
    cutoff = now - timedelta(hours=cleanup_hours())
    client = server_client(context)
    report = Cleanup(Storage(client), TablesDB(client), cutoff).run()
    context.log(
        f"cutoff {report['cutoff']}: deleted {len(report['deleted'])} file(s), marked {report['marked']} row(s)"
    )
    return report


def requested_now(context: Any) -> datetime:
    raw = json_body(context, '{"now": "2030-01-01T00:00:00Z"}').get("now")
    if raw is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise Failure("bad_request", f"now={raw!r} is not an ISO 8601 date and time", 400) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cleanup_hours() -> float:
    return env_number("CLEANUP_AFTER_HOURS", 1, zero_allowed=False)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def busy(row: Row | None) -> bool:
    """Whether transcribe holds the row's lock now."""
    if row is None or not int(row.data.get("locked") or 0):
        return False
    try:
        started = datetime.fromisoformat(str(row.data.get("startedAt") or row.updatedat).replace("Z", "+00:00"))
    except ValueError:
        return True
    return (datetime.now(UTC) - started).total_seconds() < STALE_LOCK_SECONDS


class Cleanup:
    def __init__(self, storage: Storage, tables: TablesDB, cutoff: datetime) -> None:
        self.storage = storage
        self.tables = tables
        self.cutoff = iso(cutoff)
        self.deleted: list[str] = []
        self.skipped: list[str] = []
        self.marked = 0

    def run(self) -> dict[str, Any]:
        for file in self.old_files():
            self.purge(file.id)
        self.mark_orphans()
        return {"ok": True, "cutoff": self.cutoff, "deleted": self.deleted, "marked": self.marked,
                "skipped": self.skipped}  # fmt: skip

    def old_files(self) -> list[File]:
        files: list[File] = []
        cursor: str | None = None
        while len(files) < MAX_PER_RUN:
            queries = [Query.less_than("$createdAt", self.cutoff), Query.order_asc("$createdAt"), Query.limit(PAGE)]
            if cursor:
                queries.append(Query.cursor_after(cursor))
            batch = self.storage.list_files(BUCKET, queries).files
            files.extend(batch)
            if len(batch) < PAGE:
                break
            cursor = batch[-1].id
        return files[:MAX_PER_RUN]

    def row(self, file_id: str) -> Row | None:
        try:
            return self.tables.get_row(DATABASE, TRANSCRIPTIONS, file_id)
        except AppwriteException as exc:
            if code_of(exc) == 404:
                return None
            raise

    def purge(self, file_id: str) -> None:
        row = self.row(file_id)
        if busy(row):
            self.skipped.append(file_id)  # being transcribed right now
            return
        try:
            self.storage.delete_file(BUCKET, file_id)
        except AppwriteException as exc:
            if code_of(exc) != 404:
                raise
        self.deleted.append(file_id)
        if row is not None and not row.data.get("audioPurged"):
            self.mark(file_id)

    def mark(self, file_id: str) -> None:
        try:
            self.tables.update_row(DATABASE, TRANSCRIPTIONS, file_id, {"audioPurged": True})
            self.marked += 1
        except AppwriteException as exc:
            if code_of(exc) != 404:
                raise

    def mark_orphans(self) -> None:
        """Old rows not marked yet whose file is gone (a run cut short between delete and mark)."""
        cursor: str | None = None
        seen = 0
        while seen < MAX_PER_RUN:
            queries = [
                Query.equal("audioPurged", [False]),
                Query.less_than("$createdAt", self.cutoff),
                Query.order_asc("$createdAt"),
                Query.limit(PAGE),
            ]
            if cursor:
                queries.append(Query.cursor_after(cursor))
            rows = self.tables.list_rows(DATABASE, TRANSCRIPTIONS, queries).rows
            for row in rows:
                if busy(row):
                    continue
                try:
                    self.storage.get_file(BUCKET, row.id)
                except AppwriteException as exc:
                    if code_of(exc) != 404:
                        raise
                    self.mark(row.id)
            seen += len(rows)
            if len(rows) < PAGE:
                return
            cursor = rows[-1].id
