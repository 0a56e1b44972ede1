"""Rows (documents): get, list, create, upsert, update, delete, their bulk forms, and atomic
increment/decrement. Each request is one SQLite transaction, so a bulk write that fails on any row
writes nothing, and concurrent increments of one row never lose an update."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import queries as q
from quixotic.server import schema
from quixotic.server import store as st
from quixotic.server.clock import normalize_iso, now_iso
from quixotic.server.context import Ctx
from quixotic.server.flavor import Flavor, flavor_of, flavored
from quixotic.server.ids import custom_id, validate_id
from quixotic.server.queries import Field
from quixotic.server.routes import Reply, handles
from quixotic.server.routes.databases import (
    columns_of,
    get_table,
    indexes_of,
    query_fields,
    row_permissions,
    row_table,
)

MAX_BULK = 1000  # rows per bulk write, beyond which Appwrite asks you to split the request


@dataclass(frozen=True)
class Target:
    """The table a row request addresses, with what validating and querying its rows needs."""

    fl: Flavor
    database_id: str
    table: st.Doc
    columns: dict[str, st.Doc]  # available columns by key
    fields: dict[str, Field]

    @property
    def sql(self) -> str:
        return row_table(self.table)

    def event(self, row_id: str, action: str) -> str:
        return f"databases.{self.database_id}.tables.{self.table['$id']}.rows.{row_id}.{action}"


def _target(conn: sqlite3.Connection, ctx: Ctx, p: Mapping[str, Any]) -> Target:
    fl = flavor_of(ctx.op.id)
    database_id, table_id = p["databaseId"], p[fl.table_param]
    table = get_table(conn, ctx, fl, database_id, table_id)
    cols = columns_of(conn, ctx, database_id, table_id)
    fields = query_fields(cols, indexes_of(conn, ctx, database_id, table_id))
    available = {c["key"]: c for c in cols if c["status"] == "available"}
    return Target(fl, database_id, table, available, fields)


def render_row(t: Target, doc: Mapping[str, Any], select: Sequence[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "$id": doc["$id"],
        "$sequence": doc["$sequence"],
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


def _error(t: Target, exc: sqlite3.IntegrityError, row_id: str) -> ApiError:
    if "._uid" in str(exc):
        return t.fl.error(
            "row_already_exists", f"{t.fl.row.capitalize()} with the requested ID '{row_id}' already exists."
        )
    return t.fl.error(
        "row_unique_constraint_violation",
        f"{t.fl.row.capitalize()} '{row_id}' has a value that already exists in a unique index.",
    )


def _fetch(conn: sqlite3.Connection, t: Target, row_id: str) -> st.Doc | None:
    row = conn.execute(
        f"SELECT _seq, _uid, _createdAt, _updatedAt, _permissions, data FROM {t.sql} WHERE _uid=?", (row_id,)
    ).fetchone()
    return st.to_doc(row) if row else None


def _require(conn: sqlite3.Connection, t: Target, row_id: str) -> st.Doc:
    doc = _fetch(conn, t, row_id)
    if doc is None:
        raise t.fl.error(
            "row_not_found", f"{t.fl.row.capitalize()} with the requested ID '{row_id}' could not be found."
        )
    return doc


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in data.items() if not k.startswith("$")}, separators=(",", ":"))


STAMPS = ("$createdAt", "$updatedAt")


def _stamps(t: Target, raw: Mapping[str, Any] | None) -> dict[str, str]:
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


def _insert(
    conn: sqlite3.Connection,
    t: Target,
    row_id: str,
    data: dict[str, Any],
    perms: list[str],
    stamps: Mapping[str, str] | None = None,
) -> st.Doc:
    now = now_iso()
    created = (stamps or {}).get("$createdAt", now)
    updated = (stamps or {}).get("$updatedAt", now)
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


def _write(conn: sqlite3.Connection, t: Target, doc: st.Doc, stamps: Mapping[str, str] | None = None) -> st.Doc:
    doc["$updatedAt"] = (stamps or {}).get("$updatedAt") or now_iso()
    if stamps and "$createdAt" in stamps:
        doc["$createdAt"] = stamps["$createdAt"]
    try:
        conn.execute(
            f"UPDATE {t.sql} SET _createdAt=?, _updatedAt=?, _permissions=?, data=? WHERE _uid=?",
            (doc["$createdAt"], doc["$updatedAt"], json.dumps(doc["$permissions"]), _dump(doc), doc["$id"]),
        )
    except sqlite3.IntegrityError as exc:
        raise _error(t, exc, doc["$id"]) from exc
    return doc


def _data_param(t: Target, value: Any, required: bool = True) -> dict[str, Any]:
    if value is None:
        if required:
            raise t.fl.error("row_missing_data", f"The {t.fl.row} data is missing. Send `data` as a JSON object.")
        return {}
    if not isinstance(value, dict):
        raise ApiError("general_argument_invalid", "Invalid `data` param: Value must be a valid JSON object")
    return value


def _split_item(t: Target, item: Any) -> tuple[str, dict[str, Any], list[str] | None]:
    """A bulk item ``{"$id"?, "$permissions"?, ...data}`` as (id, data, permissions)."""
    if not isinstance(item, dict):
        raise ApiError("general_argument_invalid", f"Invalid `{t.fl.rows}` param: each item must be a JSON object")
    try:  # Appwrite checks bulk items itself, so their errors are "bad request", not "invalid param"
        row_id = custom_id(item.get("$id") or "unique()", "$id")
        perms = item.get("$permissions")
        checked = row_permissions(perms, table_level=False) if perms is not None else None
    except ApiError as exc:
        raise ApiError("general_bad_request", exc.message) from None
    data = {k: v for k, v in item.items() if not k.startswith("$") or k in STAMPS}
    return row_id, data, checked


# --- single rows --------------------------------------------------------------------------------


@handles("tablesDBCreateRow", "databasesCreateDocument")
@flavored
def create_row(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    # Single or bulk, decided as Appwrite does: by which of `data` / `rows` is non-empty.
    data, items = p.get("data"), p.get(fl.rows)
    if not data and not items:
        raise fl.error("row_missing_data", f"The {fl.row} data is missing. Send `data` as a non-empty JSON object.")
    if data and items:
        raise ApiError("general_bad_request", f"You can only send one of the following parameters: data, {fl.rows}")
    if items:
        if p.get(fl.row_param):
            raise ApiError(
                "general_bad_request",
                f'Param "{fl.row_param}" is not allowed when creating multiple {fl.rows}, set "$id" on each instead.',
            )
        if p.get("permissions"):
            raise ApiError(
                "general_bad_request",
                f'Param "permissions" is disallowed when creating multiple {fl.rows}, set "$permissions" on '
                "each instead",
            )
        return _create_rows(ctx, p)
    if not p.get(fl.row_param):
        raise fl.error("row_missing_data", f"{fl.row.capitalize()} ID is required when creating a single {fl.row}.")
    row_id = custom_id(p[fl.row_param], fl.row_param)
    perms = row_permissions(p.get("permissions"), table_level=False)
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        raw = _data_param(t, p.get("data"))
        data = schema.check_row(t.columns, raw, partial=False)
        doc = _insert(conn, t, row_id, data, perms, _stamps(t, raw))
        out = render_row(t, doc)
    ctx.emit(t.event(row_id, "create"), out)
    return out


def _create_rows(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    items = _bulk_items_raw(p, fl.rows)
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        out = []
        for item in items:
            row_id, data, perms = _split_item(t, item)
            checked = schema.check_row(t.columns, data, partial=False)
            out.append(render_row(t, _insert(conn, t, row_id, checked, perms or [], _stamps(t, data))))
    for row in out:
        ctx.emit(t.event(row["$id"], "create"), row)
    return Reply({"total": len(out), fl.rows: out}, status=201)


def _bulk_items_raw(p: Mapping[str, Any], name: str) -> list[Any]:
    items = p.get(name)
    if not isinstance(items, list) or not items:
        raise ApiError("general_argument_invalid", f"Invalid `{name}` param: give a non-empty array of objects")
    if len(items) > MAX_BULK:
        raise ApiError("general_argument_invalid", f"Invalid `{name}` param: at most {MAX_BULK} items per request")
    return items


@handles("tablesDBGetRow", "databasesGetDocument")
@flavored
def get_row(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.read() as conn:
        t = _target(conn, ctx, p)
        doc = _require(conn, t, p[fl.row_param])
    select = _select_of(p.get("queries"), t.fields)
    return render_row(t, doc, select)


def _select_of(raw: Sequence[str] | None, fields: Mapping[str, Field]) -> list[str] | None:
    if not raw:
        return None
    compiled = q.compile_queries(q.parse_queries(list(raw)), fields)
    return compiled.select


@handles("tablesDBListRows", "databasesListDocuments")
@flavored
def list_rows(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.read() as conn:
        t = _target(conn, ctx, p)
        total, docs, select = st.list_docs(conn, t.sql, "1", [], p["queries"], t.fields, total=p["total"] is not False)
    return {"total": total, fl.rows: [render_row(t, d, select) for d in docs]}


@handles("tablesDBUpsertRow", "databasesUpsertDocument")
@flavored
def upsert_row(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    row_id = validate_id(p[fl.row_param], fl.row_param)
    perms = row_permissions(p["permissions"], table_level=False) if p.get("permissions") is not None else None
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        doc, action = _upsert(conn, t, row_id, _data_param(t, p.get("data"), required=False), perms)
        out = render_row(t, doc)
    ctx.emit(t.event(row_id, action), out)
    return out


def _upsert(
    conn: sqlite3.Connection, t: Target, row_id: str, data: dict[str, Any], perms: list[str] | None
) -> tuple[st.Doc, str]:
    """Create the row, or update it if it exists: the given columns (and permissions, when given)
    change, the others keep their values, as Appwrite's upsert does."""
    existing = _fetch(conn, t, row_id)
    stamps = _stamps(t, data)
    if existing is None:
        checked = schema.check_row(t.columns, data, partial=False)
        return _insert(conn, t, row_id, checked, perms or [], stamps), "create"
    doc = {k: v for k, v in existing.items() if k.startswith("$") or k in t.columns}
    doc.update(schema.check_row(t.columns, data, partial=True))
    if perms is not None:
        doc["$permissions"] = perms
    return _write(conn, t, doc, stamps), "update"


