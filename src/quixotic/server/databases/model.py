"""The database model: databases, tables (collections), column and index records, and the SQLite
objects behind them.

Rows of a table live in their own SQLite table ``r_<table $sequence>``; indexes are real SQLite
expression indexes on it, so unique indexes are enforced by SQLite itself. Column and index builds
run later on the worker (:func:`finish_column`, :func:`finish_index`), as Appwrite builds them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import store as st
from quixotic.server import validation
from quixotic.server.databases import columns as cols
from quixotic.server.databases import perm_index
from quixotic.server.databases.flavor import Flavor
from quixotic.server.ids import validate_key
from quixotic.server.queries import Field

SYSTEM_COLUMNS = {"$id": "_uid", "$sequence": "_seq", "$createdAt": "_createdAt", "$updatedAt": "_updatedAt"}
INDEX_TYPES = ("key", "unique", "fulltext")
MAX_COLUMNS = 1000


# --- lookups ------------------------------------------------------------------------------------


def get_database(conn: sqlite3.Connection, project: str, database_id: str) -> st.Doc:
    doc = st.meta_get(conn, project, "database", "", database_id)
    if doc is None:
        raise ApiError("database_not_found", f"Database with the requested ID '{database_id}' could not be found.")
    return doc


def get_table(
    conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, database: st.Doc | None = None
) -> st.Doc:
    """The table's record; ``database`` is its database's, when the caller has already read it."""
    if database is None:
        get_database(conn, project, database_id)
    doc = st.meta_get(conn, project, "table", database_id, table_id)
    if doc is None:
        raise fl.error(
            "table_not_found", f"{fl.table.capitalize()} with the requested ID '{table_id}' could not be found."
        )
    return doc


def row_table(table: Mapping[str, Any]) -> str:
    """The SQLite table that holds a table's rows."""
    return f"r_{int(table['$sequence'])}"


def columns_of(conn: sqlite3.Connection, project: str, database_id: str, table_id: str) -> list[st.Doc]:
    return st.meta_all(conn, project, "column", f"{database_id}/{table_id}")


def indexes_of(conn: sqlite3.Connection, project: str, database_id: str, table_id: str) -> list[st.Doc]:
    return st.meta_all(conn, project, "index", f"{database_id}/{table_id}")


def query_fields(columns: list[st.Doc], indexes: list[st.Doc]) -> dict[str, Field]:
    """What row queries may name: available columns, with ``fulltext`` where a fulltext index covers one."""
    fulltext = {c for i in indexes if i["type"] == "fulltext" and i["status"] == "available" for c in i["columns"]}
    return {c["key"]: cols.query_field(c, c["key"] in fulltext) for c in columns if c["status"] == "available"}


def get_column(conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, key: str) -> st.Doc:
    get_table(conn, project, fl, database_id, table_id)
    doc = st.meta_get(conn, project, "column", f"{database_id}/{table_id}", key)
    if doc is None:
        raise fl.error(
            "column_not_found", f"{fl.column.capitalize()} with the requested key '{key}' could not be found."
        )
    return doc


def get_index(
    conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, key: str
) -> tuple[st.Doc, st.Doc]:
    """The table and the index record."""
    table = get_table(conn, project, fl, database_id, table_id)
    doc = st.meta_get(conn, project, "index", f"{database_id}/{table_id}", key)
    if doc is None:
        raise fl.error("column_index_not_found", f"Index with the requested key '{key}' could not be found.")
    return table, doc


# --- rendering ----------------------------------------------------------------------------------


def render_index(fl: Flavor, doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "$id": doc["key"],
        "$createdAt": doc["$createdAt"],
        "$updatedAt": doc["$updatedAt"],
        "key": doc["key"],
        "type": doc["type"],
        "status": doc["status"],
        "error": doc.get("error", ""),
        fl.columns: doc["columns"],
        "lengths": doc.get("lengths", []),
        "orders": doc.get("orders", []),
        "description": doc.get("description") or "",  # 2.5.0 (formats drops it below)
    }


