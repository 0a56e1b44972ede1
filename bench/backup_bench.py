"""Benchmark of backup and restore against a bare SDK doing the same reads and writes, in the same run.

    .venv/bin/python bench/backup_bench.py [--rows 100000] [--files 50] [--file-mb 10]

Starts a real server process (its per-file limit raised with ``--storage-limit`` when files are large),
fills a source project with ROWS rows (one table) and FILES random files of FILE_MB each, then times:

- the baselines, with the SDK alone: bulk writes of 1,000 rows and plain file uploads (the seeding
  itself, the limit restore approaches); a paginated read of every row (1,000 a page, cursor) and a
  download of every file, one after another (the limit backup approaches);
- ``backup`` of the rows only and of the files only (each writes an archive and reads it back), and of
  everything;
- ``restore`` of the rows archive into an empty project, then of the files archive (each checks its
  archive first), ``diff-data`` to prove the two projects hold the same data, and ``restore`` of the
  whole archive into another empty project.

Rates are rows/s and MB/s (1 MB = 1,000,000 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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


def seed_rows(target: Target, rows: int) -> None:
    for start in range(0, rows, 1000):
        target.backend.db.create_rows("bench", "clips", [row(i) for i in range(start, min(rows, start + 1000))])


def seed_files(target: Target, count: int, size: int) -> None:
    for n in range(count):
        data = os.urandom(size)
        target.backend.storage.create_file("audio", f"f{n:04d}", InputFile.from_bytes(data, f"clip-{n}.bin"))


def bare_read_rows(target: Target) -> int:
    seen, cursor = 0, None
    while True:
        queries = [Query.limit(1000)] + ([Query.cursor_after(cursor)] if cursor else [])
        page = target.backend.db.list_rows("bench", "clips", queries)["rows"]
        seen += len(page)
        if len(page) < 1000:
            return seen
        cursor = page[-1]["$id"]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--file-mb", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (server data, archives).")
    args = parser.parse_args()
    file_size = int(args.file_mb * MB)
    work = Path(tempfile.mkdtemp(prefix="quixotic-backup-bench-"))
    proc, url = admin.spawn_server(work / "data", storage_limit=max(30_000_000, file_size + MB))
    try:
        creds = {env: admin.create_project(work / "data", f"bench-{env}", None) for env in ("src", "dst", "all")}
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

        seconds, _ = timed(lambda: seed_rows(target("src"), args.rows))
        record("SDK bulk write (1,000/call)", "baseline", seconds, args.rows, "rows")
        seconds, _ = timed(lambda: seed_files(target("src"), args.files, file_size))
        record("SDK upload, one by one", "baseline", seconds, total_mb, "MB")
        seconds, n = timed(lambda: bare_read_rows(target("src")))
        assert n == args.rows
        record("SDK paginated read (1,000/page)", "baseline", seconds, args.rows, "rows")
        seconds, got = timed(lambda: bare_read_files(target("src")))
        assert got == args.files * file_size
        record("SDK download, one by one", "baseline", seconds, total_mb, "MB")

        out = work / "archives"
        rows_only, files_only = frozenset({"schema", "rows"}), frozenset({"schema", "files"})
        seconds, rows_zip = timed(lambda: cmd.backup(target("src"), out / "rows.zip", only=rows_only))
        record("backup: rows (incl. read-back check)", "quixotic", seconds, args.rows, "rows")
        seconds, files_zip = timed(lambda: cmd.backup(target("src"), out / "files.zip", only=files_only))
        record("backup: files (incl. read-back check)", "quixotic", seconds, total_mb, "MB")
        seconds, archive = timed(lambda: cmd.backup(target("src"), out / "all.zip"))
        size_mb = archive.stat().st_size / MB
        record(f"backup: everything ({size_mb:,.0f} MB archive)", "quixotic", seconds, total_mb, "MB")
        seconds, _ = timed(lambda: check_archive(archive))
        record("verify: read back every part", "quixotic", seconds, size_mb, "MB")
        seconds, _ = timed(lambda: cmd.restore(rows_zip, target("dst")))
        record("restore: rows (incl. checking the archive)", "quixotic", seconds, args.rows, "rows")
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
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if args.keep:
            console.print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
