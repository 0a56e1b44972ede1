"""A benchmark's project: new, with one table whose columns are all available, and an SDK client with every scope.

The benchmarks that load a table set it up the same way; each names only its columns, as data, so that what the
table holds is read at a glance and the set-up (and its wait for the columns) is written once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.services.tables_db import TablesDB

from quixotic.server import admin

# (kind, key, the SDK's other arguments): ("varchar", "title", {"size": 200, "required": True}) is
# TablesDB.create_varchar_column(database, table, "title", size=200, required=True).
ColumnSpec = tuple[str, str, dict[str, Any]]


def table_project(
    url: str,
    data: Path,
    project: str,
    database: tuple[str, str],
    table: tuple[str, str],
    columns: Sequence[ColumnSpec],
) -> tuple[admin.ProjectCredentials, Client]:
    """Project ``project`` on the server at ``url`` (data folder ``data``) with ``database`` and ``table`` (each an
    id and a name) holding ``columns``; returns once the server says every column is available."""
    creds = admin.create_project(data, project)
    client = Client().set_endpoint(url).set_project(creds.project_id).set_key(creds.api_key)
    db = TablesDB(client)
    (db_id, db_name), (table_id, table_name) = database, table
    db.create(db_id, db_name)
    db.create_table(db_id, table_id, table_name)
    for kind, key, arguments in columns:
        getattr(db, f"create_{kind}_column")(db_id, table_id, key, **arguments)
    while any(c["status"] != "available" for c in db.list_columns(db_id, table_id)["columns"]):
        time.sleep(0.05)
    return creds, client