def render_column(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = cols.render_column({k: v for k, v in doc.items() if k not in ("$id", "$sequence")})
    out.pop("$permissions", None)
    return out


def render_table(conn: sqlite3.Connection, project: str, fl: Flavor, doc: st.Doc) -> dict[str, Any]:
    parent = doc["databaseId"]
    columns = [render_column(c) for c in columns_of(conn, project, parent, doc["$id"])]
    indexes = [render_index(fl, i) for i in indexes_of(conn, project, parent, doc["$id"])]
    return fl.render_table(doc, columns, indexes)


def render_database(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: doc[k] for k in ("$id", "name", "$createdAt", "$updatedAt", "enabled", "type")}
    # SDK 17-22 require both lists (Appwrite itself does not send them); 2.x reads the rest as optional.
    out.update(policies=[], archives=[], status="ready", description=doc.get("description") or "")
    return out


# --- databases and tables -----------------------------------------------------------------------

_DB_FIELDS = {"name": Field("string"), "enabled": Field("boolean"), "type": Field("string")}
_TABLE_FIELDS = {"name": Field("string"), "enabled": Field("boolean"), "rowSecurity": Field("boolean")}


def create_database(conn: sqlite3.Connection, project: str, database_id: str, data: dict[str, Any]) -> st.Doc:
    conflict = ApiError("database_already_exists", f"Database with the requested ID '{database_id}' already exists.")
    return st.meta_insert(conn, project, "database", "", database_id, data, conflict=conflict)


def list_databases(conn: sqlite3.Connection, project: str, params: Mapping[str, Any]) -> tuple[int, list[st.Doc]]:
    return st.meta_list(conn, project, "database", "", params, _DB_FIELDS, search_expr=st.NAME_SEARCH)


def update_database(
    conn: sqlite3.Connection,
    project: str,
    database_id: str,
    *,
    name: str | None,
    enabled: bool | None,
    description: str | None = None,
) -> st.Doc:
    """Change what is given (not None) of the database's name, enabled and description."""
    doc = get_database(conn, project, database_id)
    given = (("name", name), ("enabled", enabled), ("description", description))
    doc.update({k: v for k, v in given if v is not None})
    return st.meta_save(conn, project, "database", "", doc)


def table_permissions(value: list[str] | None) -> list[str]:
    return validation.permissions(value, validation.CONTAINER_ACTIONS) or []


def list_tables(
    conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, params: Mapping[str, Any]
) -> tuple[int, list[st.Doc]]:
    """A page of the database's tables; queries may name the flavor's ``documentSecurity``."""
    get_database(conn, project, database_id)
    fields = {**_TABLE_FIELDS, fl.security: _TABLE_FIELDS["rowSecurity"]}
    queries = [x.replace('"documentSecurity"', '"rowSecurity"') for x in params.get("queries") or []]
    return st.meta_list(
        conn, project, "table", database_id, {**params, "queries": queries}, fields, search_expr=st.NAME_SEARCH
    )


def update_table(
    conn: sqlite3.Connection,
    project: str,
    fl: Flavor,
    database_id: str,
    table_id: str,
    *,
    name: str | None,
    permissions: list[str] | None,
    row_security: bool | None,
    enabled: bool | None,
    description: str | None = None,
) -> st.Doc:
    """Change what is given (not None) of the table's name, permissions, row security, enabled and description."""
    doc = get_table(conn, project, fl, database_id, table_id)
    if permissions is not None:
        doc["$permissions"] = table_permissions(permissions)
    given = (("name", name), ("rowSecurity", row_security), ("enabled", enabled), ("description", description))
    doc.update({k: v for k, v in given if v is not None})
    return st.meta_save(conn, project, "table", database_id, doc)


def delete_database(conn: sqlite3.Connection, project: str, database_id: str) -> st.Doc:
    """Drop every table's rows and every record under the database; returns the database's record."""
    doc = get_database(conn, project, database_id)
    for table in st.meta_all(conn, project, "table", database_id):
        conn.execute(f"DROP TABLE IF EXISTS {row_table(table)}")
        perm_index.drop(conn, row_table(table))
    st.meta_delete_under(conn, project, database_id)
    st.meta_delete(conn, project, "database", "", database_id)
    return doc


def create_table(
    conn: sqlite3.Connection,
    project: str,
    fl: Flavor,
    database_id: str,
    table_id: str,
    data: dict[str, Any],
    permissions: list[str],
    inline_columns: list[Any],
    inline_indexes: list[Any],
) -> st.Doc:
    """Insert a table, its rows' SQLite table, and the columns and indexes given with it (available at once)."""
    get_database(conn, project, database_id)
    conflict = fl.error(
        "table_already_exists",
        f"{fl.table.capitalize()} with the requested ID '{table_id}' already exists.",
    )
    doc = st.meta_insert(conn, project, "table", database_id, table_id, data, permissions, conflict=conflict)
    conn.execute(st.ROW_TABLE_DDL.format(name=row_table(doc)))
    perm_index.ensure(conn, project, row_table(doc))
    parent = f"{database_id}/{table_id}"
    for spec in inline_columns:
        col = _inline_column(fl, spec)
        col["status"], col["error"] = "available", ""
        st.meta_insert(
            conn, project, "column", parent, col["key"], col,
            conflict=fl.error("column_already_exists", f"{fl.column.capitalize()} '{col['key']}' is given twice."),
        )  # fmt: skip
    for spec in inline_indexes:
        if not isinstance(spec, dict):
            raise ApiError("general_argument_invalid", "Invalid `indexes` param: each index must be an object")
        params = {
            "key": spec.get("key"),
            "type": spec.get("type"),
            fl.columns: spec.get(fl.columns) or spec.get("columns") or spec.get("attributes"),
            "orders": spec.get("orders"),
            "lengths": spec.get("lengths"),
            "description": spec.get("description"),
        }
        index = validate_index(conn, project, fl, doc, params)
        index["status"], index["error"] = "available", ""
        stored = st.meta_insert(conn, project, "index", parent, index["key"], index)
        build_index(conn, doc, stored)
    return doc


def _inline_column(fl: Flavor, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or not isinstance(spec.get("key"), str) or not isinstance(spec.get("type"), str):
        raise ApiError("general_argument_invalid", f"Invalid `{fl.columns}` param: each needs a `key` and a `type`")
    segment = {"double": "float"}.get(spec["type"], spec["type"])
    if spec.get("format") in ("email", "enum", "url", "ip") and segment == "string":
        segment = spec["format"]
    if segment not in cols.KINDS:
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `{fl.columns}` param: unsupported type '{spec['type']}'. Supported: {', '.join(cols.KINDS)}",
        )
    validate_key(spec["key"])
    return cols.build_column(segment, {"required": False, **spec})


def delete_table(conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str) -> dict[str, Any]:
    """Drop the table's rows and records; returns its last rendering."""
    doc = get_table(conn, project, fl, database_id, table_id)
    rendered = render_table(conn, project, fl, doc)
    conn.execute(f"DROP TABLE IF EXISTS {row_table(doc)}")
    perm_index.drop(conn, row_table(doc))
    st.meta_delete_under(conn, project, f"{database_id}/{table_id}")
    st.meta_delete(conn, project, "table", database_id, table_id)
    return rendered


# --- columns ------------------------------------------------------------------------------------

_COLUMN_FIELDS = {
    "key": Field("string"),
    "type": Field("string"),
    "size": Field("integer"),
    "required": Field("boolean"),
    "array": Field("boolean"),
    "status": Field("string"),
    "error": Field("string"),
}
_INDEX_FIELDS = {"key": Field("string"), "type": Field("string"), "status": Field("string"), "error": Field("string")}


def list_under_table(
    conn: sqlite3.Connection,
    project: str,
    fl: Flavor,
    kind: str,
    database_id: str,
    table_id: str,
    params: Mapping[str, Any],
) -> tuple[int, list[st.Doc]]:
    """A page of the table's column (``kind="column"``) or index (``"index"``) records."""
    get_table(conn, project, fl, database_id, table_id)
    fields = _COLUMN_FIELDS if kind == "column" else _INDEX_FIELDS
    return st.meta_list(conn, project, kind, f"{database_id}/{table_id}", params, fields)


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '""') + '"'


