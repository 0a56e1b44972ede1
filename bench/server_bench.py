"""Benchmark of the local server through the official SDK, beside raw SQLite doing the same work.

    .venv/bin/python bench/server_bench.py [--rows 500] [--upload-mb 50]

Starts a real server process on a free port with a temporary data dir, then times, single client:
row create, row get, list of 25 rows, bulk create of 1,000 rows, and a chunked upload. The baseline
is SQLite in this process inserting/reading the same JSON rows into a table of the same layout
(WAL, one transaction per row for single creates, one per 1,000 for bulk). The ratio is the figure:
what HTTP + the SDK + validation + the server cost over the storage itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from appwrite.client import Client
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB
from rich.console import Console
from rich.table import Table

from quixotic.server import admin

console = Console()


def timed(n: int, fn: Callable[[int], object]) -> float:
    """Operations per second of ``fn(i)`` for ``i`` in ``range(n)``."""
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def row(i: int) -> dict[str, object]:
    return {"title": f"clip number {i}", "seconds": i % 600, "done": i % 2 == 0}


def raw_sqlite(path: Path, n: int, bulk: int) -> dict[str, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE r (_seq INTEGER PRIMARY KEY AUTOINCREMENT, _uid TEXT UNIQUE NOT NULL, _createdAt TEXT,"
        " _updatedAt TEXT, _permissions TEXT, data TEXT)"
    )

    def insert(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO r (_uid, _createdAt, _updatedAt, _permissions, data) VALUES (?,?,?,?,?)",
            (f"s{i}", "t", "t", "[]", json.dumps(row(i))),
        )
        conn.execute("COMMIT")

    def get(i: int) -> None:
        conn.execute("SELECT * FROM r WHERE _uid=?", (f"s{i}",)).fetchone()

    def list25(i: int) -> None:
        conn.execute("SELECT * FROM r ORDER BY _seq LIMIT 25 OFFSET ?", ((i * 25) % n,)).fetchall()

    def bulk_insert(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO r (_uid, _createdAt, _updatedAt, _permissions, data) VALUES (?,?,?,?,?)",
            [(f"b{i}_{j}", "t", "t", "[]", json.dumps(row(j))) for j in range(bulk)],
        )
        conn.execute("COMMIT")

    out = {
        "create": timed(n, insert),
        "get": timed(n, get),
        "list25": timed(n, list25),
        "bulk1000": timed(3, bulk_insert),
    }
    conn.close()
    return out


def through_sdk(url: str, data: Path, n: int, bulk: int, upload_mb: int) -> tuple[dict[str, float], float]:
    creds = admin.create_project(data, "bench")
    client = Client().set_endpoint(url).set_project(creds.project_id).set_key(creds.api_key)
    db, storage = TablesDB(client), Storage(client)
    db.create("bench", "Bench")
    db.create_table("bench", "clips", "Clips")
    db.create_varchar_column("bench", "clips", "title", 200, True)
    db.create_integer_column("bench", "clips", "seconds", False)
    db.create_boolean_column("bench", "clips", "done", False)
    while any(c["status"] != "available" for c in db.list_columns("bench", "clips")["columns"]):
        time.sleep(0.05)
    out = {
        "create": timed(n, lambda i: db.create_row("bench", "clips", f"s{i}", row(i))),
        "get": timed(n, lambda i: db.get_row("bench", "clips", f"s{i}")),
        "list25": timed(n, lambda i: db.list_rows("bench", "clips", [Query.limit(25), Query.offset((i * 25) % n)])),
        "bulk1000": timed(
            3,
            lambda i: db.create_rows("bench", "clips", [{"$id": f"b{i}_{j}", **row(j)} for j in range(bulk)]),
        ),
    }
    storage.create_bucket("bench", "Bench")
    payload = os.urandom(upload_mb * 1024 * 1024)
    start = time.perf_counter()
    created = storage.create_file("bench", ID.unique(), InputFile.from_bytes(payload, "big.bin"))
    upload_mbs = upload_mb / (time.perf_counter() - start)
    assert created["sizeOriginal"] == len(payload)
    got = storage.get_file_download("bench", created["$id"])
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    return out, upload_mbs


def raw_file_write(path: Path, upload_mb: int) -> float:
    payload = os.urandom(upload_mb * 1024 * 1024)
    start = time.perf_counter()
    with path.open("wb") as fh:
        for off in range(0, len(payload), 5 * 1024 * 1024):
            fh.write(payload[off : off + 5 * 1024 * 1024])
        fh.flush()
        os.fsync(fh.fileno())
    return upload_mb / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--upload-mb", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw = raw_sqlite(base / "raw.db", args.rows, 1000)
        raw_mbs = raw_file_write(base / "raw.bin", args.upload_mb)
        proc, url = admin.spawn_server(base / "data", storage_limit=200 * 1024 * 1024)
        try:
            sdk, sdk_mbs = through_sdk(url, base / "data", args.rows, 1000, args.upload_mb)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    table = Table(title=f"local server via SDK vs raw SQLite ({args.rows} rows, single client)")
    for col in ("operation", "SDK ops/s", "raw ops/s", "raw / SDK"):
        table.add_column(col, justify="right")
    for name in ("create", "get", "list25", "bulk1000"):
        table.add_row(name, f"{sdk[name]:,.1f}", f"{raw[name]:,.1f}", f"{raw[name] / sdk[name]:,.1f}x")
    table.add_row(
        f"upload {args.upload_mb} MB (MB/s)", f"{sdk_mbs:,.1f}", f"{raw_mbs:,.1f}", f"{raw_mbs / sdk_mbs:,.1f}x"
    )
    console.print(table)


if __name__ == "__main__":
    main()
