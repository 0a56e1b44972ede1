"""Who may receive an event: the read rules of the API itself, applied to each connection's caller.

A row event reaches a connection whose caller may read the row (``databases.access.may``: the table's
read, or with ``rowSecurity`` the row's own), a file event one whose caller may read the file
(``storage.access.require``: the bucket's read, or with ``fileSecurity`` the file's), an account event
only that user, an execution event the users its read permissions name, a team's or membership's event the
team's members (as the connection's roles were when it signed in). So an event never shows a caller
what a ``get`` of the same record would not, and a change to the rules of the API changes Realtime too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from quixotic.errors import ApiError
from quixotic.server.auth import Caller
from quixotic.server.databases import access as row_access
from quixotic.server.databases.flavor import TABLES
from quixotic.server.databases.rows import Target
from quixotic.server.realtime.channels import Publication
from quixotic.server.storage import access as file_access
from quixotic.server.store import meta_get

Reader = Callable[[Caller], bool]


def _nobody(_caller: Caller) -> bool:
    return False


def reader(conn: sqlite3.Connection, project: str, pub: Publication, payload: Mapping[str, Any]) -> Reader:
    """The test a connection's caller must pass to receive this event (read in the store once per event)."""
    if pub.kind == "rows":
        database_id, table_id, _ = pub.ids
        table = meta_get(conn, project, "table", database_id, table_id)
        if table is None:
            return _nobody
        target = Target(TABLES, database_id, table, {}, {})
        return lambda caller: row_access.may(caller, target, payload, "read")
    if pub.kind == "files":
        bucket = meta_get(conn, project, "bucket", "", pub.ids[0])
        if bucket is None:
            return _nobody
        return lambda caller: _may_read_file(caller, bucket, payload)
    if pub.kind == "account":
        role = f"user:{pub.ids[0]}"  # Appwrite's audience of an account event
        return lambda caller: role in caller.roles
    if pub.kind in ("teams", "memberships"):
        role = f"team:{pub.ids[0]}"  # Appwrite's audience of a team's and its memberships' events
        return lambda caller: caller.is_key or role in caller.roles
    if pub.kind == "executions":
        permissions = list(payload.get("$permissions") or [])
        return lambda caller: caller.may(permissions, "read")
    return _nobody


def _may_read_file(caller: Caller, bucket: dict[str, Any], payload: Mapping[str, Any]) -> bool:
    try:
        file_access.require(caller, bucket, dict(payload), "read")
    except ApiError:
        return False
    return True