def column_sql(key: str) -> str:
    """The SQL expression of a column (or system field) in a rows table."""
    if key in SYSTEM_COLUMNS:
        return SYSTEM_COLUMNS[key]
    return "json_extract(data, '$.\"" + key.replace('"', '""').replace("'", "''") + "\"')"


def check_fits(conn: sqlite3.Connection, table: st.Doc, key: str, size: int) -> None:
    """Shrinking a column is fine while every stored value (or array element) still fits."""
    path = _json_path(key)
    longest = conn.execute(
        "SELECT MAX(CASE WHEN json_type(data, ?) = 'array'"
        " THEN (SELECT MAX(length(value)) FROM json_each(data, ?))"
        f" ELSE length(json_extract(data, ?)) END) FROM {row_table(table)}",
        (path, path, path),
    ).fetchone()[0]
    if longest is not None and int(longest) > size:
        raise ApiError(
            "column_invalid_resize",
            f"Existing data is too large for new size {size}: the longest value of '{key}' has {longest} "
            "characters. Truncate your existing data, then try again.",
        )


def rename_column(conn: sqlite3.Connection, project: str, table: st.Doc, parent: str, old: str, new: str) -> None:
    """Move a column's values to a new key in every row, and follow it in indexes."""
    old_path, new_path = _json_path(old), _json_path(new)
    conn.execute(
        f"UPDATE {row_table(table)} SET data = json_set(json_remove(data, ?), ?, json_extract(data, ?)) "
        "WHERE json_type(data, ?) IS NOT NULL",
        (old_path, new_path, old_path, old_path),
    )
    for index in st.meta_all(conn, project, "index", parent):
        if old in index["columns"]:
            drop_index(conn, table, index)
            index["columns"] = [new if c == old else c for c in index["columns"]]
            st.meta_save(conn, project, "index", parent, index)
            if index["status"] == "available":
                build_index(conn, table, index)


