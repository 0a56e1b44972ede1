"""The row (document) model: reading, inserting, writing and upserting rows of a table, and rendering them.

A row is one record of the table's SQLite table: system fields in their own columns, the user columns
as JSON in ``data``. Callers hold the transaction; these functions never open one.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Final

from quixotic.errors import ApiError
from quixotic.server import cache, formats, validation
from quixotic.server import queries as q
from quixotic.server import store as st
from quixotic.server.clock import normalize_iso, now_iso
from quixotic.server.databases import columns as cols
from quixotic.server.databases import model, perm_index
from quixotic.server.databases.flavor import Flavor
from quixotic.server.queries import Field

STAMPS = ("$createdAt", "$updatedAt")
_SELECT = "SELECT _seq, _uid, _createdAt, _updatedAt, _permissions, data FROM"


@dataclass(frozen=True)
class Target:
    """The table a row request addresses, with what validating and querying its rows needs.

    One is shared by every request to the table until its schema changes (``target``): read-only throughout."""

    fl: Flavor
    database_id: str
    table: Mapping[str, Any]
    columns: Mapping[str, Mapping[str, Any]]  # available columns by key
    fields: Mapping[str, Field]
    database: Mapping[str, Any] = field(default_factory=dict)  # its database's record (``target`` fills it)
    indexed: bool = False  # whether its permissions side table is there (``perms``)

    @property
    def sql(self) -> str:
        return model.row_table(self.table)

    def event(self, row_id: str, action: str) -> str:
        return f"databases.{self.database_id}.tables.{self.table['$id']}.rows.{row_id}.{action}"

    @cached_property
    def answer_sql(self) -> str | None:
        """``answer_sql_of(self)``, built once per schema state (a target lives as long as its schema)."""
        return answer_sql_of(self)

    @cached_property
    def answer_sql_int_sequence(self) -> str | None:
        """``answer_sql_of(self, int_sequence=True)``, built once per schema state too."""
        return answer_sql_of(self, int_sequence=True)

    def answer_sql_for(self, select: Sequence[str] | None, int_sequence: bool) -> str | None:
        """The answer SQL of ``select`` (the cached one for every column)."""
        if select is None:
            return self.answer_sql_int_sequence if int_sequence else self.answer_sql
        return answer_sql_of(self, select, int_sequence=int_sequence)


# A row request's database, table, columns and indexes (four statements and a JSON parse of each record) are
# read once per schema state of the project: any write of them, by this process or another, moves the
# project's ``schema`` generation and the next request loads them again (``cache``).
_TARGETS: cache.Memo[tuple[str, str, str, str], Target] = cache.Memo()


def target(conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str) -> Target:
    """The table a row request addresses, as ``conn`` sees it now; raises when the database or table is not found."""
    now = cache.stamp(conn, cache.schema_scope(project))
    return _TARGETS.recall(
        conn, now, (project, fl.name, database_id, table_id), lambda: _load(conn, project, fl, database_id, table_id)
    )


def _load(conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str) -> Target:
    database = model.get_database(conn, project, database_id)
    table = model.get_table(conn, project, fl, database_id, table_id, database)
    columns = model.columns_of(conn, project, database_id, table_id)
    fields = model.query_fields(columns, model.indexes_of(conn, project, database_id, table_id))
    available = {c["key"]: MappingProxyType(c) for c in columns if c["status"] == "available"}
    return Target(
        fl, database_id, MappingProxyType(table), MappingProxyType(available), MappingProxyType(fields),
        MappingProxyType(database), perm_index.present(conn, model.row_table(table)),
    )  # fmt: skip


def render(t: Target, doc: Mapping[str, Any], select: Sequence[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "$id": doc["$id"],
        "$sequence": str(doc["$sequence"]),  # a string from 1.9.0 on; formats lowers it for older SDKs
        t.fl.table_ref: t.table["$id"],
        "$databaseId": t.database_id,
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "$permissions": doc["$permissions"],
    }
    wanted = None if not select or "*" in select else set(select)
    for key in t.columns:
        if wanted is None or key in wanted:
            out[key] = doc.get(key)
    return out


# --- answers built by SQLite ----------------------------------------------------------------------
#
# A list answer's rows as SQLite's own JSON text, spliced into the answer undecoded: ``render`` of 25 rows
# decodes each row's data and permissions (two ``json.loads``) and encodes them all again, most of a list's cost.
# SQLite copies the stored JSON of each value verbatim (``data -> '$."key"'``), and that text is Python's own
# encoding of the value, so it is what ``validation.encode`` writes again, with one exception: the stored text
# escapes every non-ASCII character (``\u00e9``) where the answer writes it as UTF-8; a row whose text has
# ``\u`` in it is decoded and encoded again in Python (``_exact``), so the bytes are the same either way.

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a JSON path label SQLite matches byte for byte
# Columns an answer expression may name: each adds three terms to one ``||`` chain, within SQLite's expression
# depth (1,000); a table with more is rendered in Python.
MAX_SQL_COLUMNS = 150


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def answer_sql_of(t: Target, select: Sequence[str] | None = None, *, int_sequence: bool = False) -> str | None:
    """SQL that reads a row of ``t`` as the JSON text of ``render(t, doc, select)`` (with ``int_sequence``, as
    formats below 1.9.0 lower it: ``$sequence`` a number); None where a column's key is not a plain path
    label or there are too many columns (then ``render`` it is)."""
    wanted = None if not select or "*" in select else set(select)
    keys = [key for key in t.columns if wanted is None or key in wanted]
    if len(keys) > MAX_SQL_COLUMNS or not all(_PLAIN_KEY.fullmatch(key) for key in keys):
        return None
    fixed = f',{_json_text(t.fl.table_ref)}:{_json_text(t.table["$id"])},"$databaseId":{_json_text(t.database_id)}'
    quote = "" if int_sequence else '"'
    terms = [
        _sql_text('{"$id":'), "json_quote(_uid)", _sql_text(f',"$sequence":{quote}'), "_seq",
        _sql_text(f'{quote}{fixed},"$createdAt":'), "json_quote(_createdAt)", _sql_text(',"$updatedAt":'),
        "json_quote(_updatedAt)", _sql_text(',"$permissions":'), "json(_permissions)",
    ]  # fmt: skip
    for key in keys:
        terms += [_sql_text(f",{_json_text(key)}:"), f"""coalesce(data -> '$."{key}"', 'null')"""]
    terms.append("'}'")
    return " || ".join(terms)


def sql_answer(fmt: formats.Version, fl: Flavor) -> SqlAnswer | None:
    """How SQLite builds a row's answer in format ``fmt``: as it is (no response filter changes a row: from
    1.9.0 on), with ``$sequence`` a number (the one filter below 1.9.0), else None: rendered in Python."""
    filters = formats.chain(fmt).responses.get(fl.row)
    if filters is None:
        return _AS_STORED
    if filters == (formats.sequence_to_int,):
        return _INT_SEQUENCE
    return None


@dataclass(frozen=True)
class SqlAnswer:
    """A row answer SQLite builds: ``$sequence`` a string (native) or a number (formats below 1.9.0)."""

    int_sequence: bool


_AS_STORED: Final = SqlAnswer(int_sequence=False)
_INT_SEQUENCE: Final = SqlAnswer(int_sequence=True)


def encoded_list(conn: sqlite3.Connection, t: Target, page: st.Page, how: SqlAnswer) -> bytes | None:
    """The list answer ``{"total": ..., "<rows>": [...]}`` of ``page`` as ``validation.encode`` would write it,
    its rows built by SQLite (see above); None where it must be built in Python (``answer_sql_of``), or where
    SQLite could not read a row's stored JSON (the Python path then says what it says)."""
    sql = t.answer_sql_for(page.select, how.int_sequence)
    if sql is None:
        return None
    try:
        texts = [text for (text,) in st.page_rows(conn, page, sql)]
    except sqlite3.OperationalError:
        return None
    joined = ",".join(texts)
    if "\\u" in joined:  # looked for once in the page (a row's text ends with "}": none spans two rows)
        joined = ",".join(_exact(text) for text in texts)
    return f'{{"total":{page.total},{_json_text(t.fl.rows)}:[{joined}]}}'.encode()


