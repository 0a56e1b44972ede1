"""Databases, tables (collections), columns (attributes) and indexes, for TablesDB and the legacy API.

Column and index creation is asynchronous, as in Appwrite: the handler stores the definition in
``processing`` and answers 202; the worker builds it and sets ``available`` (or ``failed`` with the
reason). Rows of a table live in their own SQLite table ``r_<table $sequence>``; indexes are real
SQLite expression indexes on it, so unique indexes are enforced by SQLite itself.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import schema
from quixotic.server import store as st
from quixotic.server.context import Ctx
from quixotic.server.flavor import Flavor, flavor_of, flavored
from quixotic.server.ids import custom_id, validate_key
from quixotic.server.queries import Field
from quixotic.server.routes import handles

SYSTEM_COLUMNS = {"$id": "_uid", "$sequence": "_seq", "$createdAt": "_createdAt", "$updatedAt": "_updatedAt"}
INDEX_TYPES = ("key", "unique", "fulltext")
_DB_FIELDS = {"name": Field("string"), "enabled": Field("boolean"), "type": Field("string")}
_TABLE_FIELDS = {"name": Field("string"), "enabled": Field("boolean"), "rowSecurity": Field("boolean")}
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


# --- lookups shared with rows -------------------------------------------------------------------


def get_database(conn: sqlite3.Connection, ctx: Ctx, database_id: str) -> st.Doc:
    doc = st.meta_get(conn, ctx.project, "database", "", database_id)
    if doc is None:
        raise ApiError("database_not_found", f"Database with the requested ID '{database_id}' could not be found.")
    return doc


def get_table(conn: sqlite3.Connection, ctx: Ctx, fl: Flavor, database_id: str, table_id: str) -> st.Doc:
    get_database(conn, ctx, database_id)
    doc = st.meta_get(conn, ctx.project, "table", database_id, table_id)
    if doc is None:
        raise fl.error(
            "table_not_found", f"{fl.table.capitalize()} with the requested ID '{table_id}' could not be found."
        )
    return doc


def row_table(table: Mapping[str, Any]) -> str:
    """The SQLite table that holds a table's rows."""
    return f"r_{int(table['$sequence'])}"


def columns_of(conn: sqlite3.Connection, ctx: Ctx, database_id: str, table_id: str) -> list[st.Doc]:
    return st.meta_all(conn, ctx.project, "column", f"{database_id}/{table_id}")


def indexes_of(conn: sqlite3.Connection, ctx: Ctx, database_id: str, table_id: str) -> list[st.Doc]:
    return st.meta_all(conn, ctx.project, "index", f"{database_id}/{table_id}")


def query_fields(columns: list[st.Doc], indexes: list[st.Doc]) -> dict[str, Field]:
    """What row queries may name: available columns, with ``fulltext`` where a fulltext index covers one."""
    fulltext = {c for i in indexes if i["type"] == "fulltext" and i["status"] == "available" for c in i["columns"]}
    return {c["key"]: schema.query_field(c, c["key"] in fulltext) for c in columns if c["status"] == "available"}


def _column_sql(key: str) -> str:
    if key in SYSTEM_COLUMNS:
        return SYSTEM_COLUMNS[key]
    return "json_extract(data, '$.\"" + key.replace('"', '""').replace("'", "''") + "\"')"


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
    }