def insert_column(
    conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, key: str, col: dict[str, Any]
) -> st.Doc:
    """Store a new column's record (in ``processing``: :func:`finish_column` makes it available)."""
    get_table(conn, project, fl, database_id, table_id)
    if len(columns_of(conn, project, database_id, table_id)) >= MAX_COLUMNS:
        raise fl.error("column_limit_exceeded", "The maximum number of columns has been reached.")
    conflict = fl.error(
        "column_already_exists", f"{fl.column.capitalize()} with the requested key '{key}' already exists."
    )
    parent = f"{database_id}/{table_id}"
    return st.meta_insert(
        conn, project, "column", parent, key, {**col, "status": "processing", "error": ""}, conflict=conflict
    )


def mark_column_deleting(
    conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, key: str
) -> st.Doc:
    """Mark the column ``deleting``: :func:`finish_column_delete` removes it."""
    doc = get_column(conn, project, fl, database_id, table_id, key)
    doc["status"] = "deleting"
    return st.meta_save(conn, project, "column", f"{database_id}/{table_id}", doc)


def finish_column(store: st.Store, project: str, parent: str, key: str) -> None:
    """The worker's job after a column is created: it becomes available."""
    with store.tx() as conn:
        doc = st.meta_get(conn, project, "column", parent, key)
        if doc is not None and doc["status"] == "processing":
            doc["status"] = "available"
            st.meta_save(conn, project, "column", parent, doc)


def finish_column_delete(store: st.Store, project: str, database_id: str, table_id: str, key: str) -> None:
    """The worker's job after a column is deleted: drop its indexes, its values and its record."""
    parent = f"{database_id}/{table_id}"
    with store.tx() as conn:
        table = st.meta_get(conn, project, "table", database_id, table_id)
        if table is None:
            return
        for index in st.meta_all(conn, project, "index", parent):
            if key in index["columns"]:
                drop_index(conn, table, index)
                st.meta_delete(conn, project, "index", parent, index["key"])
        conn.execute(f"UPDATE {row_table(table)} SET data = json_remove(data, ?)", (_json_path(key),))
        st.meta_delete(conn, project, "column", parent, key)


# --- indexes ------------------------------------------------------------------------------------


