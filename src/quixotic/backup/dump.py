"""Reading a live project into an archive, part by part (the format is in quixotic.backup.archive).

Rows stream page by page into their part (the next page is fetched while this one is written); files
are downloaded by a few threads at once and written in listing order. Nothing here decides where the
archive goes or when it counts as done: :class:`quixotic.backup.archive.ArchiveWriter` does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from quixotic.backup.anonymize import Anonymizer
from quixotic.backup.archive import ArchiveWriter, json_line
from quixotic.backup.live import (
    FileGone,
    download_file,
    files_of,
    history_tables,
    prefetch,
    row_count,
    row_pages,
    users_of,
)
from quixotic.backup.progress import FilesBar, Progress, Step
from quixotic.backup.schema import PART as SCHEMA_PART
from quixotic.backup.schema import schema_json, schema_problems
from quixotic.backup.secrets import Sealer
from quixotic.config import Environment
from quixotic.config.resources import Table
from quixotic.deploy.desired import secret_value
from quixotic.errors import BackupError, UsageError
from quixotic.plan.state import PROJECT_SCOPE, ProjectState
from quixotic.sdk.backend import AppwriteBackend
from quixotic.sdk.boundary import call
from quixotic.sdk.raw import ListPage

PARTS: Final = ("schema", "rows", "files", "users", "functions", "variables", "history")
DOWNLOAD_THREADS: Final = 4
DOWNLOAD_AHEAD: Final = 8
COUNTS: Final = (
    "databases", "tables", "rows", "buckets", "files", "fileBytes", "users", "functions", "variables", "secrets",
    "history",
)  # fmt: skip


@dataclass(frozen=True)
class DumpOptions:
    parts: frozenset[str] = frozenset(PARTS)
    include_secrets: bool = False
    passphrase: str | None = None
    sample: int | None = None  # at most this many rows per table and files per bucket
    anonymizer: Anonymizer | None = None


@dataclass
class DumpResult:
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    encryption: dict[str, Any] | None = None


@dataclass(eq=False)
class Dumper:
    """Reads one project part by part into one archive writer, counting and collecting warnings."""

    backend: AppwriteBackend
    env: Environment
    secret_hashes: dict[tuple[str, str], str]
    writer: ArchiveWriter
    options: DumpOptions
    progress: Progress
    fingerprint: Callable[[str], str] = field(kw_only=True)  # the target's keyed secret fingerprint
    result: DumpResult = field(init=False, default_factory=lambda: DumpResult(counts=dict.fromkeys(COUNTS, 0)))

    def run(self) -> DumpResult:
        state = self.backend.read_state(with_code=False)
        parts = self.options.parts
        if "schema" in parts:
            self.schema(state)
        if "rows" in parts:
            self.rows(state)
        if "files" in parts:
            self.files(state)
        if "users" in parts:
            self.users()
        if "functions" in parts:
            self.functions()
        if "variables" in parts:
            self.variables(state)
        if "history" in parts:
            self.history()
        return self.result

    def _count(self, key: str, n: int = 1) -> None:
        self.result.counts[key] += n

    # --- schema and rows ----------------------------------------------------------------------

    def schema(self, state: ProjectState) -> None:
        data = schema_json(state, self.env.project_name)
        for problem in schema_problems(data):
            self.result.warnings.append(f"schema: {problem} (restore will refuse this schema)")
        self.writer.write_json(SCHEMA_PART, data)
        self._count("databases", len(state.databases))
        self._count("tables", len(state.tables))
        self._count("buckets", len(state.buckets))

    def rows(self, state: ProjectState) -> None:
        anonymizer = self.options.anonymizer
        for table in state.tables:
            key = f"rows {table.database_id}/{table.id}"
            counted = row_count(self.backend, table.database_id, table.id)
            total = None if counted >= 5000 and self.options.sample is None else counted
            if self.options.sample is not None:
                total = min(counted, self.options.sample)
            done = 0
            self.progress(Step(key, key, 0, total, "rows"))
            with self.writer.part(f"rows/{table.database_id}/{table.id}.ndjson") as out:
                pages = row_pages(self.backend, table.database_id, table.id, limit=self.options.sample)
                for count, lines in _encoded(prefetch(pages), table, anonymizer):
                    out.write_block(lines, count)
                    done += count
                    self.progress(Step(key, key, done, total, "rows"))
            self.progress(Step(key, key, done, done, "rows"))
            self._count("rows", done)

    # --- files --------------------------------------------------------------------------------

    def files(self, state: ProjectState) -> None:
        with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="quixotic-download") as pool:
            for bucket in state.buckets:
                self._bucket(pool, bucket.id)

    def _bucket(self, pool: ThreadPoolExecutor, bucket_id: str) -> None:
        listed = []
        for meta in files_of(self.backend, bucket_id):
            if meta.get("chunksUploaded") != meta.get("chunksTotal"):
                self.result.warnings.append(f"file {bucket_id}/{meta['$id']} is still being uploaded; left out")
                continue
            listed.append(dict(meta))
            if self.options.sample is not None and len(listed) >= self.options.sample:
                break
        bar = FilesBar(self.progress, bucket_id, listed)
        kept: list[dict[str, Any]] = []
        for meta, future in _ahead(pool, self.backend, bucket_id, listed):
            try:
                data, actual, sha256 = future.result()
            except FileGone as gone:
                self.result.warnings.append(str(gone))
                continue
            self.writer.write_bytes(f"files/{bucket_id}/{actual['$id']}", data, sha256=sha256)
            kept.append(actual)
            self._count("files")
            self._count("fileBytes", len(data))
            bar.advance(meta)
        with self.writer.part(f"files/{bucket_id}.ndjson") as out:
            for meta in kept:
                out.write_line(meta)

    # --- users, functions, variables, history -------------------------------------------------

    def users(self) -> None:
        anonymizer = self.options.anonymizer
        with self.writer.part("users.ndjson") as out:
            for user in users_of(self.backend):
                out.write_line(anonymizer.user(user) if anonymizer else user)
                self._count("users")
        self.progress(Step("users", "users", self.result.counts["users"], self.result.counts["users"], "users"))

    def functions(self) -> None:
        functions = self.backend.functions
        records = []
        for model in self.backend.pages("listing functions", lambda q: dict(functions.list(q)), "functions"):
            function_id = str(model["$id"])
            deployment = str(model.get("deploymentId") or "") or None
            record: dict[str, Any] = {"function": model, "deploymentId": deployment, "source": None, "sha256": None}
            if deployment:
                code = call(f"downloading the code of {function_id}", functions.get_deployment_download, function_id,
                            deployment)  # fmt: skip
                if not isinstance(code, bytes | bytearray):
                    raise BackupError(f"function {function_id}: the server did not return the code of {deployment}")
                name = f"functions/{function_id}.tar.gz"
                self.writer.write_bytes(name, bytes(code))
                record.update({"source": name, "sha256": hashlib.sha256(code).hexdigest()})
            records.append(record)
            self._count("functions")
            self.progress(Step("functions", "functions", len(records), None, "functions"))
        self.writer.write_json("functions.json", records)

    def variables(self, state: ProjectState) -> None:
        sealer = None
        if self.options.include_secrets:
            if not self.options.passphrase:
                raise UsageError("including secret values needs a passphrase to seal them with")
            sealer = Sealer.new(self.options.passphrase)
            self.result.encryption = sealer.settings()
        records: list[dict[str, Any]] = []
        scopes: list[tuple[str, list[dict[str, Any]]]] = [
            (f.spec.id, self.backend.function_variables(f.spec.id)) for f in state.functions
        ]
        project = self.backend.project_variables()
        if project is None:
            self.result.warnings.append(
                "project variables: this key or server cannot read them (projects.read); they are not in the archive"
            )
        else:
            scopes.append((PROJECT_SCOPE, project))
        for scope, variables in scopes:
            for v in variables:
                key, secret = str(v["key"]), bool(v.get("secret"))
                record: dict[str, Any] = {"scope": scope, "key": key, "secret": secret}
                if not secret:
                    record["value"] = str(v.get("value") or "")
                elif sealer is not None:
                    value = self._known_secret(scope, key)
                    if value is None:
                        self.result.warnings.append(
                            f"secret {scope}/{key}: its live value is not known to quixotic (Appwrite never returns "
                            f"secret values; it was not set from {self.env.name}'s configuration by quixotic); left out"
                        )
                    else:
                        record["sealed"] = sealer.seal(value, f"{scope}/{key}")
                        self._count("secrets")
                records.append(record)
                self._count("variables")
        self.writer.write_json("variables.json", records)

    def _known_secret(self, scope: str, key: str) -> str | None:
        """The secret's value from the environment's configuration, when quixotic set that very value."""
        value = secret_value(self.env, scope, key)
        recorded = self.secret_hashes.get((scope, key))
        if value is None or recorded is None or self.fingerprint(value) != recorded:
            return None
        return value

    def history(self) -> None:
        system = self.backend.system_database
        for table in history_tables(self.backend):
            with self.writer.part(f"history/{table}.ndjson") as out:
                for page in row_pages(self.backend, system, table):
                    for row in page.items:
                        out.write_line(row)
                        self._count("history")


def _encoded(pages: Iterator[ListPage], table: Table, anonymizer: Anonymizer | None) -> Iterator[tuple[int, bytes]]:
    """Pages of rows as NDJSON: the server's own text of each row, cut by the fetching thread
    (:func:`prefetch`) while this one writes; encoded here only where rows change (anonymized) or the
    server's text spans lines."""
    for page in pages:
        if anonymizer is None and page.lines is not None:
            yield len(page.items), page.lines
            continue
        rows = [anonymizer.row(table, row) for row in page.items] if anonymizer else page.items
        yield len(rows), b"".join(json_line(row) for row in rows)


Fetched = tuple[bytes, dict[str, Any], str]


def _fetch(backend: AppwriteBackend, bucket_id: str, meta: dict[str, Any]) -> Fetched:
    """A file's checked bytes, its matching metadata and its SHA-256 (hashed here, in a download thread)."""
    data, actual = download_file(backend, bucket_id, meta)
    return data, actual, hashlib.sha256(data).hexdigest()


def _ahead(
    pool: ThreadPoolExecutor, backend: AppwriteBackend, bucket_id: str, metas: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], Future[Fetched]]]:
    """Downloads started up to ``DOWNLOAD_AHEAD`` files ahead, handed out in listing order."""
    window: list[tuple[dict[str, Any], Future[Fetched]]] = []
    pending = iter(metas)
    for meta in pending:
        window.append((meta, pool.submit(_fetch, backend, bucket_id, meta)))
        if len(window) >= DOWNLOAD_AHEAD:
            break
    while window:
        head = window.pop(0)
        nxt = next(pending, None)
        if nxt is not None:
            window.append((nxt, pool.submit(_fetch, backend, bucket_id, nxt)))
        yield head
