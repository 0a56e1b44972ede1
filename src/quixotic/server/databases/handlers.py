"""HTTP handlers of databases, tables (collections), columns (attributes) and indexes, for TablesDB and
the legacy API.

Column and index creation is asynchronous, as in Appwrite: the handler stores the definition in
``processing`` and answers 202; the worker runs the model's ``finish_*`` job, which sets ``available``
(or ``failed`` with the reason).
"""

from __future__ import annotations

from typing import Any

from quixotic.server import store as st
from quixotic.server.context import Ctx
from quixotic.server.databases import columns as cols
from quixotic.server.databases import model
from quixotic.server.databases.flavor import Flavor, flavored
from quixotic.server.ids import custom_id, validate_key
from quixotic.server.registry import handles

# --- databases ----------------------------------------------------------------------------------


@handles("tablesDBCreate", "databasesCreate")
@flavored
def create_database(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    database_id = custom_id(p["databaseId"], "databaseId")
    data = {
        "name": p["name"],
        "enabled": p["enabled"] is not False,
        "type": fl.name,
        "description": p["description"] or "",
    }
    with ctx.store.tx() as conn:
        doc = model.create_database(conn, ctx.project, database_id, data)
    ctx.emit(f"databases.{database_id}.create", model.render_database(doc))
    return model.render_database(doc)


@handles("tablesDBList", "databasesList")
@flavored
def list_databases(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        total, docs = model.list_databases(conn, ctx.project, p)
    return {"total": total, "databases": [model.render_database(d) for d in docs]}


@handles("tablesDBGet", "databasesGet")
@flavored
def get_database(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        return model.render_database(model.get_database(conn, ctx.project, p["databaseId"]))


@handles("tablesDBUpdate", "databasesUpdate")
@flavored
def update_database(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.tx() as conn:
        doc = model.update_database(
            conn, ctx.project, p["databaseId"], name=p["name"], enabled=p["enabled"], description=p["description"]
        )
    return model.render_database(doc)


@handles("tablesDBDelete", "databasesDelete")
@flavored
def delete_database(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    database_id = p["databaseId"]
    with ctx.store.tx() as conn:
        doc = model.delete_database(conn, ctx.project, database_id)
    ctx.emit(f"databases.{database_id}.delete", model.render_database(doc))
    return None


# --- tables -------------------------------------------------------------------------------------


@handles("tablesDBCreateTable", "databasesCreateCollection")
@flavored
def create_table(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    database_id = p["databaseId"]
    table_id = custom_id(p[fl.table_param], fl.table_param)
    permissions = model.table_permissions(p.get("permissions"))
    data = {
        "name": p["name"],
        "enabled": p["enabled"] is not False,
        "rowSecurity": bool(p.get(fl.security)),
        "databaseId": database_id,
        "description": p["description"] or "",
    }
    with ctx.store.tx() as conn:
        doc = model.create_table(
            conn, ctx.project, fl, database_id, table_id, data, permissions, p.get(fl.columns) or [],
            p.get("indexes") or [],
        )  # fmt: skip
        rendered = model.render_table(conn, ctx.project, fl, doc)
    ctx.emit(f"databases.{database_id}.{fl.tables}.{table_id}.create", rendered)
    return rendered


@handles("tablesDBListTables", "databasesListCollections")
@flavored
def list_tables(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        total, docs = model.list_tables(conn, ctx.project, fl, p["databaseId"], p)
        return {"total": total, fl.tables: [model.render_table(conn, ctx.project, fl, d) for d in docs]}


@handles("tablesDBGetTable", "databasesGetCollection")
@flavored
def get_table(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        doc = model.get_table(conn, ctx.project, fl, p["databaseId"], p[fl.table_param])
        return model.render_table(conn, ctx.project, fl, doc)


@handles("tablesDBUpdateTable", "databasesUpdateCollection")
@flavored
def update_table(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.tx() as conn:
        doc = model.update_table(
            conn, ctx.project, fl, p["databaseId"], p[fl.table_param], name=p.get("name"),
            permissions=p.get("permissions"), row_security=p.get(fl.security), enabled=p.get("enabled"),
            description=p["description"],
        )  # fmt: skip
        rendered = model.render_table(conn, ctx.project, fl, doc)
    ctx.emit(f"databases.{p['databaseId']}.{fl.tables}.{doc['$id']}.update", rendered)
    return rendered


@handles("tablesDBDeleteTable", "databasesDeleteCollection")
@flavored
def delete_table(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    database_id, table_id = p["databaseId"], p[fl.table_param]
    with ctx.store.tx() as conn:
        rendered = model.delete_table(conn, ctx.project, fl, database_id, table_id)
    ctx.emit(f"databases.{database_id}.{fl.tables}.{table_id}.delete", rendered)
    return None


# --- columns ------------------------------------------------------------------------------------

_CREATE_COLUMN_OPS = [
    f"{prefix}Create{name}{suffix}"
    for prefix, suffix in (("tablesDB", "Column"), ("databases", "Attribute"))
    for name in ("Boolean", "Integer", "BigInt", "Float", "String", "Varchar", "Text", "Mediumtext", "Longtext",
                 "Email", "Enum", "Url", "Ip", "Datetime")
]  # fmt: skip
_UPDATE_COLUMN_OPS = [op.replace("Create", "Update") for op in _CREATE_COLUMN_OPS]


def _segment_from_path(path: str) -> str:
    return path.rstrip("/").split("/")[-1] if "{key}" not in path else path.split("/")[-2]


@handles(*_CREATE_COLUMN_OPS)
@flavored
def create_column(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    segment = _segment_from_path(ctx.op.path)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    key = validate_key(p["key"])
    col = cols.build_column(segment, p)
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        doc = model.insert_column(conn, ctx.project, fl, database_id, table_id, key, col)
    store, project = ctx.store, ctx.project
    ctx.worker.submit(lambda: model.finish_column(store, project, parent, key))
    return model.render_column(doc)


@handles("tablesDBListColumns", "databasesListAttributes")
@flavored
def list_columns(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        total, docs = model.list_under_table(conn, ctx.project, fl, "column", p["databaseId"], p[fl.table_param], p)
    return {"total": total, fl.columns: [model.render_column(d) for d in docs]}


@handles("tablesDBGetColumn", "databasesGetAttribute")
@flavored
def get_column(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        return model.render_column(
            model.get_column(conn, ctx.project, fl, p["databaseId"], p[fl.table_param], p["key"])
        )


@handles(*_UPDATE_COLUMN_OPS)
@flavored
def update_column(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    segment = _segment_from_path(ctx.op.path)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    parent = f"{database_id}/{table_id}"
    with ctx.store.tx() as conn:
        table = model.get_table(conn, ctx.project, fl, database_id, table_id)
        doc = model.get_column(conn, ctx.project, fl, database_id, table_id, p["key"])
        if cols.segment_of(doc) != segment:
            raise fl.error(
                "column_type_invalid",
                f"{fl.column.capitalize()} '{p['key']}' is of type {cols.segment_of(doc)}, not {segment}.",
            )
        if doc["status"] != "available":
            raise fl.error("column_not_available", f"{fl.column.capitalize()} '{p['key']}' is {doc['status']}.")
        updated = cols.build_column(segment, p, existing=doc)
        if "size" in doc and updated["size"] < int(doc["size"]):
            model.check_fits(conn, table, doc["key"], updated["size"])
        new_key = p.get("newKey")
        if new_key and new_key != doc["key"]:
            validate_key(new_key, "newKey")
            if st.meta_get(conn, ctx.project, "column", parent, new_key) is not None:
                raise fl.error("column_already_exists", f"{fl.column.capitalize()} '{new_key}' already exists.")
            model.rename_column(conn, ctx.project, table, parent, doc["key"], new_key)
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
    return model.render_column(updated)


@handles("tablesDBDeleteColumn", "databasesDeleteAttribute")
@flavored
def delete_column(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    database_id, table_id = p["databaseId"], p[fl.table_param]
    with ctx.store.tx() as conn:
        doc = model.mark_column_deleting(conn, ctx.project, fl, database_id, table_id, p["key"])
    store, project, key = ctx.store, ctx.project, doc["key"]
    ctx.worker.submit(lambda: model.finish_column_delete(store, project, database_id, table_id, key))
    return None


# --- indexes ------------------------------------------------------------------------------------


@handles("tablesDBCreateIndex", "databasesCreateIndex")
@flavored
def create_index(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    database_id, table_id = p["databaseId"], p[fl.table_param]
    with ctx.store.tx() as conn:
        doc = model.insert_index(conn, ctx.project, fl, database_id, table_id, p)
    store, project, key = ctx.store, ctx.project, doc["key"]
    ctx.worker.submit(lambda: model.finish_index(store, project, database_id, table_id, key))
    return model.render_index(fl, doc)


@handles("tablesDBListIndexes", "databasesListIndexes")
@flavored
def list_indexes(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        total, docs = model.list_under_table(conn, ctx.project, fl, "index", p["databaseId"], p[fl.table_param], p)
    return {"total": total, "indexes": [model.render_index(fl, d) for d in docs]}


@handles("tablesDBGetIndex", "databasesGetIndex")
@flavored
def get_index(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        _, doc = model.get_index(conn, ctx.project, fl, p["databaseId"], p[fl.table_param], p["key"])
        return model.render_index(fl, doc)


@handles("tablesDBDeleteIndex", "databasesDeleteIndex")
@flavored
def delete_index(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.tx() as conn:
        model.delete_index(conn, ctx.project, fl, p["databaseId"], p[fl.table_param], p["key"])
    return None
