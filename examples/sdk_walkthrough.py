"""Uses only the official Appwrite SDK (15.x) against any Appwrite 1.8 endpoint, ours included:
build a schema, write and query rows, upload and download a 20 MB file.

    python examples/sdk_walkthrough.py ENDPOINT PROJECT_ID API_KEY
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

from appwrite.client import Client
from appwrite.id import ID
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB


def wait_available(db: TablesDB, database_id: str, table_id: str, keys: list[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = [db.get_column(database_id, table_id, k)["status"] for k in keys]
        if all(s == "available" for s in statuses):
            return
        time.sleep(0.05)
    raise SystemExit(f"columns not available in time: {statuses}")


def main(endpoint: str, project: str, key: str) -> None:
    client = Client().set_endpoint(endpoint).set_project(project).set_key(key)
    db, storage = TablesDB(client), Storage(client)
    database_id = "walk" + ID.unique()[:10]
    db.create(database_id, "Walkthrough")
    db.create_table(database_id, "clips", "Clips")
    db.create_varchar_column(database_id, "clips", "title", 200, True)
    db.create_integer_column(database_id, "clips", "seconds", False, min=0)
    wait_available(db, database_id, "clips", ["title", "seconds"])
    for i in range(10):
        db.create_row(database_id, "clips", ID.unique(), {"title": f"clip {i}", "seconds": i * 10})
    long_ones = db.list_rows(database_id, "clips", [Query.greater_than("seconds", 55), Query.order_desc("seconds")])
    assert long_ones["total"] == 4, long_ones
    assert [r["seconds"] for r in long_ones["rows"]] == [90, 80, 70, 60]

    bucket_id = "walk" + ID.unique()[:10]
    storage.create_bucket(bucket_id, "Walkthrough")
    payload = os.urandom(20 * 1024 * 1024)
    created = storage.create_file(bucket_id, ID.unique(), InputFile.from_bytes(payload, "big.bin"))
    assert created["sizeOriginal"] == len(payload), created
    downloaded = storage.get_file_download(bucket_id, created["$id"])
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(payload).digest()
    print(f"ok: 10 rows written, 4 queried, {len(payload) // (1024 * 1024)} MB uploaded and downloaded intact")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
