"""The permissions side table of a rows table, so a client's list finds its readable rows by index.

``p_<n>`` beside ``r_<n>`` holds one entry per (permission type, role, row ``_seq``) of the rows' stored
permissions, as Appwrite's ``_perms`` collection does. A list by a client then reads the rows whose
``read`` names one of its roles from the (type, role, row) key instead of testing each grant against every
row's JSON (``instr`` on each of some 2,000 rows per grant was most of a checked list's time).

SQLite triggers on ``r_<n>`` keep the entries in step, in the writing statement's own transaction: every
insert, change of permissions and delete of a row, whoever makes it (row routes, bulk writes, transaction
commits, the doctor's quarantine). Dropping a table drops its triggers; :func:`drop` removes the side table.
A data folder from before side tables gets one on first use of each table (:func:`ensure`, backfilled from
the stored permissions; until then a client's list tests the JSON as before). A trigger body that changes
needs new trigger names, as ``cache.install`` says.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from quixotic.server import cache
from quixotic.server import store as st

# A permission ``type("role")`` as (type, role); anything else (never written by the routes) has no entry.
# ``type`` is the text before the first ``("``, so an entry matches a grant ``read("R")`` exactly when the
# stored string is that grant.
_PARSE = """SELECT DISTINCT substr(value, 1, instr(value, '("') - 1),
    substr(value, instr(value, '("') + 2, length(value) - instr(value, '("') - 3), {seq}
FROM json_each(CASE WHEN json_valid({perms}) THEN {perms} ELSE '[]' END)
WHERE type = 'text' AND instr(value, '("') > 1 AND substr(value, -2) = '")'
    AND length(value) - instr(value, '("') - 3 >= 0"""

_DDL = """
CREATE TABLE IF NOT EXISTS {p} (
    _type TEXT NOT NULL, _role TEXT NOT NULL, _row INTEGER NOT NULL, PRIMARY KEY (_type, _role, _row)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {p}_row ON {p} (_row);
CREATE TRIGGER IF NOT EXISTS {p}_insert AFTER INSERT ON {r}
BEGIN INSERT INTO {p} (_type, _role, _row) {new}; END;
CREATE TRIGGER IF NOT EXISTS {p}_update AFTER UPDATE OF _permissions ON {r}
WHEN OLD._permissions IS NOT NEW._permissions
BEGIN DELETE FROM {p} WHERE _row = OLD._seq; INSERT INTO {p} (_type, _role, _row) {new}; END;
CREATE TRIGGER IF NOT EXISTS {p}_delete AFTER DELETE ON {r}
BEGIN DELETE FROM {p} WHERE _row = OLD._seq; END;
"""
_PARTS = ("", "_insert", "_update", "_delete")


def name(row_sql: str) -> str:
    """The side table of the rows table ``r_<n>``: ``p_<n>``."""
    return "p" + row_sql[1:]


def present(conn: sqlite3.Connection, row_sql: str) -> bool:
    """Whether the rows table has its side table and all its triggers (one statement)."""
    p = name(row_sql)
    wanted = [p + part for part in _PARTS]
    marks = ",".join("?" * len(wanted))
    (found,) = conn.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", wanted).fetchone()
    return bool(found == len(wanted))


def ensure(conn: sqlite3.Connection, project: str, row_sql: str) -> None:
    """Create the side table and its triggers if missing, filled from the rows' stored permissions, in the
    caller's write transaction; moves the project's schema generation so cached targets learn of it."""
    if present(conn, row_sql):
        return
    p = name(row_sql)
    conn.execute(f"DROP TABLE IF EXISTS {p}")  # a part left over alone is rebuilt whole
    for part in _PARTS[1:]:
        conn.execute(f"DROP TRIGGER IF EXISTS {p}{part}")
    new = _PARSE.format(seq="NEW._seq", perms="NEW._permissions")
    for statement in _DDL.format(p=p, r=row_sql, new=new).split(";\n"):
        if statement.strip():
            conn.execute(statement)  # not executescript: that would commit the caller's transaction
    old = _PARSE.format(seq="r._seq", perms="r._permissions").replace("FROM json_each", f"FROM {row_sql} r, json_each")
    conn.execute(f"INSERT OR IGNORE INTO {p} (_type, _role, _row) {old}")
    conn.execute("UPDATE cache_generations SET n = random() WHERE scope = ?", (cache.schema_scope(project),))


def build(store: st.Store, project: str, row_sql: str) -> None:
    """:func:`ensure` in a transaction of its own (the worker's job after a read found no side table)."""
    with store.tx() as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name=?", (row_sql,)).fetchone() is not None:
            ensure(conn, project, row_sql)


def drop(conn: sqlite3.Connection, row_sql: str) -> None:
    """Remove the side table of a rows table being dropped (its triggers go with the rows table)."""
    conn.execute(f"DROP TABLE IF EXISTS {name(row_sql)}")


def readable(row_sql: str, roles: Sequence[str], action: str = "read") -> tuple[str, list[str]]:
    """A SQL condition on ``r_<n>`` true for the rows whose permissions grant ``action`` to one of ``roles``:
    what ``auth.readable_sql`` tests on the JSON, read from the side table's (type, role, row) key."""
    if not roles:
        return "0", []
    marks = ",".join("?" * len(roles))
    return f"_seq IN (SELECT _row FROM {name(row_sql)} WHERE _type=? AND _role IN ({marks}))", [action, *roles]


def readable_count(row_sql: str, roles: Sequence[str], cap: int, action: str = "read") -> tuple[str, list[str]]:
    """A statement counting (up to ``cap``) the rows :func:`readable` picks, from the side table alone: no row
    of ``r_<n>`` is looked up. A row granted to two of the roles is counted once; where at most one of the roles
    is granted anything at all (an owner-only table: ``user:ID``), the entries are counted as they are, which
    is four times quicker than setting them apart (an index probe a role tells which)."""
    if not roles:
        return "SELECT 0", []
    p = name(row_sql)
    marks = ",".join("?" * len(roles))
    picked = f"FROM {p} WHERE _type=? AND _role IN ({marks})"
    granted = " + ".join([f"EXISTS (SELECT 1 FROM {p} WHERE _type=? AND _role=?)"] * len(roles))
    plain = f"(SELECT COUNT(*) FROM (SELECT 1 {picked} LIMIT {int(cap)}))"
    distinct = f"(SELECT COUNT(*) FROM (SELECT DISTINCT _row {picked} LIMIT {int(cap)}))"
    probes = [value for role in roles for value in (action, role)]
    sql = f"SELECT CASE WHEN {granted} <= 1 THEN {plain} ELSE {distinct} END"
    return sql, [*probes, action, *roles, action, *roles]