def encoded_row(
    conn: sqlite3.Connection, t: Target, row_id: str, select: Sequence[str] | None, how: SqlAnswer
) -> tuple[bytes, list[str]] | None:
    """A row GET's answer as SQLite builds it (see above), with the row's permissions for the read check; None
    where the Python path answers: no SQL for this table or ``select``, a stored JSON SQLite cannot read, or no
    such row (``require`` then says so)."""
    sql = t.answer_sql_for(select, how.int_sequence)
    if sql is None:
        return None
    try:
        found = conn.execute(f"SELECT {sql}, _permissions FROM {t.sql} WHERE _uid=?", (row_id,)).fetchone()
    except sqlite3.OperationalError:
        return None
    if found is None:
        return None
    text, permissions = found
    return _exact(text).encode(), json.loads(permissions)


def _exact(text: str) -> str:
    """A row's JSON text as the answer writes it: with its ``\\u`` escapes (non-ASCII, control characters)
    decoded and encoded again as ``validation.encode`` does."""
    if "\\u" not in text:
        return text
    return validation.encode(json.loads(text)).decode()


def _error(t: Target, exc: sqlite3.IntegrityError, row_id: str) -> ApiError:
    if "._uid" in str(exc):
        return t.fl.error(
            "row_already_exists", f"{t.fl.row.capitalize()} with the requested ID '{row_id}' already exists."
        )
    return t.fl.error(
        "row_unique_constraint_violation",
        f"{t.fl.row.capitalize()} '{row_id}' has a value that already exists in a unique index.",
    )


def fetch(conn: sqlite3.Connection, t: Target, row_id: str) -> st.Doc | None:
    row = conn.execute(f"{_SELECT} {t.sql} WHERE _uid=?", (row_id,)).fetchone()
    return st.to_doc(row) if row else None