def validate_index(
    conn: sqlite3.Connection, project: str, fl: Flavor, table: st.Doc, p: Mapping[str, Any]
) -> dict[str, Any]:
    key = validate_key(p.get("key") or "", "key")
    kind = p.get("type")
    if kind not in INDEX_TYPES:
        raise fl.error(
            "column_index_invalid", f"Index type '{kind}' is not supported here. Use one of: {', '.join(INDEX_TYPES)}"
        )
    names = list(p.get(fl.columns) or [])
    if not names or len(names) > 100:
        raise ApiError("general_argument_invalid", f"Invalid `{fl.columns}` param: give 1 to 100 {fl.columns}")
    columns = {c["key"]: c for c in columns_of(conn, project, table["databaseId"], table["$id"])}
    for name in names:
        if name in SYSTEM_COLUMNS:
            continue
        col = columns.get(name)
        if col is None:
            raise fl.error("column_unknown", f"Unknown {fl.column} '{name}'. Create it before indexing it.")
        if col["status"] != "available":
            raise fl.error(
                "column_not_available", f"{fl.column.capitalize()} '{name}' is {col['status']}, not available yet."
            )
        if kind == "fulltext" and col["type"] not in cols.STRINGY:
            raise fl.error(
                "column_index_invalid", f"Fulltext indexes need string {fl.columns}; '{name}' is {col['type']}."
            )
    orders = list(p.get("orders") or [])
    if any(o not in ("asc", "desc", "ASC", "DESC") for o in orders) or len(orders) > len(names):
        raise fl.error("column_index_invalid", "Each order must be asc or desc, at most one per column.")
    lengths = list(p.get("lengths") or [])
    if len(lengths) > len(names):
        raise fl.error("column_index_invalid", "At most one length per column.")
    return {
        "key": key,
        "type": kind,
        "columns": names,
        "orders": orders,  # as sent, as Appwrite keeps them (the CLI's "ASC", the SDK's "asc")
        "lengths": lengths,
        "description": p.get("description") or "",
    }


def insert_index(
    conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, p: Mapping[str, Any]
) -> st.Doc:
    """Validate and store a new index's record (in ``processing``: :func:`finish_index` builds it)."""
    table = get_table(conn, project, fl, database_id, table_id)
    index = validate_index(conn, project, fl, table, p)
    index["status"], index["error"] = "processing", ""
    conflict = fl.error("column_index_already_exists", f"Index with the requested key '{index['key']}' already exists.")
    return st.meta_insert(conn, project, "index", f"{database_id}/{table_id}", index["key"], index, conflict=conflict)


def delete_index(conn: sqlite3.Connection, project: str, fl: Flavor, database_id: str, table_id: str, key: str) -> None:
    table, doc = get_index(conn, project, fl, database_id, table_id, key)
    drop_index(conn, table, doc)
    st.meta_delete(conn, project, "index", f"{database_id}/{table_id}", doc["key"])


def _index_name(table: Mapping[str, Any], index: Mapping[str, Any]) -> str:
    return f"i_{int(table['$sequence'])}_{int(index['$sequence'])}"


def build_index(conn: sqlite3.Connection, table: Mapping[str, Any], index: Mapping[str, Any]) -> None:
    if index["type"] == "fulltext":
        return  # search scans with qx_search; the index record is what enables it
    parts = []
    for i, name in enumerate(index["columns"]):
        order = index["orders"][i].upper() if i < len(index["orders"]) else ""
        parts.append(f"{column_sql(name)} {order}".strip())
    unique = "UNIQUE " if index["type"] == "unique" else ""
    conn.execute(
        f"CREATE {unique}INDEX IF NOT EXISTS {_index_name(table, index)} ON {row_table(table)} ({', '.join(parts)})"
    )


def drop_index(conn: sqlite3.Connection, table: Mapping[str, Any], index: Mapping[str, Any]) -> None:
    conn.execute(f"DROP INDEX IF EXISTS {_index_name(table, index)}")


def finish_index(store: st.Store, project: str, database_id: str, table_id: str, key: str) -> None:
    """The worker's job after an index is created: build it, or mark it failed when rows break it."""
    parent = f"{database_id}/{table_id}"
    with store.tx() as conn:
        table = st.meta_get(conn, project, "table", database_id, table_id)
        doc = st.meta_get(conn, project, "index", parent, key)
        if table is None or doc is None or doc["status"] != "processing":
            return
        conn.execute("SAVEPOINT build_index")
        try:
            build_index(conn, table, doc)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO build_index")
            doc["status"], doc["error"] = "failed", "Existing rows have duplicate values for a unique index."
        else:
            doc["status"] = "available"
        conn.execute("RELEASE build_index")
        st.meta_save(conn, project, "index", parent, doc)
