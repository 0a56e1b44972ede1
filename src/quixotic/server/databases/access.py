"""Who may do what with rows: table permissions combined with ``rowSecurity``, as Appwrite decides.

The rules are Appwrite's (``Documents/{Create,Get,XList,Update,Delete,Upsert}.php`` and utopia-php/database's
``getDocument``/``find``/``updateDocument``/``deleteDocument``): create needs the table's ``create``; read,
update and delete need the table's permission, or, with row security on, the row's own. API keys pass
every check. A row the caller may not read is not found (``row_not_found``); a write it may not do is
``user_unauthorized``. Bulk routes are for API keys only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quixotic.errors import ApiError
from quixotic.server import auth
from quixotic.server import store as st
from quixotic.server.auth import Caller
from quixotic.server.databases import perm_index, rows
from quixotic.server.validation import ITEM_ACTIONS


def check_enabled(caller: Caller, t: rows.Target) -> None:
    """A disabled database or table is not found, except for API keys (as Appwrite)."""
    if caller.is_key:
        return
    if t.database.get("enabled") is False:
        raise ApiError("database_not_found", f"Database with the requested ID '{t.database_id}' could not be found.")
    if t.table.get("enabled") is False:
        raise t.fl.error(
            "table_not_found", f"{t.fl.table.capitalize()} with the requested ID '{t.table['$id']}' could not be found."
        )


def _table_may(caller: Caller, t: rows.Target, action: str) -> bool:
    return caller.may(t.table.get("$permissions") or [], action)


def _row_security(t: rows.Target) -> bool:
    return bool(t.table.get("rowSecurity"))


def may(caller: Caller, t: rows.Target, doc: Mapping[str, Any], action: str) -> bool:
    """Whether the caller may ``action`` (read, update, delete) this row."""
    if _table_may(caller, t, action):
        return True
    return _row_security(t) and caller.may(doc.get("$permissions") or [], action)


def require_create(caller: Caller, t: rows.Target) -> None:
    if not _table_may(caller, t, "create"):
        raise auth.unauthorized(f"create {t.fl.rows} in {t.fl.table} '{t.table['$id']}'", "create", caller)


def require(caller: Caller, t: rows.Target, doc: Mapping[str, Any], action: str) -> None:
    """Raise unless the caller may ``action`` the row: not found for reads, unauthorized for writes."""
    if may(caller, t, doc, action):
        return
    if action == "read":
        raise t.fl.error(
            "row_not_found", f"{t.fl.row.capitalize()} with the requested ID '{doc['$id']}' could not be found."
        )
    raise auth.unauthorized(f"{t.fl.row} '{doc['$id']}'", action, caller)


def list_filter(caller: Caller, t: rows.Target) -> tuple[str, list[Any]]:
    """The SQL condition of the rows a list shows the caller: all with the table's read; with row security,
    otherwise only those whose own read grants it; without either, the list is refused."""
    if _table_may(caller, t, "read"):
        return "1", []
    if not _row_security(t):
        raise auth.unauthorized(f"{t.fl.table} '{t.table['$id']}'", "read", caller)
    if t.indexed:
        return perm_index.readable(t.sql, caller.roles)
    where, params = auth.readable_sql(caller)  # a table of an older folder, until its side table is made
    return where, list(params)


def list_count(caller: Caller, t: rows.Target) -> tuple[str, list[Any]] | None:
    """A quicker statement for the total of :func:`list_filter`'s rows when no query narrows them: from the
    permissions side table where row security picks them; None where the list's own count is the way."""
    if _table_may(caller, t, "read") or not _row_security(t) or not t.indexed:
        return None
    sql, params = perm_index.readable_count(t.sql, caller.roles, st.MAX_COUNT)
    return sql, list(params)


def new_permissions(caller: Caller, given: list[str] | None) -> list[str]:
    """A new row's permissions: the given ones (only roles the caller holds), else the creator's own."""
    perms = caller.own_permissions(ITEM_ACTIONS) if given is None else given
    caller.check_grants(perms)
    return perms


def refuse_bulk(caller: Caller, what: str) -> None:
    """Bulk writes are for API keys (Appwrite refuses bulk create to others with this error, and its SDKs
    offer bulk update, upsert and delete to keys only)."""
    if not caller.is_key:
        raise ApiError(
            "general_unauthorized_scope",
            f"{caller.email or 'User'} (role: {caller.role}) may not {what}: bulk writes take an API key. "
            "Write rows one at a time, or from a function or server with a key.",
        )
