"""Benchmark of backup and restore against bare keep-alive HTTP doing the same reads and writes, in the same run.

    .venv/bin/python bench/backup_bench.py [--rows 100000] [--files 50] [--file-mb 10] [--page 5000] [--check]

Starts a real server process (its per-file limit raised with ``--storage-limit`` when files are large),
fills a source project with ROWS rows (one table) and FILES random files of FILE_MB each, then times:

- the baselines: bulk creates of 1,000 rows (the most a request may carry) over one keep-alive
  ``requests.Session`` with no SDK: the seeding itself, and the same rows again into an empty project with
  the fields a restore writes too (``$createdAt``, ``$updatedAt``, ``$permissions``: the floor restore is
  held to, as the server normalises and stores them for either); cursor reads
  of every row, 1,000 and PAGE a page, the same way (the floor backup is held to, the faster of the
  two); plain SDK file uploads and downloads, one after another;
- ``backup`` of the rows only and of the files only (each writes an archive and reads it back), and of
  everything;
- ``restore`` of the rows archive into an empty project, then of the files archive (each checks its
  archive first), ``diff-data`` to prove the two projects hold the same data, and ``restore`` of the
  whole archive into another empty project.

Rates are rows/s and MB/s (1 MB = 1,000,000 bytes). The two ratios of issue 16 (backup and restore rows/s
at least 0.9x of the bare reads and writes) are printed last; ``--check`` exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from appwrite.input_file import InputFile
from appwrite.query import Query
from rich.console import Console
from rich.table import Table

from quixotic.backup.archive import check_archive
from quixotic.commands import backup as cmd
from quixotic.commands import deploy as deploy_cmd
from quixotic.server import admin
from quixotic.target import Target, connect

T = TypeVar("T")
MB = 1_000_000
BULK = 1000  # rows per bulk create: Appwrite's (and the local server's) most per request
# What a restore sends beside a row's columns (the archive's own values; these are the seeding's).
STAMP = "2026-12-01T10:00:00.000+00:00"
RESTORED: dict[str, Any] = {"$createdAt": STAMP, "$updatedAt": STAMP, "$permissions": []}
TARGET = 0.9  # issue 16: backup and restore rows/s at least 0.9x of bare paginated reads / bulk writes
console = Console()


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def write_site(root: Path, projects: dict[str, str], max_file: int) -> None:
    app = {
        "projectId": "bench",
        "projectName": "Backup bench",
        "tablesDB": [{"$id": "bench", "name": "Bench", "enabled": True}],
        "tables": [
            {
                "$id": "clips",
                "$permissions": [],
                "databaseId": "bench",
                "name": "Clips",
                "enabled": True,
                "rowSecurity": False,
                "columns": [
                    {"key": "title", "type": "varchar", "size": 200, "required": True, "array": False},
                    {"key": "seconds", "type": "integer", "required": False, "array": False},
                    {"key": "score", "type": "double", "required": False, "array": False},
                    {"key": "done", "type": "boolean", "required": False, "array": False},
                    {"key": "tags", "type": "varchar", "size": 20, "required": False, "array": True},
                ],
                "indexes": [],
            }
        ],
        "buckets": [
            {
                "$id": "audio",
                "$permissions": [],
                "fileSecurity": False,
                "name": "Audio",
                "enabled": True,
                "maximumFileSize": max_file,
                "allowedFileExtensions": [],
                "compression": "none",
                "encryption": False,
                "antivirus": False,
            }
        ],
        "functions": [],
    }
    (root / "environments").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "appwrite.json").write_text(json.dumps(app))
    (root / "templates" / "shared-variables.json").write_text(json.dumps({"variables": []}))
    for env, project_id in projects.items():
        body = {"projectId": project_id, "projectName": env, "endpoint": "http://127.0.0.1:1/v1"}
        (root / "environments" / f"{env}.json").write_text(json.dumps(body))


def row(i: int) -> dict[str, Any]:
    return {"$id": f"r{i:07d}", "title": f"clip number {i}", "seconds": i % 600, "score": i / 7, "done": i % 2 == 0,
            "tags": ["a", "b"] if i % 3 else []}  # fmt: skip


class Bare:
    """The floor: plain HTTP over one keep-alive ``requests.Session``, no SDK, no toolkit, no archive."""

    def __init__(self, url: str, project: str, key: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"x-appwrite-project": project, "x-appwrite-key": key,
                                     "x-appwrite-response-format": "1.8.0"})  # fmt: skip
        self.rows_url = f"{url}/tablesdb/bench/tables/clips/rows"

    def write_rows(self, rows: int, batch: int = BULK, *, as_restored: bool = False) -> None:
        """Bulk creates of ``batch`` rows, one after another; ``as_restored``: with the fields a restore sends
        (the restore's floor)."""
        for start in range(0, rows, batch):
            items = [row(i) for i in range(start, min(rows, start + batch))]
            if as_restored:
                items = [{**item, **RESTORED} for item in items]
            body = {"rows": items}
            self.session.post(self.rows_url, json=body).raise_for_status()

    def read_rows(self, page: int) -> int:
        """Every row in cursor pages of ``page`` (the backup's floor)."""
        seen, cursor = 0, None
        while True:
            queries = [Query.limit(page)] + ([Query.cursor_after(cursor)] if cursor else [])
            answer = self.session.get(self.rows_url, params={f"queries[{n}]": q for n, q in enumerate(queries)})
            answer.raise_for_status()
            found = answer.json()["rows"]
            seen += len(found)
            if len(found) < page:
                return seen
            cursor = found[-1]["$id"]


def seed_files(target: Target, count: int, size: int) -> None:
    for n in range(count):
        data = os.urandom(size)
        target.backend.storage.create_file("audio", f"f{n:04d}", InputFile.from_bytes(data, f"clip-{n}.bin"))


def bare_read_files(target: Target) -> int:
    total, cursor = 0, None
    storage = target.backend.storage
    while True:
        queries = [Query.limit(100)] + ([Query.cursor_after(cursor)] if cursor else [])
        files = storage.list_files("audio", queries)["files"]
        for meta in files:
            total += len(storage.get_file_download("audio", meta["$id"]))
        if len(files) < 100:
            return total
        cursor = files[-1]["$id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--file-mb", type=float, default=10.0)
    parser.add_argument("--page", type=int, default=5000, help="Rows per page of the bare read (also 1,000).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (server data, archives).")
    parser.add_argument("--check", action="store_true", help=f"Exit 1 when a ratio is below {TARGET}x.")
    args = parser.parse_args()
    file_size = int(args.file_mb * MB)
    work = Path(tempfile.mkdtemp(prefix="quixotic-backup-bench-"))
    proc, url = admin.spawn_server(work / "data", storage_limit=max(30_000_000, file_size + MB))
    try:
        envs = ("src", "dst", "all", "floor")
        creds = {env: admin.create_project(work / "data", f"bench-{env}", None) for env in envs}
        root = work / "site"
        write_site(root, {env: c.project_id for env, c in creds.items()}, max(file_size, 1))
        environ = {**os.environ}
        for env, project in creds.items():
            environ[f"QUIXOTIC_{env.upper()}_ENDPOINT"] = url
            environ[f"QUIXOTIC_{env.upper()}_API_KEY"] = project.api_key

        def target(env: str) -> Target:
            return connect(root, env, environ)

        deploy_cmd.deploy(target("src"), yes=True)
        total_mb = args.files * file_size / MB
        console.print(f"seeding {args.rows:,} rows and {args.files} files of {args.file_mb} MB ...")
        results: list[tuple[str, str, float, str]] = []

        def record(what: str, kind: str, seconds: float, amount: float, unit: str) -> None:
            rate = amount / seconds if seconds else float("inf")
            results.append((what, kind, seconds, f"{rate:,.0f} {unit}/s" if unit == "rows" else f"{rate:,.1f} MB/s"))

        bare = Bare(url, creds["src"].project_id, creds["src"].api_key)
        write_s, _ = timed(lambda: bare.write_rows(args.rows))
        record(f"bare keep-alive bulk create ({BULK:,}/call)", "baseline", write_s, args.rows, "rows")
        deploy_cmd.deploy(target("floor"), yes=True)
        floor = Bare(url, creds["floor"].project_id, creds["floor"].api_key)
        restored_s, _ = timed(lambda: floor.write_rows(args.rows, as_restored=True))
        record("bare bulk create, the bodies a restore sends", "baseline", restored_s, args.rows, "rows")
        seconds, _ = timed(lambda: seed_files(target("src"), args.files, file_size))
        record("SDK upload, one by one", "baseline", seconds, total_mb, "MB")
        read_s = float("inf")
        for page in sorted({1000, args.page}):
            seconds, n = timed(lambda p=page: bare.read_rows(p))  # type: ignore[misc]
            assert n == args.rows
            record(f"bare keep-alive cursor read ({page:,}/page)", "baseline", seconds, args.rows, "rows")
            read_s = min(read_s, seconds)
        seconds, got = timed(lambda: bare_read_files(target("src")))
        assert got == args.files * file_size
        record("SDK download, one by one", "baseline", seconds, total_mb, "MB")

        out = work / "archives"
        rows_only, files_only = frozenset({"schema", "rows"}), frozenset({"schema", "files"})
        backup_s, rows_zip = timed(lambda: cmd.backup(target("src"), out / "rows.zip", only=rows_only))
        record("backup: rows (incl. read-back check)", "quixotic", backup_s, args.rows, "rows")
        seconds, files_zip = timed(lambda: cmd.backup(target("src"), out / "files.zip", only=files_only))
        record("backup: files (incl. read-back check)", "quixotic", seconds, total_mb, "MB")
        seconds, archive = timed(lambda: cmd.backup(target("src"), out / "all.zip"))
        size_mb = archive.stat().st_size / MB
        record(f"backup: everything ({size_mb:,.0f} MB archive)", "quixotic", seconds, total_mb, "MB")
        seconds, _ = timed(lambda: check_archive(archive))
        record("verify: read back every part", "quixotic", seconds, size_mb, "MB")
        restore_s, _ = timed(lambda: cmd.restore(rows_zip, target("dst")))
        record("restore: rows (incl. checking the archive)", "quixotic", restore_s, args.rows, "rows")
        seconds, _ = timed(lambda: cmd.restore(files_zip, target("dst"), mode="merge"))
        record("restore: files (incl. checking the archive)", "quixotic", seconds, total_mb, "MB")
        seconds, diff = timed(lambda: cmd.diff_data(target("src"), target("dst")))
        assert diff.same, [d.describe() for d in diff.items if not d.same]
        record("diff-data src dst (same)", "quixotic", seconds, args.rows, "rows")
        seconds, _ = timed(lambda: cmd.restore(archive, target("all")))
        record("restore: everything into an empty project", "quixotic", seconds, total_mb, "MB")

        table = Table(
            title=f"backup bench: {args.rows:,} rows, {args.files} x {args.file_mb} MB files ({os.cpu_count()} CPUs)"
        )
        for column in ("what", "side", "seconds", "rate"):
            table.add_column(column)
        for what, kind, secs, rate in results:
            table.add_row(what, kind, f"{secs:.2f}", rate)
        console.print(table)
        ratios = {"backup rows/s / bare cursor read": read_s / backup_s,
                  "restore rows/s / bare bulk create of the same bodies": restored_s / restore_s}  # fmt: skip
        console.print(f"(restore rows/s / bare bulk create of columns only: {write_s / restore_s:.2f}x)")
        for what, ratio in ratios.items():
            console.print(f"{what}: {ratio:.2f}x (target >= {TARGET}x) {'met' if ratio >= TARGET else 'MISSED'}")
        missed = any(r < TARGET for r in ratios.values())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if args.keep:
            console.print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