def require(conn: sqlite3.Connection, t: Target, row_id: str) -> st.Doc:
    doc = fetch(conn, t, row_id)
    if doc is None:
        raise t.fl.error(
            "row_not_found", f"{t.fl.row.capitalize()} with the requested ID '{row_id}' could not be found."
        )
    return doc


def _dump(data: Mapping[str, Any]) -> str:
    """The stored JSON of a row's columns, checked again here so that nothing unservable is written."""
    columns = {k: v for k, v in data.items() if not k.startswith("$")}
    validation.check_tree(columns, "data")
    return json.dumps(columns, separators=(",", ":"), allow_nan=False)


def stamps(t: Target, raw: Mapping[str, Any] | None) -> dict[str, str]:
    """``$createdAt``/``$updatedAt`` a caller sets (Appwrite's timestamp overrides for API keys), normalised."""
    out: dict[str, str] = {}
    for key in STAMPS:
        value = (raw or {}).get(key)
        if value is None:
            continue
        try:
            out[key] = normalize_iso(value)
        except (ValueError, TypeError) as exc:
            raise t.fl.error(
                "row_invalid_structure", f'Invalid document structure: "{key}" must be an ISO 8601 datetime'
            ) from exc
    return out


def insert(
    conn: sqlite3.Connection,
    t: Target,
    row_id: str,
    data: dict[str, Any],
    perms: list[str],
    given_stamps: Mapping[str, str] | None = None,
) -> st.Doc:
    now = now_iso()
    created = (given_stamps or {}).get("$createdAt", now)
    updated = (given_stamps or {}).get("$updatedAt", now)
    try:
        cur = conn.execute(
            f"INSERT INTO {t.sql} (_uid, _createdAt, _updatedAt, _permissions, data) VALUES (?,?,?,?,?)",
            (row_id, created, updated, json.dumps(perms), _dump(data)),
        )
    except sqlite3.IntegrityError as exc:
        raise _error(t, exc, row_id) from exc
    return {
        "$id": row_id,
        "$sequence": cur.lastrowid,
        "$createdAt": created,
        "$updatedAt": updated,
        "$permissions": perms,
        **data,
    }


def write(conn: sqlite3.Connection, t: Target, doc: st.Doc, given_stamps: Mapping[str, str] | None = None) -> st.Doc:
    doc["$updatedAt"] = (given_stamps or {}).get("$updatedAt") or now_iso()
    if given_stamps and "$createdAt" in given_stamps:
        doc["$createdAt"] = given_stamps["$createdAt"]
    try:
        conn.execute(
            f"UPDATE {t.sql} SET _createdAt=?, _updatedAt=?, _permissions=?, data=? WHERE _uid=?",
            (doc["$createdAt"], doc["$updatedAt"], json.dumps(doc["$permissions"]), _dump(doc), doc["$id"]),
        )
    except sqlite3.IntegrityError as exc:
        raise _error(t, exc, doc["$id"]) from exc
    return doc


def upsert(
    conn: sqlite3.Connection, t: Target, row_id: str, data: dict[str, Any], perms: list[str] | None
) -> tuple[st.Doc, str]:
    """Create the row, or update it if it exists: the given columns (and permissions, when given)
    change, the others keep their values, as Appwrite's upsert does. Returns the row and the action."""
    existing = fetch(conn, t, row_id)
    given = stamps(t, data)
    if existing is None:
        checked = cols.check_row(t.columns, data, partial=False)
        return insert(conn, t, row_id, checked, perms or [], given), "create"
    doc = {k: v for k, v in existing.items() if k.startswith("$") or k in t.columns}
    doc.update(cols.check_row(t.columns, data, partial=True))
    if perms is not None:
        doc["$permissions"] = perms
    return write(conn, t, doc, given), "update"


def delete(conn: sqlite3.Connection, t: Target, row_ids: Sequence[str]) -> None:
    conn.executemany(f"DELETE FROM {t.sql} WHERE _uid=?", [(row_id,) for row_id in row_ids])


def matching(conn: sqlite3.Connection, t: Target, raw_queries: Sequence[str] | None) -> list[st.Doc]:
    """Every row matching the filter queries (bulk update/delete act on all of them, page by page)."""
    parsed = q.parse_queries(list(raw_queries or []))
    filters = [x for x in parsed if x.method not in ("limit", "offset", "cursorAfter", "cursorBefore", "select")]
    compiled = q.compile_queries(filters, t.fields)
    limit = next((int(x.values[0]) for x in parsed if x.method == "limit"), None)
    sql = f"{_SELECT} {t.sql} WHERE {compiled.where} ORDER BY _seq"
    params: list[Any] = list(compiled.params)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [st.to_doc(r) for r in conn.execute(sql, params).fetchall()]


def select_of(raw: Sequence[str] | None, fields: Mapping[str, Field]) -> list[str] | None:
    """The ``select`` of a get request's queries (None: every column)."""
    if not raw:
        return None
    compiled = q.compile_queries(q.parse_queries(list(raw)), fields)
    return compiled.select
