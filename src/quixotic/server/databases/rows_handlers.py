"""HTTP handlers of rows (documents): get, list, create, upsert, update, delete, their bulk forms, and
atomic increment/decrement. Each request is one SQLite transaction, so a bulk write that fails on any
row writes nothing, and concurrent increments of one row never lose an update. With a ``transactionId``
a write is staged in that transaction instead, and a read sees its uncommitted changes (``transactions``).
Callers without a key are checked against table and row permissions (``access``)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import store as st
from quixotic.server import validation
from quixotic.server.context import Ctx
from quixotic.server.databases import access, perm_index, rows
from quixotic.server.databases import columns as cols
from quixotic.server.databases.flavor import Flavor, flavored
from quixotic.server.databases.transactions import in_transaction
from quixotic.server.ids import custom_id, validate_id
from quixotic.server.registry import Encoded, Reply, handles

MAX_BULK = 1000  # rows per bulk write, beyond which Appwrite asks you to split the request


@contextmanager
def _on_table(ctx: Ctx, p: Mapping[str, Any], fl: Flavor) -> Iterator[tuple[sqlite3.Connection, rows.Target]]:
    """The transaction of a row write, and the table it addresses (a read's is :func:`_read_target`).

    A table of an older data folder gets its permissions side table on first use (``perm_index.ensure``): in a
    write's own transaction; after a read (which may not write: until then its list tests the JSON), on the
    worker."""
    with ctx.store.tx() as conn:
        t = rows.target(conn, ctx.project, fl, p["databaseId"], p[fl.table_param])
        if not t.indexed:
            perm_index.ensure(conn, ctx.project, t.sql)
            t = dataclasses.replace(t, indexed=True)
        access.check_enabled(ctx.caller, t)
        yield conn, t


def _read_target(ctx: Ctx, conn: sqlite3.Connection, p: Mapping[str, Any], fl: Flavor) -> rows.Target:
    """The table a read addresses, on ``conn``; its permissions side table, where it has none yet, built on the
    worker (see ``_on_table``). A plain function, not a context manager: row GETs and lists are the most
    frequent requests."""
    t = rows.target(conn, ctx.project, fl, p["databaseId"], p[fl.table_param])
    if not t.indexed:
        store, project, row_sql = ctx.store, ctx.project, t.sql
        ctx.worker.submit(lambda: perm_index.build(store, project, row_sql))
    access.check_enabled(ctx.caller, t)
    return t


def _emit_each(ctx: Ctx, t: rows.Target, action: str, out: list[dict[str, Any]]) -> None:
    for row in out:
        ctx.emit(t.event(row["$id"], action), row)


def _row_permissions(value: list[str] | None) -> list[str] | None:
    return validation.permissions(value, validation.ITEM_ACTIONS)


def _data_param(t: rows.Target, value: Any, required: bool = True) -> dict[str, Any]:
    if value is None:
        if required:
            raise t.fl.error("row_missing_data", f"The {t.fl.row} data is missing. Send `data` as a JSON object.")
        return {}
    if not isinstance(value, dict):
        raise ApiError("general_argument_invalid", "Invalid `data` param: Value must be a valid JSON object")
    return value


def _split_item(t: rows.Target, item: Any) -> tuple[str, dict[str, Any], list[str] | None]:
    """A bulk item ``{"$id"?, "$permissions"?, ...data}`` as (id, data, permissions)."""
    if not isinstance(item, dict):
        raise ApiError("general_argument_invalid", f"Invalid `{t.fl.rows}` param: each item must be a JSON object")
    try:  # Appwrite checks bulk items itself, so their errors are "bad request", not "invalid param"
        row_id = custom_id(item.get("$id") or "unique()", "$id")
        checked = _row_permissions(item.get("$permissions"))
    except ApiError as exc:
        raise ApiError("general_bad_request", exc.message) from None
    data = {k: v for k, v in item.items() if not k.startswith("$") or k in rows.STAMPS}
    return row_id, data, checked


def _bulk_items_raw(p: Mapping[str, Any], name: str) -> list[Any]:
    items = p.get(name)
    if not isinstance(items, list) or not items:
        raise ApiError("general_argument_invalid", f"Invalid `{name}` param: give a non-empty array of objects")
    if len(items) > MAX_BULK:
        raise ApiError("general_argument_invalid", f"Invalid `{name}` param: at most {MAX_BULK} items per request")
    return items


# --- single rows --------------------------------------------------------------------------------


@handles("tablesDBCreateRow", "databasesCreateDocument")
@in_transaction
@flavored
def create_row(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
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
        access.refuse_bulk(ctx.caller, f"create {fl.rows} in bulk")
        return _create_rows(ctx, p, fl)
    if not p.get(fl.row_param):
        raise fl.error("row_missing_data", f"{fl.row.capitalize()} ID is required when creating a single {fl.row}.")
    row_id = custom_id(p[fl.row_param], fl.row_param)
    given = _row_permissions(p.get("permissions"))
    with _on_table(ctx, p, fl) as (conn, t):
        access.require_create(ctx.caller, t)
        perms = access.new_permissions(ctx.caller, given)
        raw = _data_param(t, p.get("data"))
        checked = cols.check_row(t.columns, raw, partial=False)
        doc = rows.insert(conn, t, row_id, checked, perms, rows.stamps(t, raw))
        out = rows.render(t, doc)
    ctx.emit(t.event(row_id, "create"), out)
    return out


def _create_rows(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    items = _bulk_items_raw(p, fl.rows)
    with _on_table(ctx, p, fl) as (conn, t):
        out = []
        for item in items:
            row_id, data, perms = _split_item(t, item)
            checked = cols.check_row(t.columns, data, partial=False)
            out.append(rows.render(t, rows.insert(conn, t, row_id, checked, perms or [], rows.stamps(t, data))))
    _emit_each(ctx, t, "create", out)
    return Reply({"total": len(out), fl.rows: out}, status=201)


def _by_sql(ctx: Ctx, fl: Flavor) -> rows.SqlAnswer | None:
    """How a read's rows are answered as SQLite builds them (``rows.sql_answer``), if they are: not under the
    writer lock, as a transaction's replay reads the rows of the answer back (``transactions``)."""
    return None if ctx.store.lock.held() else rows.sql_answer(ctx.fmt, fl)


@handles("tablesDBGetRow", "databasesGetDocument")
@in_transaction
@flavored
def get_row(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    row_id = p[fl.row_param]
    with ctx.store.read() as conn:
        t = _read_target(ctx, conn, p, fl)
        select = rows.select_of(p.get("queries"), t.fields)
        # As a list's rows (``list_rows``): built by SQLite where it can.
        how = _by_sql(ctx, fl)
        found = rows.encoded_row(conn, t, row_id, select, how) if how is not None else None
        if found is not None:
            body, permissions = found
            access.require(ctx.caller, t, {"$id": row_id, "$permissions": permissions}, "read")
            return Encoded(body)
        doc = rows.require(conn, t, row_id)
        access.require(ctx.caller, t, doc, "read")
    return rows.render(t, doc, select)


@handles("tablesDBListRows", "databasesListDocuments")
@in_transaction
@flavored
def list_rows(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with ctx.store.read() as conn:
        t = _read_target(ctx, conn, p, fl)
        where, params = access.list_filter(ctx.caller, t)
        page = st.plan_page(conn, t.sql, where, params, p["queries"], t.fields, total=p["total"] is not False,
                            count_unfiltered=access.list_count(ctx.caller, t))  # fmt: skip
        how = _by_sql(ctx, fl)
        if how is not None:
            body = rows.encoded_list(conn, t, page, how)
            if body is not None:
                return Encoded(body)
        docs = [st.to_doc(r) for r in st.page_rows(conn, page)]
    return {"total": page.total, fl.rows: [rows.render(t, d, page.select) for d in docs]}


@handles("tablesDBUpsertRow", "databasesUpsertDocument")
@in_transaction
@flavored
def upsert_row(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    row_id = validate_id(p[fl.row_param], fl.row_param)
    perms = _row_permissions(p.get("permissions"))
    with _on_table(ctx, p, fl) as (conn, t):
        if not ctx.caller.is_key:
            perms = _upsert_permissions(ctx, conn, t, row_id, perms)
        doc, action = rows.upsert(conn, t, row_id, _data_param(t, p.get("data"), required=False), perms)
        out = rows.render(t, doc)
    ctx.emit(t.event(row_id, action), out)
    return out


def _upsert_permissions(
    ctx: Ctx, conn: sqlite3.Connection, t: rows.Target, row_id: str, perms: list[str] | None
) -> list[str] | None:
    """What a client's upsert may do, as Appwrite's ``Upsert.php``: a new row needs the table's create and
    gets the creator's permissions by default, an existing one needs update and keeps its own; either way
    the resulting permissions may only name the caller's roles."""
    existing = rows.fetch(conn, t, row_id)
    if existing is None:
        access.require_create(ctx.caller, t)
        return access.new_permissions(ctx.caller, perms)
    access.require(ctx.caller, t, existing, "update")
    ctx.caller.check_grants(existing["$permissions"] if perms is None else perms)
    return perms


@handles("tablesDBUpdateRow", "databasesUpdateDocument")
@in_transaction
@flavored
def update_row(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with _on_table(ctx, p, fl) as (conn, t):
        doc = rows.require(conn, t, p[fl.row_param])
        access.require(ctx.caller, t, doc, "update")
        data = _data_param(t, p.get("data"), required=False)
        if not data and p.get("permissions") is None:
            raise t.fl.error("row_missing_payload", "Nothing to update: send `data` and/or `permissions`.")
        doc.update(cols.check_row(t.columns, data, partial=True))
        perms = _row_permissions(p.get("permissions"))
        ctx.caller.check_grants(perms)
        if perms is not None:
            doc["$permissions"] = perms
        out = rows.render(t, rows.write(conn, t, doc, rows.stamps(t, data)))
    ctx.emit(t.event(doc["$id"], "update"), out)
    return out


@handles("tablesDBDeleteRow", "databasesDeleteDocument")
@in_transaction
@flavored
def delete_row(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    with _on_table(ctx, p, fl) as (conn, t):
        doc = rows.require(conn, t, p[fl.row_param])
        access.require(ctx.caller, t, doc, "delete")
        rows.delete(conn, t, [doc["$id"]])
    ctx.emit(t.event(doc["$id"], "delete"), rows.render(t, doc))
    return None


# --- bulk ---------------------------------------------------------------------------------------


@handles("tablesDBUpsertRows", "databasesUpsertDocuments")
@in_transaction
@flavored
def upsert_rows(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    access.refuse_bulk(ctx.caller, f"upsert {fl.rows} in bulk")
    items = _bulk_items_raw(p, fl.rows)
    events = []
    with _on_table(ctx, p, fl) as (conn, t):
        out = []
        for item in items:
            row_id, data, perms = _split_item(t, item)
            doc, action = rows.upsert(conn, t, row_id, data, perms)
            rendered = rows.render(t, doc)
            out.append(rendered)
            events.append((t.event(row_id, action), rendered))
    for name, payload in events:
        ctx.emit(name, payload)
    return {"total": len(out), fl.rows: out}


@handles("tablesDBUpdateRows", "databasesUpdateDocuments")
@in_transaction
@flavored
def update_rows(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    access.refuse_bulk(ctx.caller, f"update {fl.rows} in bulk")
    with _on_table(ctx, p, fl) as (conn, t):
        changes = cols.check_row(t.columns, _data_param(t, p.get("data"), required=False), partial=True)
        out = []
        for doc in rows.matching(conn, t, p.get("queries")):
            doc.update(changes)
            out.append(rows.render(t, rows.write(conn, t, doc)))
    _emit_each(ctx, t, "update", out)
    return {"total": len(out), fl.rows: out}


@handles("tablesDBDeleteRows", "databasesDeleteDocuments")
@in_transaction
@flavored
def delete_rows(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    access.refuse_bulk(ctx.caller, f"delete {fl.rows} in bulk")
    with _on_table(ctx, p, fl) as (conn, t):
        docs = rows.matching(conn, t, p.get("queries"))
        rows.delete(conn, t, [d["$id"] for d in docs])
        out = [rows.render(t, d) for d in docs]
    _emit_each(ctx, t, "delete", out)
    return {"total": len(out), fl.rows: out}


# --- atomic numeric changes ---------------------------------------------------------------------


@handles(
    "tablesDBIncrementRowColumn",
    "tablesDBDecrementRowColumn",
    "databasesIncrementDocumentAttribute",
    "databasesDecrementDocumentAttribute",
)
@in_transaction
@flavored
def change_number(ctx: Ctx, p: dict[str, Any], fl: Flavor) -> Any:
    decrement = "Decrement" in ctx.op.id
    key = p[fl.column_param]
    value = 1 if p.get("value") is None else p["value"]
    if value <= 0:
        raise ApiError("general_argument_invalid", "Invalid `value` param: Value must be greater than 0")
    bound = p.get("min") if decrement else p.get("max")
    with _on_table(ctx, p, fl) as (conn, t):
        col = t.columns.get(key)
        if col is None:
            raise t.fl.error("column_not_found", f"{fl.column.capitalize()} '{key}' could not be found.")
        if col["type"] not in ("integer", "double") or col.get("array"):
            raise t.fl.error("column_type_invalid", f"{fl.column.capitalize()} '{key}' is not a number column.")
        doc = rows.require(conn, t, p[fl.row_param])
        access.require(ctx.caller, t, doc, "update")
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
        out = rows.render(t, rows.write(conn, t, doc))
    ctx.emit(t.event(doc["$id"], "update"), out)
    return out
