"""Writing an archive's data into a project: rows, files, users and the tool's history, every step repeatable.

Rows are bulk creates into a table without rows, else bulk upserts (:class:`RowWrites`), keeping ``$id``,
``$permissions``, ``$createdAt`` and ``$updatedAt`` (two batches in flight); files keep their ids, are
skipped when the live copy has the same size and MD5 and are checked by MD5 after upload; users are
recreated from their password hashes. Writes that the server drops (restarted, unreachable) are tried
again for a minute. In ``replace`` mode what the archive lacks goes. While data is written, functions
that react to events or schedules are disabled, so restored rows and files do not trigger them; their
settings are put back afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from quixotic.backup.archive import ArchiveReader
from quixotic.backup.archive_state import ArchiveDesired
from quixotic.backup.live import HISTORY_SKIPPED, files_of, retrying, row_pages, users_of
from quixotic.backup.progress import FilesBar, Progress, Step
from quixotic.backup.users import restore_user
from quixotic.deploy.applier import Applier
from quixotic.errors import ApiError, BackupError, Conflict, NotFound, Unreachable
from quixotic.plan.state import ProjectState
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.raw import reply_total
from quixotic.sdk.values import InputFile, Query
from quixotic.target import Target

PLAN_KINDS: Final[dict[str, frozenset[str]]] = {
    "schema": frozenset({"database", "table", "column", "index", "bucket"}),
    "functions": frozenset({"function", "deployment"}),
    "variables": frozenset({"variable"}),
}
# Where a row lived, not what it holds: dropped; $id, $permissions, $createdAt and $updatedAt are written.
ROW_PLACE: Final = ("$sequence", "$tableId", "$databaseId", "$collectionId")
ROW_BATCH: Final = 1000
ROW_BATCH_BYTES: Final = 4_000_000
ROW_WRITERS: Final = 2
UPLOAD_THREADS: Final = 4
UPLOAD_AHEAD: Final = 8
APPEND_ONLY_HISTORY: Final = frozenset({"releases"})
RETRY_SECONDS: Final = 60.0  # how long an idempotent write is tried again while the server is away


@dataclass
class RestoreReport:
    release_id: str | None = None
    mode: str = ""
    resumed: bool = False
    parts: tuple[str, ...] = ()
    changes: int = 0
    rows: int = 0
    rows_deleted: int = 0
    files_uploaded: int = 0
    files_kept: int = 0
    files_deleted: int = 0
    bytes_uploaded: int = 0
    users: dict[str, int] = field(default_factory=dict)
    history: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


class Restorer:
    """Applies one archive to one project; every step may run again."""

    def __init__(
        self,
        reader: ArchiveReader,
        target: Target,
        built: ArchiveDesired,
        live: ProjectState,
        report: RestoreReport,
        progress: Progress,
    ) -> None:
        self.reader = reader
        self.target = target
        self.backend = target.backend
        self.built = built
        self.live = live
        self.report = report
        self.progress = progress
        self.replace = report.mode == "replace"

    def redact(self, text: str) -> str:
        for value in self.built.desired.secrets.values():
            if value:
                text = text.replace(value, "********")
        return text

    def run(self, applier: Applier) -> None:
        """The plan's schema changes, then the data (functions quiet meanwhile), then functions and variables,
        then the builds. Functions paused for the data are woken whatever happens."""
        parts = set(self.report.parts)
        before = applier.applied
        applier.apply_all(PLAN_KINDS["schema"])
        quiet = self._quiet_functions() if parts & {"rows", "files", "users"} else []
        updated: set[str] = set()
        try:
            if "rows" in parts:
                self.rows()
            if "files" in parts:
                self.files()
            if "users" in parts:
                self.users()
            updated = applier.apply_all(PLAN_KINDS["functions"])  # uploads; builds run meanwhile
        finally:
            self._wake_functions(quiet, updated)
        applier.apply_all(PLAN_KINDS["variables"])
        self.report.changes += applier.applied - before
        applier.finish()  # a build that fails fails the restore, after everything else is in place

    # --- functions quiet while data is written ------------------------------------------------

    def _quiet_functions(self) -> list[str]:
        quiet = []
        for fn in self.live.functions:
            spec = fn.spec
            if spec.enabled and (spec.events or spec.schedule):
                settings = {**self.backend.function_settings(spec), "enabled": False}
                call(f"pausing function {spec.id}", self.backend.functions.update, spec.id, **settings)
                quiet.append(spec.id)
        return quiet

    def _wake_functions(self, quiet: list[str], updated: set[str]) -> None:
        by_id = {f.spec.id: f.spec for f in self.live.functions}
        for function_id in quiet:
            if f"function:{function_id}" in updated:
                continue  # the plan set its settings (enabled included) from the archive
            settings = self.backend.function_settings(by_id[function_id])
            try:
                call(f"re-enabling function {function_id}", self.backend.functions.update, function_id, **settings)
            except NotFound:
                pass

    # --- rows ---------------------------------------------------------------------------------

    def rows(self) -> None:
        existing = {(t.database_id, t.id) for t in self.live.tables}
        for name in self.reader.names("rows/"):
            database_id, table_file = name[len("rows/") :].split("/", 1)
            table_id = table_file.removesuffix(".ndjson")
            key = f"rows {database_id}/{table_id}"
            total = self.reader.parts[name].items or 0
            seen: set[str] = set()
            done = 0
            self.progress(Step(key, key, 0, total, "rows"))
            # Into a table with no rows (made by this restore, or empty when it began) rows are created: the
            # server skips looking up each one, as an upsert must. A row that is there after all (written
            # meanwhile, or by this very batch sent again after the server went away) turns the batch and
            # every later one of the table into upserts.
            rows = RowWrites(self.backend, database_id, table_id)
            rows.create = (database_id, table_id) not in existing or not self._has_rows(database_id, table_id)

            # Two batches in flight: one is encoded and sent while the server writes the other.
            with ThreadPoolExecutor(ROW_WRITERS, thread_name_prefix="quixotic-rows") as pool:
                window: list[Future[int]] = []
                for batch in self._row_batches(name, seen):
                    window.append(pool.submit(rows.write, batch))
                    while len(window) >= ROW_WRITERS:
                        done += window.pop(0).result()
                        self.progress(Step(key, key, done, total, "rows"))
                for future in window:
                    done += future.result()
            self.progress(Step(key, key, done, total, "rows"))
            self.report.rows += done
            if self.replace:
                self.report.rows_deleted += self._delete_other_rows(database_id, table_id, seen)

    def _has_rows(self, database_id: str, table_id: str) -> bool:
        doing = f"reading rows of {database_id}/{table_id}"
        queries = [Query.limit(1), Query.select(["$id"])]
        return bool(retrying(doing, lambda: self.backend.row_page(doing, database_id, table_id, queries)).items)

    def _row_batches(self, name: str, seen: set[str]) -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        size = 0
        with self.reader.open(name) as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                    seen.add(str(row["$id"]))
                except (ValueError, KeyError, TypeError) as exc:
                    raise BackupError(f"part {name}: a line is not a row ({exc}); nothing more was written") from exc
                for key in ROW_PLACE:
                    row.pop(key, None)
                batch.append(row)
                size += len(line)
                if len(batch) >= ROW_BATCH or size >= ROW_BATCH_BYTES:
                    yield batch
                    batch, size = [], 0
        if batch:
            yield batch

    def _delete_other_rows(self, database_id: str, table_id: str, keep: set[str]) -> int:
        pages = row_pages(self.backend, database_id, table_id, select=["$id"])
        extra = [str(r["$id"]) for page in pages for r in page.items if str(r["$id"]) not in keep]
        for start in range(0, len(extra), 100):
            chunk = extra[start : start + 100]
            retrying(
                f"deleting rows of {database_id}/{table_id} that the archive lacks",
                lambda c=chunk: self.backend.db.delete_rows(database_id, table_id, [Query.equal("$id", c)]),  # type: ignore[misc]
            )
        return len(extra)

    # --- files --------------------------------------------------------------------------------

    def files(self) -> None:
        with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="quixotic-upload") as pool:
            for name in self.reader.names("files/"):
                if name.endswith(".ndjson") and name.count("/") == 1:
                    self._bucket(pool, name[len("files/") : -len(".ndjson")], name)

    def _bucket(self, pool: ThreadPoolExecutor, bucket_id: str, meta_part: str) -> None:
        live = {str(m["$id"]): dict(m) for m in files_of(self.backend, bucket_id)}
        metas = list(self.reader.iter_ndjson(meta_part))
        bar = FilesBar(self.progress, bucket_id, metas)
        window: list[Future[int]] = []
        for meta in metas:
            file_id = str(meta["$id"])
            have = live.get(file_id)
            if have is not None and _same_bytes(have, meta):
                if have.get("name") != meta.get("name") or sorted(have.get("$permissions") or []) != sorted(
                    meta.get("$permissions") or []
                ):
                    call(
                        f"updating file {bucket_id}/{file_id}",
                        lambda i=file_id, m=meta: self.backend.storage.update_file(  # type: ignore[misc]
                            bucket_id, i, m.get("name"), list(m.get("$permissions") or [])
                        ),
                    )
                self.report.files_kept += 1
            else:
                data = self.reader.read_bytes(f"files/{bucket_id}/{file_id}")
                window.append(pool.submit(self._upload, bucket_id, meta, data, have is not None))
            while len(window) >= UPLOAD_AHEAD:
                self._uploaded(window.pop(0))
            bar.advance(meta)
        for future in window:
            self._uploaded(future)
        if self.replace:
            archived = {str(m["$id"]) for m in metas}
            for file_id in sorted(set(live) - archived):
                self._delete_file(bucket_id, file_id)
                self.report.files_deleted += 1

    def _uploaded(self, future: Future[int]) -> None:
        self.report.bytes_uploaded += future.result()
        self.report.files_uploaded += 1

    def _upload(self, bucket_id: str, meta: dict[str, Any], data: bytes, exists: bool) -> int:
        """Upload one file under its id (a partial or different live copy is removed first); checked by MD5.

        An upload cut by the server (restarted, unreachable) starts again from a clean slate for up to a
        minute; a server that stores other bytes than were sent is an error at once.
        """
        file_id = str(meta["$id"])
        deadline = time.monotonic() + RETRY_SECONDS
        attempt = 0
        while True:
            attempt += 1
            if exists or attempt > 1:
                self._delete_file(bucket_id, file_id)
            try:
                result = call(
                    f"uploading file {bucket_id}/{file_id}",
                    self.backend.storage.create_file,
                    bucket_id,
                    file_id,
                    InputFile.from_bytes(data, str(meta.get("name") or file_id)),
                    list(meta.get("$permissions") or []),
                )
            except ApiError as exc:
                if (isinstance(exc, Unreachable) or exc.code >= 500) and time.monotonic() < deadline:
                    time.sleep(min(0.2 * 2**attempt, 3.0))
                    continue
                raise
            signature = meta.get("signature")
            # SDK 22+ sends a large file's chunks side by side and may hand back the answer to a chunk that
            # did not finish the file (no signature yet): the file's own metadata says then.
            stored = result.get("signature") or self._stored_signature(bucket_id, file_id) if signature else None
            if signature and stored != signature:
                raise BackupError(
                    f"file {bucket_id}/{file_id}: the server's MD5 of the upload ({stored}) is not "
                    f"the archive's ({signature})"
                )
            return len(data)

    def _stored_signature(self, bucket_id: str, file_id: str) -> str:
        found = call(f"reading file {bucket_id}/{file_id}", self.backend.storage.get_file, bucket_id, file_id)
        return str(found.get("signature") or "")

    def _delete_file(self, bucket_id: str, file_id: str) -> None:
        try:
            retrying(
                f"deleting file {bucket_id}/{file_id}", lambda: self.backend.storage.delete_file(bucket_id, file_id)
            )
        except NotFound:
            pass

    # --- users --------------------------------------------------------------------------------

    def users(self) -> None:
        if not self.reader.has("users.ndjson"):
            return
        service = self.backend.users
        archived: set[str] = set()
        counts: dict[str, int] = {}
        total = self.reader.parts["users.ndjson"].items or 0
        with ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="quixotic-users") as pool:
            window: list[Future[str]] = []
            for user in self.reader.iter_ndjson("users.ndjson"):
                archived.add(str(user["$id"]))
                window.append(pool.submit(restore_user, service, user))
                while len(window) >= UPLOAD_AHEAD:
                    action = window.pop(0).result()
                    counts[action] = counts.get(action, 0) + 1
                    self.progress(Step("users", "users", sum(counts.values()), total, "users"))
            for future in window:
                action = future.result()
                counts[action] = counts.get(action, 0) + 1
        if self.replace:
            for user in list(users_of(self.backend)):
                if str(user["$id"]) not in archived:
                    call(f"deleting user {user['$id']}", service.delete, str(user["$id"]))
                    counts["deleted"] = counts.get("deleted", 0) + 1
        self.progress(Step("users", "users", total, total, "users"))
        self.report.users = counts

    # --- history ------------------------------------------------------------------------------

    def history(self) -> None:
        """The tool's records: migrations always (they describe the restored schema); releases only into the
        environment they were made in (elsewhere they would describe, and roll back, another environment)."""
        names = self.reader.names("history/")
        if not names:
            return
        source_env = (self.reader.manifest.get("source") or {}).get("environment")
        tool = self.target.system
        tool.ensure()
        system = self.backend.system_database
        columns = {
            str(t["$id"]): {str(c["key"]) for c in t.get("columns") or []} for t in self.backend.tables_of(system)
        }
        for name in names:
            table = name[len("history/") : -len(".ndjson")]
            if table in HISTORY_SKIPPED:
                continue
            if table in APPEND_ONLY_HISTORY and source_env != self.target.env.name:
                self.report.warnings.append(
                    f"history {table}: the archive's come from environment {source_env}, not restored into "
                    f"{self.target.env.name}"
                )
                continue
            if table not in columns:
                self.report.warnings.append(f"history {table}: this quixotic has no such table; not restored")
                continue
            keep = columns[table] | {"$id", "$permissions"}
            rows = [{k: v for k, v in r.items() if k in keep} for r in self.reader.iter_ndjson(name)]
            for start in range(0, len(rows), 100):
                chunk = rows[start : start + 100]
                retrying(
                    f"restoring history {table}",
                    lambda c=chunk, t=table: self.backend.db.upsert_rows(system, t, c),  # type: ignore[misc]
                )
            self.report.history += len(rows)
            if self.replace and table not in APPEND_ONLY_HISTORY:
                self._delete_other_rows(system, table, {str(r["$id"]) for r in rows})


def _same_bytes(live: dict[str, Any], archived: dict[str, Any]) -> bool:
    return (
        live.get("chunksUploaded") == live.get("chunksTotal")
        and live.get("sizeOriginal") == archived.get("sizeOriginal")
        and bool(archived.get("signature"))
        and live.get("signature") == archived.get("signature")
    )


class RowWrites:
    """Bulk writes of one table's rows, created while none of them exists yet, else upserted (both keep
    ``$id``, ``$permissions``, ``$createdAt`` and ``$updatedAt``).

    The answers echo every row: only their status and count are read (parsing them cost as much as the
    writing, and on SDK 17+ built a model of each row). Every write may be sent again (the server went away
    meanwhile): a create that finds its rows there already is a conflict, and the batch is upserted instead.
    """

    def __init__(self, backend: AppwriteBackend, database_id: str, table_id: str) -> None:
        self.backend = backend
        self.database_id = database_id
        self.table_id = table_id
        self.create = False
        self._doing = f"writing rows of {database_id}/{table_id}"

    def write(self, batch: list[dict[str, Any]]) -> int:
        """Write ``batch``; the rows sent (the server's count leaves out rows an upsert did not change)."""
        if self.create:
            try:
                retrying(self._doing, lambda: self._create(batch))
                return len(batch)
            except Conflict:
                self.create = False
        retrying(self._doing, lambda: self.backend.upsert_rows(self.database_id, self.table_id, batch))
        return len(batch)

    def _create(self, batch: list[dict[str, Any]]) -> int:
        path = f"/tablesdb/{self.database_id}/tables/{self.table_id}/rows"
        headers = {"content-type": "application/json", "accept": "application/json",
                   "x-appwrite-project": self.backend.project_id}  # fmt: skip
        raw = self.backend.client.call_unparsed("post", path, headers, {"rows": batch})
        try:
            total = reply_total(raw)
        except ValueError as exc:
            raise ApiError(
                "general_server_error", f"the server's answer to a bulk create is wrong: {exc}", 500
            ) from None
        if total != len(batch):
            raise ApiError("general_server_error", f"the server says it created {total} of the {len(batch)} rows", 500)
        return total