@handles("tablesDBUpdateRow", "databasesUpdateDocument")
@flavored
def update_row(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        doc = _require(conn, t, p[fl.row_param])
        data = _data_param(t, p.get("data"), required=False)
        if not data and p.get("permissions") is None:
            raise t.fl.error("row_missing_payload", "Nothing to update: send `data` and/or `permissions`.")
        doc.update(schema.check_row(t.columns, data, partial=True))
        if p.get("permissions") is not None:
            doc["$permissions"] = row_permissions(p["permissions"], table_level=False)
        out = render_row(t, _write(conn, t, doc, _stamps(t, data)))
    ctx.emit(t.event(doc["$id"], "update"), out)
    return out


@handles("tablesDBDeleteRow", "databasesDeleteDocument")
@flavored
def delete_row(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        doc = _require(conn, t, p[fl.row_param])
        conn.execute(f"DELETE FROM {t.sql} WHERE _uid=?", (doc["$id"],))
    ctx.emit(t.event(doc["$id"], "delete"), render_row(t, doc))
    return None


# --- bulk ---------------------------------------------------------------------------------------


@handles("tablesDBUpsertRows", "databasesUpsertDocuments")
@flavored
def upsert_rows(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    items = _bulk_items_raw(p, fl.rows)
    events = []
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        out = []
        for item in items:
            row_id, data, perms = _split_item(t, item)
            doc, action = _upsert(conn, t, row_id, data, perms)
            rendered = render_row(t, doc)
            out.append(rendered)
            events.append((t.event(row_id, action), rendered))
    for name, payload in events:
        ctx.emit(name, payload)
    return {"total": len(out), fl.rows: out}


def _matching(conn: sqlite3.Connection, t: Target, raw_queries: Sequence[str] | None) -> list[st.Doc]:
    """Every row matching the filter queries (bulk update/delete act on all of them, page by page)."""
    parsed = q.parse_queries(list(raw_queries or []))
    filters = [x for x in parsed if x.method not in ("limit", "offset", "cursorAfter", "cursorBefore", "select")]
    compiled = q.compile_queries(filters, t.fields)
    limit = next((int(x.values[0]) for x in parsed if x.method == "limit"), None)
    sql = (
        f"SELECT _seq, _uid, _createdAt, _updatedAt, _permissions, data FROM {t.sql} "
        f"WHERE {compiled.where} ORDER BY _seq"
    )
    params: list[Any] = list(compiled.params)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [st.to_doc(r) for r in conn.execute(sql, params).fetchall()]


@handles("tablesDBUpdateRows", "databasesUpdateDocuments")
@flavored
def update_rows(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        changes = schema.check_row(t.columns, _data_param(t, p.get("data"), required=False), partial=True)
        out = []
        for doc in _matching(conn, t, p.get("queries")):
            doc.update(changes)
            out.append(render_row(t, _write(conn, t, doc)))
    for row in out:
        ctx.emit(t.event(row["$id"], "update"), row)
    return {"total": len(out), fl.rows: out}


@handles("tablesDBDeleteRows", "databasesDeleteDocuments")
@flavored
def delete_rows(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        docs = _matching(conn, t, p.get("queries"))
        conn.executemany(f"DELETE FROM {t.sql} WHERE _uid=?", [(d["$id"],) for d in docs])
        out = [render_row(t, d) for d in docs]
    for row in out:
        ctx.emit(t.event(row["$id"], "delete"), row)
    return {"total": len(out), fl.rows: out}


# --- atomic numeric changes ---------------------------------------------------------------------


@handles(
    "tablesDBIncrementRowColumn",
    "tablesDBDecrementRowColumn",
    "databasesIncrementDocumentAttribute",
    "databasesDecrementDocumentAttribute",
)
@flavored
def change_number(ctx: Ctx, p: dict[str, Any]) -> Any:
    fl = flavor_of(ctx.op.id)
    decrement = "Decrement" in ctx.op.id
    key = p[fl.column_param]
    value = 1 if p.get("value") is None else p["value"]
    if value <= 0:
        raise ApiError("general_argument_invalid", "Invalid `value` param: Value must be greater than 0")
    bound = p.get("min") if decrement else p.get("max")
    with ctx.store.tx() as conn:
        t = _target(conn, ctx, p)
        col = t.columns.get(key)
        if col is None:
            raise t.fl.error("column_not_found", f"{fl.column.capitalize()} '{key}' could not be found.")
        if col["type"] not in ("integer", "double") or col.get("array"):
            raise t.fl.error("column_type_invalid", f"{fl.column.capitalize()} '{key}' is not a number column.")
        doc = _require(conn, t, p[fl.row_param])
        current = doc.get(key) or 0
        new = current - value if decrement else current + value
        if col["type"] == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ApiError("general_argument_invalid", "Invalid `value` param: Value must be a valid integer")
            new = int(new)
        if bound is not None and ((decrement and new < bound) or (not decrement and new > bound)):
            # Appwrite's wording, e.g. 'tablesDB "n" has reached the maximum value of 10'
            namespace = "tablesDB" if fl.name == "tablesdb" else "databases"
            word = "minimum" if decrement else "maximum"
            raise fl.error("column_limit_exceeded", f'{namespace} "{key}" has reached the {word} value of {bound}')
        own = col.get("min") if decrement else col.get("max")
        if own is not None and ((decrement and new < own) or (not decrement and new > own)):
            # Appwrite would store a value outside the column's range here; refusing keeps rows valid.
            word = "below the minimum" if decrement else "above the maximum"
            raise fl.error(
                "column_value_invalid",
                f"Cannot {'decrement' if decrement else 'increment'} '{key}' of '{doc['$id']}' by {value}: "
                f"{current} would go {word} of {own} set on the {fl.column}.",
            )
        doc[key] = new
        out = render_row(t, _write(conn, t, doc))
    ctx.emit(t.event(doc["$id"], "update"), out)
    return out