def render_column(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = schema.render_column({k: v for k, v in doc.items() if k not in ("$id", "$sequence")})
    out.pop("$permissions", None)
    return out


def render_table(conn: sqlite3.Connection, ctx: Ctx, fl: Flavor, doc: st.Doc) -> dict[str, Any]:
    parent = doc["databaseId"]
    cols = [render_column(c) for c in columns_of(conn, ctx, parent, doc["$id"])]
    idx = [render_index(fl, i) for i in indexes_of(conn, ctx, parent, doc["$id"])]
    return fl.render_table(doc, cols, idx)


def render_database(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ("$id", "name", "$createdAt", "$updatedAt", "enabled", "type")}


# --- databases ----------------------------------------------------------------------------------


@handles("tablesDBCreate", "databasesCreate")
@flavored
def create_database(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id = custom_id(p["databaseId"], "databaseId")
    data = {"name": p["name"], "enabled": p["enabled"] is not False, "type": fl.name}
    with ctx.store.tx() as conn:
        conflict = ApiError(
            "database_already_exists", f"Database with the requested ID '{database_id}' already exists."
        )
        doc = st.meta_insert(conn, ctx.project, "database", "", database_id, data, conflict=conflict)
    ctx.emit(f"databases.{database_id}.create", render_database(doc))
    return render_database(doc)


@handles("tablesDBList", "databasesList")
@flavored
def list_databases(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='database' AND parent=''", [ctx.project], p["queries"],
            _DB_FIELDS, search=p.get("search"), search_expr="json_extract(data, '$.name') || ' ' || _uid",
            total=p["total"] is not False,
        )  # fmt: skip
    return {"total": total, "databases": [render_database(d) for d in docs]}


@handles("tablesDBGet", "databasesGet")
@flavored
def get_database_route(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.read() as conn:
        return render_database(get_database(conn, ctx, p["databaseId"]))


@handles("tablesDBUpdate", "databasesUpdate")
@flavored
def update_database(ctx: Ctx, p: dict[str, Any]) -> Any:
    with ctx.store.tx() as conn:
        doc = get_database(conn, ctx, p["databaseId"])
        if p.get("name") is not None:
            doc["name"] = p["name"]
        if p.get("enabled") is not None:
            doc["enabled"] = p["enabled"]
        st.meta_save(conn, ctx.project, "database", "", doc)
    return render_database(doc)


@handles("tablesDBDelete", "databasesDelete")
@flavored
def delete_database(ctx: Ctx, p: dict[str, Any]) -> Any:
    database_id = p["databaseId"]
    with ctx.store.tx() as conn:
        doc = get_database(conn, ctx, database_id)
        for table in st.meta_all(conn, ctx.project, "table", database_id):
            conn.execute(f"DROP TABLE IF EXISTS {row_table(table)}")
        st.meta_delete_under(conn, ctx.project, database_id)
        st.meta_delete(conn, ctx.project, "database", "", database_id)
    ctx.emit(f"databases.{database_id}.delete", render_database(doc))
    return None


# --- tables -------------------------------------------------------------------------------------


@handles("tablesDBCreateTable", "databasesCreateCollection")
@flavored
def create_table(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id = p["databaseId"]
    table_id = custom_id(p[fl.table_param], fl.table_param)
    permissions = _permissions(p.get("permissions"), table_level=True)
    inline_columns = p.get(fl.columns) or []
    inline_indexes = p.get("indexes") or []
    with ctx.store.tx() as conn:
        get_database(conn, ctx, database_id)
        data = {
            "name": p["name"],
            "enabled": p["enabled"] is not False,
            "rowSecurity": bool(p.get(fl.security)),
            "databaseId": database_id,
        }
        conflict = fl.error(
            "table_already_exists",
            f"{fl.table.capitalize()} with the requested ID '{table_id}' already exists.",
        )
        doc = st.meta_insert(conn, ctx.project, "table", database_id, table_id, data, permissions, conflict=conflict)
        conn.execute(st.ROW_TABLE_DDL.format(name=row_table(doc)))
        parent = f"{database_id}/{table_id}"
        for spec in inline_columns:
            col = _inline_column(fl, spec)
            col["status"], col["error"] = "available", ""
            st.meta_insert(
                conn, ctx.project, "column", parent, col["key"], col,
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
            }
            index = _validate_index(conn, ctx, fl, doc, params)
            index["status"], index["error"] = "available", ""
            stored = st.meta_insert(conn, ctx.project, "index", parent, index["key"], index)
            _build_index(conn, doc, stored)
        rendered = render_table(conn, ctx, fl, doc)
    ctx.emit(f"databases.{database_id}.{fl.tables}.{table_id}.create", rendered)
    return rendered


def _inline_column(fl: Flavor, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or not isinstance(spec.get("key"), str) or not isinstance(spec.get("type"), str):
        raise ApiError("general_argument_invalid", f"Invalid `{fl.columns}` param: each needs a `key` and a `type`")
    segment = {"double": "float"}.get(spec["type"], spec["type"])
    if spec.get("format") in ("email", "enum", "url", "ip") and segment == "string":
        segment = spec["format"]
    if segment not in schema.KINDS:
        raise ApiError(
            "general_argument_invalid",
            f"Invalid `{fl.columns}` param: unsupported type '{spec['type']}'. Supported: {', '.join(schema.KINDS)}",
        )
    validate_key(spec["key"])
    return schema.build_column(segment, {"required": False, **spec})


@handles("tablesDBListTables", "databasesListCollections")
@flavored
def list_tables(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    fields = dict(_TABLE_FIELDS)
    fields[fl.security] = fields["rowSecurity"]
    with ctx.store.read() as conn:
        get_database(conn, ctx, p["databaseId"])
        queries = [q.replace('"documentSecurity"', '"rowSecurity"') for q in p["queries"] or []]
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='table' AND parent=?", [ctx.project, p["databaseId"]], queries,
            fields, search=p.get("search"), search_expr="json_extract(data, '$.name') || ' ' || _uid",
            total=p["total"] is not False,
        )  # fmt: skip
        return {"total": total, fl.tables: [render_table(conn, ctx, fl, d) for d in docs]}


@handles("tablesDBGetTable", "databasesGetCollection")
@flavored
def get_table_route(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.read() as conn:
        return render_table(conn, ctx, fl, get_table(conn, ctx, fl, p["databaseId"], p[fl.table_param]))


@handles("tablesDBUpdateTable", "databasesUpdateCollection")
@flavored
def update_table(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.tx() as conn:
        doc = get_table(conn, ctx, fl, p["databaseId"], p[fl.table_param])
        if p.get("name") is not None:
            doc["name"] = p["name"]
        if p.get("permissions") is not None:
            doc["$permissions"] = _permissions(p["permissions"], table_level=True)
        if p.get(fl.security) is not None:
            doc["rowSecurity"] = p[fl.security]
        if p.get("enabled") is not None:
            doc["enabled"] = p["enabled"]
        st.meta_save(conn, ctx.project, "table", p["databaseId"], doc)
        rendered = render_table(conn, ctx, fl, doc)
    ctx.emit(f"databases.{p['databaseId']}.{fl.tables}.{doc['$id']}.update", rendered)
    return rendered


@handles("tablesDBDeleteTable", "databasesDeleteCollection")
@flavored
def delete_table(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    with ctx.store.tx() as conn:
        doc = get_table(conn, ctx, fl, database_id, table_id)
        rendered = render_table(conn, ctx, fl, doc)
        conn.execute(f"DROP TABLE IF EXISTS {row_table(doc)}")
        st.meta_delete_under(conn, ctx.project, f"{database_id}/{table_id}")
        st.meta_delete(conn, ctx.project, "table", database_id, table_id)
    ctx.emit(f"databases.{database_id}.{fl.tables}.{table_id}.delete", rendered)
    return None


_PERMISSION_ACTIONS_ROW = ("read", "update", "delete", "write")
_PERMISSION_ACTIONS_TABLE = ("create", "read", "update", "delete", "write")


_ID = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,35}"
_ROLE_RE = re.compile(
    rf"^(any|guests|users(/(verified|unverified))?|user:{_ID}(/(verified|unverified))?"
    rf"|team:{_ID}(/{_ID})?|member:{_ID}|label:[A-Za-z0-9]{{1,36}})$"
)


def _permissions(perms: list[str] | None, table_level: bool) -> list[str]:
    """Validate permission strings like ``read("any")``; returns them de-duplicated in order."""
    actions = _PERMISSION_ACTIONS_TABLE if table_level else _PERMISSION_ACTIONS_ROW
    out: list[str] = []
    for perm in perms or []:
        action, _, rest = perm.partition("(") if isinstance(perm, str) else ("", "", "")
        role = rest[1:-2] if rest.startswith('"') and rest.endswith('")') else ""
        if action not in actions or not _ROLE_RE.match(role):
            raise ApiError(
                "general_argument_invalid",
                f"Invalid `permissions` param: '{perm}' is not a permission; use e.g. read(\"any\") "
                f"with one of: {', '.join(actions)}",
            )
        if perm not in out:
            out.append(perm)
    return out


row_permissions = _permissions


# --- columns ------------------------------------------------------------------------------------

_CREATE_COLUMN_OPS = [
    f"{prefix}Create{name}{suffix}"
    for prefix, suffix in (("tablesDB", "Column"), ("databases", "Attribute"))
    for name in ("Boolean", "Integer", "Float", "String", "Varchar", "Text", "Mediumtext", "Longtext",
                 "Email", "Enum", "Url", "Ip", "Datetime")
]  # fmt: skip


def _segment_from_path(path: str) -> str:
    return path.rstrip("/").split("/")[-1] if "{key}" not in path else path.split("/")[-2]


@handles(*_CREATE_COLUMN_OPS)
@flavored
def create_column(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    segment = _segment_from_path(ctx.op.path)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    key = validate_key(p["key"])
    col = schema.build_column(segment, p)
    col["status"], col["error"] = "processing", ""
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        get_table(conn, ctx, fl, database_id, table_id)
        if len(columns_of(conn, ctx, database_id, table_id)) >= 1000:
            raise fl.error("column_limit_exceeded", "The maximum number of columns has been reached.")
        conflict = fl.error(
            "column_already_exists", f"{fl.column.capitalize()} with the requested key '{key}' already exists."
        )
        doc = st.meta_insert(conn, ctx.project, "column", parent, key, col, conflict=conflict)
    ctx.worker.submit(lambda: _finish_column(ctx, parent, key))
    return render_column(doc)


def _finish_column(ctx: Ctx, parent: str, key: str) -> None:
    with ctx.store.tx() as conn:
        doc = st.meta_get(conn, ctx.project, "column", parent, key)
        if doc is not None and doc["status"] == "processing":
            doc["status"] = "available"
            st.meta_save(conn, ctx.project, "column", parent, doc)


@handles("tablesDBListColumns", "databasesListAttributes")
@flavored
def list_columns(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    with ctx.store.read() as conn:
        get_table(conn, ctx, fl, database_id, table_id)
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='column' AND parent=?", [ctx.project, f"{database_id}/{table_id}"],
            p["queries"], _COLUMN_FIELDS, total=p["total"] is not False,
        )  # fmt: skip
    return {"total": total, fl.columns: [render_column(d) for d in docs]}


def _get_column(conn: sqlite3.Connection, ctx: Ctx, fl: Flavor, p: Mapping[str, Any]) -> st.Doc:
    database_id, table_id = p["databaseId"], p[fl.table_param]
    get_table(conn, ctx, fl, database_id, table_id)
    doc = st.meta_get(conn, ctx.project, "column", f"{database_id}/{table_id}", p["key"])
    if doc is None:
        raise fl.error(
            "column_not_found", f"{fl.column.capitalize()} with the requested key '{p['key']}' could not be found."
        )
    return doc


@handles("tablesDBGetColumn", "databasesGetAttribute")
@flavored
def get_column(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.read() as conn:
        return render_column(_get_column(conn, ctx, fl, p))


_UPDATE_COLUMN_OPS = [op.replace("Create", "Update") for op in _CREATE_COLUMN_OPS]


@handles(*_UPDATE_COLUMN_OPS)
@flavored
def update_column(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    segment = _segment_from_path(ctx.op.path)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        table = get_table(conn, ctx, fl, database_id, table_id)
        doc = _get_column(conn, ctx, fl, p)
        if schema.segment_of(doc) != segment:
            raise fl.error(
                "column_type_invalid",
                f"{fl.column.capitalize()} '{p['key']}' is of type {schema.segment_of(doc)}, not {segment}.",
            )
        if doc["status"] != "available":
            raise fl.error("column_not_available", f"{fl.column.capitalize()} '{p['key']}' is {doc['status']}.")
        updated = schema.build_column(segment, p, existing=doc)
        if "size" in doc and updated["size"] < int(doc["size"]):
            _check_fits(conn, table, doc["key"], updated["size"])
        new_key = p.get("newKey")
        if new_key and new_key != doc["key"]:
            validate_key(new_key, "newKey")
            if st.meta_get(conn, ctx.project, "column", parent, new_key) is not None:
                raise fl.error("column_already_exists", f"{fl.column.capitalize()} '{new_key}' already exists.")
            _rename_column(conn, ctx, table, parent, doc["key"], new_key)
            st.meta_delete(conn, ctx.project, "column", parent, doc["key"])
            updated["key"] = new_key
            updated["$id"] = new_key
            stored = st.meta_insert(conn, ctx.project, "column", parent, new_key, updated)
            stored["$createdAt"] = doc["$createdAt"]
            conn.execute(
                "UPDATE meta SET _createdAt=? WHERE project=? AND kind='column' AND parent=? AND _uid=?",
                (doc["$createdAt"], ctx.project, parent, new_key),
            )
            updated = stored
        else:
            updated = st.meta_save(conn, ctx.project, "column", parent, updated)
    return render_column(updated)


def _check_fits(conn: sqlite3.Connection, table: st.Doc, key: str, size: int) -> None:
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


def _rename_column(conn: sqlite3.Connection, ctx: Ctx, table: st.Doc, parent: str, old: str, new: str) -> None:
    """Move a column's values to a new key in every row, and follow it in indexes."""
    old_path, new_path = _json_path(old), _json_path(new)
    conn.execute(
        f"UPDATE {row_table(table)} SET data = json_set(json_remove(data, ?), ?, json_extract(data, ?)) "
        "WHERE json_type(data, ?) IS NOT NULL",
        (old_path, new_path, old_path, old_path),
    )
    for index in st.meta_all(conn, ctx.project, "index", parent):
        if old in index["columns"]:
            _drop_index(conn, table, index)
            index["columns"] = [new if c == old else c for c in index["columns"]]
            st.meta_save(conn, ctx.project, "index", parent, index)
            if index["status"] == "available":
                _build_index(conn, table, index)


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '""') + '"'


@handles("tablesDBDeleteColumn", "databasesDeleteAttribute")
@flavored
def delete_column(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        doc = _get_column(conn, ctx, fl, p)
        doc["status"] = "deleting"
        st.meta_save(conn, ctx.project, "column", parent, doc)
    ctx.worker.submit(lambda: _finish_column_delete(ctx, fl, database_id, table_id, doc["key"]))
    return None


def _finish_column_delete(ctx: Ctx, fl: Flavor, database_id: str, table_id: str, key: str) -> None:
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        table = st.meta_get(conn, ctx.project, "table", database_id, table_id)
        if table is None:
            return
        for index in st.meta_all(conn, ctx.project, "index", parent):
            if key in index["columns"]:
                _drop_index(conn, table, index)
                st.meta_delete(conn, ctx.project, "index", parent, index["key"])
        conn.execute(f"UPDATE {row_table(table)} SET data = json_remove(data, ?)", (_json_path(key),))
        st.meta_delete(conn, ctx.project, "column", parent, key)


# --- indexes ------------------------------------------------------------------------------------


def _validate_index(
    conn: sqlite3.Connection, ctx: Ctx, fl: Flavor, table: st.Doc, p: Mapping[str, Any]
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
    columns = {c["key"]: c for c in columns_of(conn, ctx, table["databaseId"], table["$id"])}
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
        if kind == "fulltext" and col["type"] not in schema.STRINGY:
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
        "orders": [o.lower() for o in orders],
        "lengths": lengths,
    }


def _index_name(table: Mapping[str, Any], index: Mapping[str, Any]) -> str:
    return f"i_{int(table['$sequence'])}_{int(index['$sequence'])}"


def _build_index(conn: sqlite3.Connection, table: Mapping[str, Any], index: Mapping[str, Any]) -> None:
    if index["type"] == "fulltext":
        return  # search scans with qx_search; the index record is what enables it
    parts = []
    for i, name in enumerate(index["columns"]):
        order = index["orders"][i].upper() if i < len(index["orders"]) else ""
        parts.append(f"{_column_sql(name)} {order}".strip())
    unique = "UNIQUE " if index["type"] == "unique" else ""
    conn.execute(
        f"CREATE {unique}INDEX IF NOT EXISTS {_index_name(table, index)} ON {row_table(table)} ({', '.join(parts)})"
    )


def _drop_index(conn: sqlite3.Connection, table: Mapping[str, Any], index: Mapping[str, Any]) -> None:
    conn.execute(f"DROP INDEX IF EXISTS {_index_name(table, index)}")


@handles("tablesDBCreateIndex", "databasesCreateIndex")
@flavored
def create_index(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        table = get_table(conn, ctx, fl, database_id, table_id)
        index = _validate_index(conn, ctx, fl, table, p)
        index["status"], index["error"] = "processing", ""
        conflict = fl.error(
            "column_index_already_exists", f"Index with the requested key '{index['key']}' already exists."
        )
        doc = st.meta_insert(conn, ctx.project, "index", parent, index["key"], index, conflict=conflict)
    ctx.worker.submit(lambda: _finish_index(ctx, database_id, table_id, doc["key"]))
    return render_index(fl, doc)


def _finish_index(ctx: Ctx, database_id: str, table_id: str, key: str) -> None:
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        table = st.meta_get(conn, ctx.project, "table", database_id, table_id)
        doc = st.meta_get(conn, ctx.project, "index", parent, key)
        if table is None or doc is None or doc["status"] != "processing":
            return
        conn.execute("SAVEPOINT build_index")
        try:
            _build_index(conn, table, doc)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO build_index")
            doc["status"], doc["error"] = "failed", "Existing rows have duplicate values for a unique index."
        else:
            doc["status"] = "available"
        conn.execute("RELEASE build_index")
        st.meta_save(conn, ctx.project, "index", parent, doc)


@handles("tablesDBListIndexes", "databasesListIndexes")
@flavored
def list_indexes(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    with ctx.store.read() as conn:
        get_table(conn, ctx, fl, database_id, table_id)
        total, docs, _ = st.list_docs(
            conn, "meta", "project=? AND kind='index' AND parent=?", [ctx.project, f"{database_id}/{table_id}"],
            p["queries"], _INDEX_FIELDS, total=p["total"] is not False,
        )  # fmt: skip
    return {"total": total, "indexes": [render_index(fl, d) for d in docs]}


def _get_index(conn: sqlite3.Connection, ctx: Ctx, fl: Flavor, p: Mapping[str, Any]) -> tuple[st.Doc, st.Doc]:
    database_id, table_id = p["databaseId"], p[fl.table_param]
    table = get_table(conn, ctx, fl, database_id, table_id)
    doc = st.meta_get(conn, ctx.project, "index", f"{database_id}/{table_id}", p["key"])
    if doc is None:
        raise fl.error("column_index_not_found", f"Index with the requested key '{p['key']}' could not be found.")
    return table, doc


@handles("tablesDBGetIndex", "databasesGetIndex")
@flavored
def get_index(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.read() as conn:
        return render_index(fl, _get_index(conn, ctx, fl, p)[1])


@handles("tablesDBDeleteIndex", "databasesDeleteIndex")
@flavored
def delete_index(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.tx() as conn:
        table, doc = _get_index(conn, ctx, fl, p)
        _drop_index(conn, table, doc)
        st.meta_delete(conn, ctx.project, "index", f"{p['databaseId']}/{p[fl.table_param]}", doc["key"])
    return None
